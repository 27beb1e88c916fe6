"""What every server step stands on: ``Ctx`` (the job, the server, its node's PVE client, and the
ways to talk to PVE safely: ``issue_and_wait``, ``on_lock``, ``unlocked_config``, ``wait``), the
``pve_step`` decorator every handler wears, and the per-node cap on heavy tasks.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from nodes.models import Node
from nodes.services import node_client
from panel.jobs import JobRetryLater, StepRun
from panel.models import Job, JobState
from proxmox.client import PveClient
from proxmox.errors import (
    PveError,
    PveLockError,
    PveNotFoundError,
    PveOutcomeUnknown,
    PveTransientError,
)
from proxmox.upid import parse_upid
from proxmox.vmconfig import DISK_KEYS, VmSpecs, vm_specs
from proxmox.waiting import (
    TASK_TIMES_KEPT,
    TaskTimes,
    retry_on_lock,
    wait_for_task,
    wait_until_unlocked,
)
from servers.models import Server
from servers.steps.marker import has_marker, marker_line

logger = logging.getLogger(__name__)

HEAVY_STEPS = ("clone", "restore", "backup")
MAX_TRANSIENT_RETRIES = 5
TASK_LOG_LINES = 50  # the tail of a PVE task log kept on the Job (its end says why)
# Looking for the task of a lost answer starts this long before the call: PVE's clock (task
# start times) and ours may differ a little. Tasks already recorded on a job are never taken.
LOST_TASK_CLOCK_MARGIN_S = 30


class SharedTaskTimes(TaskTimes):
    """``TaskTimes`` in the cache every worker process shares (Redis, or the embedded default's
    folder): a job's steps run in whichever process takes them, so what one saw a node's clones
    take times the next clone's first poll in another. A lost update between two processes
    only loses one sample of an estimate."""

    def __init__(self, *, cluster: str, kept: int = TASK_TIMES_KEPT, ttl_s: int = 7 * 24 * 3600):
        super().__init__(kept)
        self.cluster = cluster  # node names repeat across clusters ("pve1"): key on the API too
        self.ttl_s = ttl_s

    def _key(self, node: str, task_type: str) -> str:
        return f"pve-task-times:{self.cluster}:{node}:{task_type}"

    def expected_s(self, node: str, task_type: str) -> float | None:
        seen = cache.get(self._key(node, task_type)) or []
        return min(seen) if seen else None

    def record(self, node: str, task_type: str, seconds: float) -> None:
        key = self._key(node, task_type)
        seen = [*(cache.get(key) or []), float(seconds)][-self._kept :]
        cache.set(key, seen, self.ttl_s)


class StepError(Exception):
    """PVE did not end up holding what the step asked for."""


@dataclass
class Ctx:
    run: StepRun
    job: Job
    server: Server
    node: Node
    client: PveClient

    @property
    def pve_node(self) -> str:
        return self.node.pve_node

    @property
    def vmid(self) -> int:
        return int(self.server.vmid)

    @property
    def params(self) -> dict:
        return self.job.params

    def timeout(self, key: str) -> float:
        return float(settings.PROXMOX_TASK_TIMEOUTS_S[key])

    def sleep(self, seconds: float) -> None:
        """Sleep while waiting on PVE, keeping the job's lease alive."""
        self.run.heartbeat()
        time.sleep(seconds)

    def skip(self, note: str) -> None:
        """PVE already holds what this step would do."""
        self.run.skip(note)

    def wait(self, upid: str | None, *, timeout_key: str):
        """Follow the task to its end; its log tail is kept on the Job while it runs (read at
        most every few seconds, not on every poll) and once more when it ends."""
        on_poll = self.run.heartbeat
        if upid:
            task_node = parse_upid(upid).node
            on_poll = self.run.follow_task_log(
                lambda: self.client.task_log_tail(task_node, upid, lines=TASK_LOG_LINES)
            )
        result = wait_for_task(
            self.client,
            upid,
            timeout_s=self.timeout(timeout_key),
            sleep=self.sleep,
            on_poll=on_poll,
            first_interval_s=float(getattr(settings, "PROXMOX_FIRST_POLL_INTERVAL_S", 0.05)),
            log_lines=TASK_LOG_LINES,
            # What the workers saw this cluster's tasks take times the first status poll.
            task_times=SharedTaskTimes(cluster=self.client.api_url),
        )
        if result.log_tail:
            self.run.store_task_log(result.log_tail)
        return result

    def unlocked_config(self) -> dict:
        return wait_until_unlocked(
            self.client,
            self.pve_node,
            self.vmid,
            timeout_s=self.timeout("configure"),
            sleep=self.sleep,
        )

    def on_lock(self, fn):
        return retry_on_lock(
            fn,
            deadline_s=float(settings.PROXMOX_LOCK_RETRY_DEADLINE_S),
            sleep=self.sleep,
            rng=random.Random(),
        )

    def config_or_none(self) -> dict | None:
        try:
            return self.client.vm_config(self.pve_node, self.vmid)
        except PveNotFoundError:
            return None

    def power_state(self) -> str:
        return str(self.client.vm_status(self.pve_node, self.vmid).get("status") or "unknown")

    def require_marker(self, config: dict | None, *, doing: str) -> dict:
        """The config of a VM that is this server's; a missing or foreign VM fails the step."""
        if config is None:
            raise StepError(f"VM {self.vmid} does not exist on {self.pve_node}.")
        if not has_marker(config, self.server):
            raise StepError(
                f"VM {self.vmid} on {self.pve_node} does not carry this server's panel marker "
                f"({marker_line(self.server)}); refusing to {doing}. The VMID may have been reused."
            )
        return config

    def issue_and_wait(
        self, issue, *, timeout_key: str, task_type: str, task_vmid: int | None = None
    ):
        """Issue a PVE operation once and follow its task to the end.

        A UPID already recorded on the step is waited on instead of issuing again. A lock error
        (in the HTTP call or as the task's exit status) forgets the UPID and issues again, until
        the lock-retry deadline; every operation passed here is absolute, so repeating is safe.

        An ambiguous answer (``PveOutcomeUnknown``: a bare 5xx, a dropped connection) may come
        after PVE started the task: it is looked for (``task_type``, listed under ``task_vmid``,
        the server's VM unless given: a clone's task carries the template's) and, found, recorded
        and followed as if PVE had answered. Not found, the error goes up: ``pve_step`` runs the
        step again later, which reads PVE back before acting (the disk size, the power state, the
        VM and its marker) and issues again only what is not applied.
        """
        lost = LostTask(type=task_type, vmid=self.vmid if task_vmid is None else int(task_vmid))

        def attempt():
            upid = self.run.upid or self._issue(issue, lost)
            if not upid:
                return None  # PVE finished inside the HTTP call (older PVE, delays)
            if not self.run.upid:
                self.run.record_upid(upid, self.pve_node)
                if self.run.step.get("answer_lost_since") is not None:
                    # Resolved: a later lock retry issues anew, it does not look again.
                    self.run.save_step(answer_lost_since=None)
            try:
                return self.wait(upid, timeout_key=timeout_key)
            except PveError as exc:
                if isinstance(exc, PveLockError):
                    self.run.forget_upid()
                raise

        return self.on_lock(attempt)

    def _issue(self, issue, lost: LostTask) -> str | None:
        since = self.run.step.get("answer_lost_since")
        if since is not None:
            # An earlier answer was lost: its task may have started since we last looked.
            upid = self.find_lost_task(lost, since=since)
            if upid:
                return upid
        started = time.time()
        try:
            return issue()
        except PveOutcomeUnknown as exc:
            if since is None:
                since = int(started) - LOST_TASK_CLOCK_MARGIN_S
            self.run.save_step(
                answer_lost_since=since, note=f"PVE's answer was lost ({exc}); reading PVE back"
            )
            upid = self.find_lost_task(lost, since=since)
            if upid is None:
                raise
            logger.info("job %s: found the task of a lost answer: %s", self.job.pk, upid)
            return upid

    def find_lost_task(self, lost: LostTask, *, since: int) -> str | None:
        """The UPID of the task a write whose answer was lost started, if PVE lists one: of that
        type, under that VMID, started by our token since ``since`` (PVE's clock), and not yet
        recorded on any job. For the server's own VM the newest such task (only this job acts
        on it); for a clone (listed under a template several jobs clone) only an unambiguous one.
        """
        token_id = self.client.token_id
        found = [
            task
            for task in self.client.vm_tasks(
                self.pve_node,
                lost.vmid,
                typefilter=lost.type,
                since=since,
                userfilter=token_id.partition("!")[0],
            )
            if task.get("type") == lost.type
            and str(task.get("id")) == str(lost.vmid)
            and _task_token(task) == token_id
            and int(task.get("starttime") or 0) >= since
        ]
        unrecorded = [
            task["upid"]
            for task in found
            if not Job.objects.filter(steps__icontains=task["upid"]).exists()
        ]
        if lost.vmid != self.vmid and len(unrecorded) > 1:
            return None
        return unrecorded[0] if unrecorded else None


def _task_token(task: dict) -> str:
    """``user@realm!token`` of a listed task (PVE lists the token apart, as ``tokenid``)."""
    user = str(task.get("user") or "")
    return f"{user}!{task['tokenid']}" if task.get("tokenid") else user


@dataclass(frozen=True)
class LostTask:
    """How to find the task of a write whose answer was lost: its type (``qmclone``, ``resize``,
    ``qmstart``...) and the VMID PVE lists it under."""

    type: str
    vmid: int


def specs_with_disk(config: dict) -> VmSpecs:
    """The VM's specs; a VM without a disk the panel can resize is not one the panel built."""
    specs = vm_specs(config)
    if specs.boot_disk is None:
        raise StepError(f"The VM has no disk the panel can resize ({', '.join(DISK_KEYS)}).")
    return specs


_clients = threading.local()


def _client(node: Node) -> PveClient:
    """One client (one HTTPS session, TLS handshake done once) per node per worker thread,
    rebuilt when the node's connection settings change."""
    key = (
        node.api_url,
        node.token_id,
        node.token_secret,
        node.verify_tls,
        node.tls_fingerprint_sha256,
    )
    cache = getattr(_clients, "by_node", None)
    if cache is None:
        cache = _clients.by_node = {}
    cached = cache.get(node.pk)
    if cached is not None and cached[0] == key:
        return cached[1]
    if cached is not None:
        cached[1].close()
    client = node_client(node=node)
    cache[node.pk] = (key, client)
    return client


def step_context(run: StepRun) -> Ctx:
    server = (
        Server.objects.select_related("node", "template", "plan")
        .filter(pk=run.job.server_id)
        .first()
    )
    if server is None:
        raise StepError("The server record is gone.")
    client = _client(server.node)
    return Ctx(run=run, job=run.job, server=server, node=server.node, client=client)


def pve_step(fn):
    """Every server step handler wears this: a PVE that cannot be reached for a moment is retried
    later (bounded), not failed at once; the steps are idempotent, so running one again is safe."""

    @functools.wraps(fn)
    def handler(run: StepRun, **kwargs) -> None:
        try:
            fn(run, **kwargs)
        except PveTransientError as exc:
            count = int(run.step.get("transient_retries", 0))
            if count >= MAX_TRANSIENT_RETRIES:
                raise
            run.save_step(transient_retries=count + 1, note=f"PVE unreachable: {exc.message}")
            raise JobRetryLater(str(exc), countdown_s=2.0 * 2**count) from exc

    return handler


def take_heavy_slot(*, job: Job, node: Node) -> None:
    """Let a heavy step (clone, restore, backup) start only while fewer than the node's cap run;
    otherwise raise JobRetryLater so the task runs again a little later.

    Call it from the step whose name is in HEAVY_STEPS (``current_step`` marks who holds a slot).
    The node row is locked while counting, so two workers cannot both take the last slot; a job
    that must wait clears its ``current_step`` so it does not count as holding one.
    """
    stale_before = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S)
    with transaction.atomic():
        locked = Node.objects.select_for_update().get(pk=node.pk)
        busy = (
            Job.objects.filter(
                state=JobState.RUNNING,
                current_step__in=HEAVY_STEPS,
                server__node=locked,
                heartbeat_at__gte=stale_before,
            )
            .exclude(pk=job.pk)
            .count()
        )
        if busy < locked.max_concurrent_heavy_tasks:
            return
        Job.objects.filter(pk=job.pk).update(current_step="")
    raise JobRetryLater(
        f"{busy} heavy tasks already run on {locked.name} "
        f"(cap {locked.max_concurrent_heavy_tasks})",
        countdown_s=2 + random.uniform(0, 3),
    )
