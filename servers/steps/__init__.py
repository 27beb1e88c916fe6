"""The server steps: what the worker does on PVE, one PVE operation per step.

Every step is idempotent. It looks at PVE before acting (a clone whose target already carries our
marker is not issued again, a disk already at its size is not resized, a running VM is not started)
and, once it has issued an operation, it commits the UPID before waiting; a redelivered or resumed
step waits on that UPID. Every UPID is followed to its end (``wait_for_task``); lock errors, in
the HTTP call or inside the task, are retried with ``retry_on_lock`` up to the deadline in
settings; any other error fails the job with PVE's own message. Which steps a job kind runs, with
which arguments and in which Celery task, is declared in ``servers.jobs``.

* ``context``   -- ``Ctx`` (issue_and_wait, on_lock, unlocked_config, ...), ``pve_step``, the
  per-node cap on heavy tasks;
* ``marker``    -- the panel's ownership marker on a VM;
* ``held``      -- what PVE holds for the VM (``GET .../pending``): what runs, what waits for
  its next start;
* ``lifecycle`` -- the steps that change the VM (clone, configure, resize_disk, start, stop, power,
  set_password, apply, destroy) and remove_record;
* ``readback``  -- finish and sync (store what PVE holds, running and pending), and
  ``server_after_failure``;
* ``failed_task`` -- after a failed job, wait for PVE's task of the failed step to end before the
  server is written (``failed_step_task_ended``, called first by ``server_after_failure``).

No database transaction is open while PVE is called: the Job's own writes (``panel.jobs``) and the
server's row updates here are each a single short statement or transaction.
"""

from servers.steps.context import Ctx, StepError, step_context, take_heavy_slot
from servers.steps.lifecycle import (
    step_apply,
    step_clone,
    step_configure,
    step_destroy,
    step_power,
    step_remove_record,
    step_resize_disk,
    step_set_password,
    step_start,
    step_stop,
)
from servers.steps.marker import (
    MARKER_PREFIX,
    PANEL_TAG,
    has_marker,
    marker_description,
    marker_line,
    marker_tags,
)
from servers.steps.readback import server_after_failure, step_finish, step_sync

__all__ = [
    "MARKER_PREFIX",
    "PANEL_TAG",
    "Ctx",
    "StepError",
    "has_marker",
    "marker_description",
    "marker_line",
    "marker_tags",
    "server_after_failure",
    "step_apply",
    "step_clone",
    "step_configure",
    "step_context",
    "step_destroy",
    "step_finish",
    "step_power",
    "step_remove_record",
    "step_resize_disk",
    "step_set_password",
    "step_start",
    "step_stop",
    "step_sync",
    "take_heavy_slot",
]
