"""POST /nodes/{node}/qemu/{vmid}/status/{start,stop,shutdown,reboot,reset,suspend,resume}."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pvesim.api import Request, check_skiplock, config_missing, die, load_vm, route
from pvesim.handlers.config import apply_pending
from pvesim.hotplug import memory_start_error
from pvesim.taskrunner import TaskContext, TaskError
from pvesim.traffic import qemu_started

if TYPE_CHECKING:
    from pvesim.server import PveSimulator
    from pvesim.state import Vm

STATUS = "/nodes/{node}/qemu/{vmid}/status/"


Check = Callable[[TaskContext, "Vm"], bool]
Apply = Callable[[TaskContext, "Vm"], None]


def _power_task(
    sim: PveSimulator,
    req: Request,
    task_type: str,
    check: Check,
    apply: Apply,
    *,
    allowed_locks: Callable[[Vm], tuple[str, ...]] = lambda vm: (),
) -> str:
    """A power task: flock, PVE's in-task lock check, ``check`` (False = nothing to do, OK at
    once; or raise TaskError), the task's duration, then ``apply``."""
    node, vmid = req.node, req.vmid

    def work(ctx: TaskContext) -> None:
        with sim.locks.vm(vmid, timeout=sim.knobs.lock_timeout_s, ready=ctx.started):
            with sim.state.lock:
                vm = sim.state.vm_on(node, vmid)
                if vm is None:
                    raise TaskError(config_missing(node, vmid))
                if vm.lock and vm.lock not in allowed_locks(vm):
                    raise TaskError(f"VM is locked ({vm.lock})")
                if not check(ctx, vm):
                    return
            ctx.sleep(ctx.duration)
            ctx.commit()
            with sim.state.lock:
                vm = sim.state.vm_on(node, vmid)
                if vm is None:
                    raise TaskError(config_missing(node, vmid))
                apply(ctx, vm)

    upid = sim.runner.start(
        node=node, task_type=task_type, task_id=str(vmid), work=work, signals_start=True
    )
    sim.persist()
    return upid


def _is_running(ctx: TaskContext, vm: Vm) -> bool:
    return vm.status == "running"


def _start(sim: PveSimulator, ctx: TaskContext, vm: Vm) -> None:
    # vm_start_nolock applies pending changes, then config_to_command may refuse the config.
    apply_pending(sim, vm)
    error = memory_start_error(vm.config)
    if error:
        raise TaskError(error)
    qemu_started(sim, vm)


def _stop(sim: PveSimulator, ctx: TaskContext, vm: Vm) -> None:
    # vm_stop_cleanup applies pending changes once QEMU is gone (stop and shutdown alike).
    vm.status, vm.paused, vm.started_at, vm.pid = "stopped", False, None, None
    apply_pending(sim, vm)


def _reboot(sim: PveSimulator, ctx: TaskContext, vm: Vm) -> None:
    # vm_reboot stops the VM (cleanup applies pending changes); qmeventd starts it again.
    _stop(sim, ctx, vm)
    _start(sim, ctx, vm)


@route("POST", STATUS + "start")
def vm_start(sim: PveSimulator, req: Request):
    check_skiplock(req)
    with sim.state.lock:
        load_vm(sim, req.node, req.vmid)

    def check(ctx: TaskContext, vm: Vm) -> bool:
        if vm.is_template:
            raise TaskError("you can't start a vm if it's a template")
        if vm.status == "running":
            if vm.lock == "backup" and vm.paused:
                vm.paused = False  # starting a VM paused by a backup just resumes it
                return False
            raise TaskError(f"VM {vm.vmid} already running")
        return True

    return _power_task(
        sim,
        req,
        "qmstart",
        check,
        lambda ctx, vm: _start(sim, ctx, vm),
        allowed_locks=lambda vm: ("backup",) if vm.status == "running" else (),
    )


@route("POST", STATUS + "stop")
def vm_stop(sim: PveSimulator, req: Request):
    check_skiplock(req)
    with sim.state.lock:
        load_vm(sim, req.node, req.vmid)
    return _power_task(sim, req, "qmstop", _is_running, lambda ctx, vm: _stop(sim, ctx, vm))


@route("POST", STATUS + "shutdown")
def vm_shutdown(sim: PveSimulator, req: Request):
    check_skiplock(req)
    with sim.state.lock:
        vm = load_vm(sim, req.node, req.vmid)
        if vm.paused and not req.bool("forceStop"):
            raise die("VM is paused - cannot shutdown")
    return _power_task(sim, req, "qmshutdown", _is_running, lambda ctx, vm: _stop(sim, ctx, vm))


@route("POST", STATUS + "reboot")
def vm_reboot(sim: PveSimulator, req: Request):
    with sim.state.lock:
        vm = load_vm(sim, req.node, req.vmid)
        if vm.status != "running":
            raise die(f"VM {vm.vmid} not running")
        if vm.paused:
            raise die("VM is paused - cannot shutdown")

    def check(ctx: TaskContext, vm: Vm) -> bool:
        if vm.status != "running":
            raise TaskError(f"VM {vm.vmid} not running")
        return True

    return _power_task(sim, req, "qmreboot", check, lambda ctx, vm: _reboot(sim, ctx, vm))


def _running_check(ctx: TaskContext, vm: Vm) -> bool:
    if vm.status != "running":
        raise TaskError(f"VM {vm.vmid} not running")
    return True


def _require_running(sim: PveSimulator, req: Request) -> None:
    with sim.state.lock:
        vm = load_vm(sim, req.node, req.vmid)
        if vm.status != "running":
            raise die(f"VM {vm.vmid} not running")


@route("POST", STATUS + "reset")
def vm_reset(sim: PveSimulator, req: Request):
    check_skiplock(req)
    _require_running(sim, req)

    def apply(ctx: TaskContext, vm: Vm) -> None:
        # The same QEMU process: PVE's uptime and the NIC counters carry on.
        pass

    return _power_task(sim, req, "qmreset", _running_check, apply)


@route("POST", STATUS + "suspend")
def vm_suspend(sim: PveSimulator, req: Request):
    check_skiplock(req)
    if req.bool("todisk"):
        raise die("suspend to disk is not supported by the simulator")
    _require_running(sim, req)

    def apply(ctx: TaskContext, vm: Vm) -> None:
        vm.paused = True

    return _power_task(sim, req, "qmsuspend", _running_check, apply)


@route("POST", STATUS + "resume")
def vm_resume(sim: PveSimulator, req: Request):
    check_skiplock(req)
    _require_running(sim, req)

    def apply(ctx: TaskContext, vm: Vm) -> None:
        vm.paused = False

    return _power_task(
        sim,
        req,
        "qmresume",
        _running_check,
        apply,
        allowed_locks=lambda vm: ("backup", "suspended"),
    )
