"""The servers app's job kinds, one declaration each: its steps in order, what each step calls with
which arguments, the Celery task (one per PVE operation) each step runs in, what a failure means
for the server, and how a failed job is retried.

``ServersConfig.ready()`` registers them with the engine (``panel.jobs``) in every process. The
services (``servers.services``) record a job from its kind's declaration; the Celery tasks
(``servers.tasks``, thin) are the ``JobTask``s below; the step handlers are in ``servers.steps``.
Another app adds its kinds the same way: its own ``<app>/jobs.py``, registered in its ``ready()``.
"""

from __future__ import annotations

from functools import partial

from django.conf import settings

from panel.jobs import JobDefinition, JobTask, StepDef
from panel.models import JobKind
from servers.services import (
    server_action_retry,
    server_create_retry,
    server_delete,
    server_power_retry,
    server_resize_retry,
    server_retry_refused_for_password,
    server_suspend,
    server_sync,
    server_unsuspend,
)
from servers.steps import (
    server_after_failure,
    step_apply,
    step_clone,
    step_configure,
    step_destroy,
    step_finish,
    step_power,
    step_remove_record,
    step_resize_disk,
    step_set_password,
    step_start,
    step_stop,
    step_sync,
)


def _operation(name: str, *, waits_on: str) -> JobTask:
    """The Celery task ``servers.tasks.<name>``; its time limits follow the longest PVE wait of
    its steps (``PROXMOX_TASK_TIMEOUTS_S[waits_on]``)."""
    return JobTask(name=f"servers.tasks.{name}", wait_s=settings.PROXMOX_TASK_TIMEOUTS_S[waits_on])


# --- the Celery tasks: one per PVE operation ----------------------------------------------------

CLONE = _operation("clone", waits_on="clone")
CONFIGURE = _operation("configure", waits_on="configure")
RESIZE = _operation("resize", waits_on="resize")
START = _operation("start", waits_on="power")
STOP = _operation("stop", waits_on="power")
POWER = _operation("power", waits_on="power")
REBOOT = _operation("reboot", waits_on="power")
SET_PASSWORD = _operation("set_password", waits_on="configure")
# Destroying the VM, then removing the server's record once PVE confirmed it.
DESTROY = _operation("destroy", waits_on="delete")
# Reading the VM's config and status back (no PVE task to wait on).
READ_BACK = _operation("read_back", waits_on="configure")


def _asks_cpu_or_memory(params) -> bool:
    return "cpu_cores" in params or "memory_mib" in params


def _restarts_to_apply(params) -> bool:
    """A resize asked to restart a running server so CPU and memory PVE keeps pending apply."""
    return bool(params.get("restart")) and _asks_cpu_or_memory(params)


def _asks_disk(params) -> bool:
    return "disk_gib" in params


def _power_label(params) -> str:
    return f"Power: {params['action']}"


# --- the steps a new VM is built with (a create, and a rebuild after the old VM is gone) ---------

_BUILD = (
    StepDef("clone", "Clone the template", CLONE, step_clone),
    StepDef(
        "configure",
        "Configure CPU, memory and cloud-init",
        CONFIGURE,
        step_configure,
        kwargs={"new_vm": True},
    ),
    StepDef("resize_disk", "Resize the disk", RESIZE, step_resize_disk),
    StepDef("start", "Start the server", START, step_start),
)

# The last step of every job that asked for sizes: store what PVE holds, and fail unless it holds
# (running or pending) what was asked.
_READ_BACK_ASKED = StepDef(
    "finish", "Read back what PVE holds", READ_BACK, step_finish, kwargs={"check_asked": True}
)

# A failed create or rebuild leaves a VM that is not a usable server: ``error``, with its sizes.
_after_failed_build = partial(server_after_failure, half_built=True)


# --- the job kinds ------------------------------------------------------------------------------

CREATE_JOB = JobDefinition(
    kind=JobKind.CREATE,
    steps=(
        *_BUILD,
        _READ_BACK_ASKED,
    ),
    on_failure=_after_failed_build,
    retry=server_create_retry,
)

RESIZE_JOB = JobDefinition(
    kind=JobKind.RESIZE,
    steps=(
        StepDef(
            "configure", "Set CPU and memory", CONFIGURE, step_configure, when=_asks_cpu_or_memory
        ),
        StepDef("resize_disk", "Grow the disk", RESIZE, step_resize_disk, when=_asks_disk),
        # Skipped when the VM is stopped or took every change live.
        StepDef(
            "restart",
            "Restart so the new CPU and memory apply",
            REBOOT,
            step_apply,
            kwargs={"pending_only": True},
            when=_restarts_to_apply,
        ),
        _READ_BACK_ASKED,
    ),
    on_failure=server_after_failure,
    retry=server_resize_retry,
)

POWER_JOB = JobDefinition(
    kind=JobKind.POWER,
    steps=(
        StepDef("power", _power_label, POWER, step_power),
        StepDef("finish", "Read back the state", READ_BACK, step_finish),
    ),
    on_failure=server_after_failure,
    retry=server_power_retry,
)

REBUILD_JOB = JobDefinition(
    kind=JobKind.REBUILD,
    steps=(
        StepDef("stop", "Stop the server", STOP, step_stop),
        StepDef("destroy", "Remove the old VM", DESTROY, step_destroy),
        *_BUILD,
        StepDef(
            "finish",
            "Read back what PVE holds",
            READ_BACK,
            step_finish,
            kwargs={"check_asked": True, "store_template": True},
        ),
    ),
    on_failure=_after_failed_build,
    retry=server_retry_refused_for_password,
)

RESET_PASSWORD_JOB = JobDefinition(
    kind=JobKind.RESET_PASSWORD,
    steps=(
        StepDef("set_password", "Write the cloud-init password", SET_PASSWORD, step_set_password),
        StepDef("apply", "Reboot so cloud-init applies it", REBOOT, step_apply),
        StepDef("finish", "Read back the state", READ_BACK, step_finish),
    ),
    on_failure=server_after_failure,
    retry=server_retry_refused_for_password,
)

DELETE_JOB = JobDefinition(
    kind=JobKind.DELETE,
    steps=(
        # A server whose create failed may have no VM of its own on PVE: nothing to stop there.
        StepDef("stop", "Stop the server", STOP, step_stop, kwargs={"absent_ok": True}),
        StepDef(
            "destroy",
            "Destroy the VM and its disks",
            DESTROY,
            step_destroy,
            kwargs={"absent_ok": True},
        ),
        StepDef("remove_record", "Remove the server", DESTROY, step_remove_record),
    ),
    on_failure=server_after_failure,
    retry=partial(server_action_retry, service=server_delete),
)

SUSPEND_JOB = JobDefinition(
    kind=JobKind.SUSPEND,
    steps=(
        StepDef("stop", "Shut the server down", STOP, step_stop, kwargs={"graceful": True}),
        StepDef("finish", "Mark it suspended", READ_BACK, step_finish, kwargs={"suspended": True}),
    ),
    on_failure=server_after_failure,
    retry=partial(server_action_retry, service=server_suspend),
)

UNSUSPEND_JOB = JobDefinition(
    kind=JobKind.UNSUSPEND,
    steps=(
        StepDef("start", "Start the server", START, step_start),
        StepDef(
            "finish", "Lift the suspension", READ_BACK, step_finish, kwargs={"suspended": False}
        ),
    ),
    on_failure=server_after_failure,
    retry=partial(server_action_retry, service=server_unsuspend),
)

SYNC_JOB = JobDefinition(
    kind=JobKind.SYNC,
    steps=(StepDef("sync", "Read the VM from PVE", READ_BACK, step_sync),),
    on_failure=server_after_failure,
    retry=partial(server_action_retry, service=server_sync),
)

JOB_DEFINITIONS = (
    CREATE_JOB,
    RESIZE_JOB,
    POWER_JOB,
    REBUILD_JOB,
    RESET_PASSWORD_JOB,
    DELETE_JOB,
    SUSPEND_JOB,
    UNSUSPEND_JOB,
    SYNC_JOB,
)
