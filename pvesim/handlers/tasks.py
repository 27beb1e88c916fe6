"""GET /nodes/{node}/tasks, .../tasks/{upid}/status and .../tasks/{upid}/log (Tasks.pm)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvesim.api import Request, Result, param_error, route
from pvesim.taskrunner import UPID_RE

if TYPE_CHECKING:
    from pvesim.server import PveSimulator
    from pvesim.state import Task


def _is_error(status: str | None) -> bool:
    return status not in (None, "OK") and not (status or "").startswith("WARNINGS: ")


def _with_token_split(item: dict) -> dict:
    # Tasks.pm $convert_token_task: user@realm!token -> user + tokenid
    user, sep, tokenid = item["user"].partition("!")
    if sep:
        item["user"], item["tokenid"] = user, tokenid
    return item


def _task_fields(task: Task) -> dict:
    return {
        "upid": task.upid,
        "node": task.node,
        "pid": task.pid,
        "pstart": task.pstart,
        "starttime": task.starttime,
        "type": task.type,
        "id": task.id,
        "user": task.user,
    }


def _find_task(sim: PveSimulator, node: str, upid: str) -> Task:
    m = UPID_RE.match(upid)
    if not m:
        raise param_error({"upid": "unable to parse worker upid"})
    task = sim.state.tasks.get(upid)
    if task is None or m["node"] != node or task.node != node:
        raise param_error({"upid": "no such task"})
    return task


@route("GET", "/nodes/{node}/tasks/{upid}/status")
def task_status(sim: PveSimulator, req: Request):
    with sim.state.lock:
        task = _find_task(sim, req.node, req.params["upid"])
        data = _task_fields(task)
        data["status"] = task.status
        if task.status == "stopped":  # exitstatus exists only once the task has stopped
            data["exitstatus"] = task.exitstatus
        return _with_token_split(data)


@route("GET", "/nodes/{node}/tasks/{upid}/log")
def task_log(sim: PveSimulator, req: Request):
    if req.get("download") is not None and (req.get("start") or req.get("limit")):
        raise param_error({"download": "cannot be used together with 'start' or 'limit'"})
    start = req.int("start", 0)
    limit = req.int("limit", 50)
    with sim.state.lock:
        task = _find_task(sim, req.node, req.params["upid"])
        lines = list(task.log)
    # pve-common Tools::dump_logfile: limit 0 reads to the end; an empty log says "no content".
    window = lines[start:] if limit == 0 else lines[start : start + limit]
    data = [{"n": start + i + 1, "t": text} for i, text in enumerate(window)]
    total = len(lines)
    if not total:
        data, total = [{"n": 1, "t": "no content"}], 1
    return Result(data, total=total)


@route("GET", "/nodes/{node}/tasks")
def task_list(sim: PveSimulator, req: Request):
    source = req.get("source", "archive")
    typefilter = req.get("typefilter")
    userfilter = (req.get("userfilter") or "").lower()
    vmid = req.get("vmid")
    errors_only = req.bool("errors")
    since, until = req.int("since"), req.int("until")
    statuses = set((req.get("statusfilter") or "").split(",")) - {""}
    start, limit = req.int("start", 0), req.int("limit", 50)
    with sim.state.lock:
        tasks = [t for t in sim.state.tasks.values() if t.node == req.node]
        items = []
        for task in sorted(tasks, key=lambda t: (t.starttime, t.pid), reverse=True):
            running = task.status == "running"
            if source == "archive" and running:
                continue
            if source == "active" and not running:
                continue
            if typefilter and task.type != typefilter:
                continue
            # Archived tasks are matched after the token is split off the user (Tasks.pm
            # converts them first), active ones on the full user@realm!token.
            user = task.user if running else task.user.partition("!")[0]
            if userfilter and userfilter not in user.lower():
                continue
            if vmid is not None and task.id != str(vmid):
                continue
            if errors_only and (running or not _is_error(task.exitstatus)):
                continue
            if since is not None and task.starttime < since:
                continue
            if until is not None and task.starttime > until:
                continue
            if statuses:
                kind = (
                    "ok"
                    if task.exitstatus == "OK"
                    else "warning"
                    if (task.exitstatus or "").startswith("WARNINGS")
                    else "unknown"
                    if running
                    else "error"
                )
                if kind not in statuses:
                    continue
            item = _task_fields(task)
            if running:
                item["status"] = "RUNNING"
            else:
                item["status"] = task.exitstatus
                item["endtime"] = task.endtime
            items.append(_with_token_split(item))
    page = items[start:] if limit == 0 else items[start : start + limit]
    return Result(page, total=len(items))
