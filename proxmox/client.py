"""PveClient: the panel's only door to the PVE HTTP API.

Built on ``requests.Session`` rather than proxmoxer: proxmoxer reduces PVE's reason phrase (where
PVE puts its error text) to a generic ResourceException, has no certificate pinning and no typed
calls; with requests we classify errors ourselves, pin TLS with an HTTPAdapter, log every call,
and ``responses`` can stand in for PVE in unit tests.

Each typed method builds its path and parameters in one place, with PVE's own names, so the
schema test (tests/proxmox/test_schema_client_requests.py) can check every request it can send.
Mutations return the UPID; following it to the end is ``proxmox.waiting``'s job.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from proxmox.errors import (
    WRITE_METHODS,
    PveError,
    PveOutcomeUnknown,
    PveTlsError,
    PveTransientError,
    classify_http_error,
)
from proxmox.tls import FingerprintAdapter
from proxmox.units import gib_to_pve_size

logger = logging.getLogger("proxmox.client")


def configure_logging_from_env(environ: Mapping[str, str] = os.environ) -> None:
    """``PROXMOX_LOG_LEVEL=DEBUG|INFO|WARNING...`` sets the level of the ``proxmox.*`` loggers.

    Read from the environment (not Django settings) because proxmox knows nothing of Django.
    """
    level = (environ.get("PROXMOX_LOG_LEVEL") or "").strip().upper()
    if level:
        logging.getLogger("proxmox").setLevel(level)


configure_logging_from_env()

API_PREFIX = "/api2/json"
EMPTY_TASK_LOG = "no content"
POWER_ACTIONS = ("start", "stop", "shutdown", "reboot", "reset", "suspend", "resume")
RESIZABLE_DISK_PREFIXES = ("scsi", "virtio", "sata", "ide", "efidisk", "tpmstate")


def _segment(value, *, allow_slash: bool = False) -> str:
    # UPIDs carry ':', '@' and '!', volids ':' and '/'; PVE takes them raw, as proxmoxer sends.
    return quote(str(value), safe=":@!/" if allow_slash else ":@!")


def _form_value(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _clean(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Drop None (= not sent, PVE default applies) and encode booleans as 0/1."""
    return {k: _form_value(v) for k, v in (params or {}).items() if v is not None}


def _never_reached_server(exc: requests.exceptions.RequestException) -> bool:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None)  # urllib3 MaxRetryError wraps the real failure
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def encode_sshkeys(keys: str) -> str:
    """PVE URI-decodes ``sshkeys`` itself, on top of the form decoding: encode it once here."""
    return quote(keys, safe="")


def _config_params(params: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(params)
    if out.get("sshkeys"):
        out["sshkeys"] = encode_sshkeys(out["sshkeys"])
    return out


class PveClient:
    """One PVE API endpoint (a node's https://host:8006) with an API token."""

    def __init__(
        self,
        base_url: str,
        *,
        token_id: str,
        token_secret: str,
        verify_tls: bool | str = True,
        fingerprint_sha256: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        session: requests.Session | None = None,
    ):
        base = base_url.rstrip("/")
        if base.endswith(API_PREFIX):
            base = base[: -len(API_PREFIX)]
        self.base_url = base
        self.api_url = base + API_PREFIX
        self.token_id = token_id
        self.timeout = (connect_timeout, read_timeout)
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"PVEAPIToken={token_id}={token_secret}"
        self.session.headers["Accept"] = "application/json"
        if fingerprint_sha256:
            self.session.mount(base + "/", FingerprintAdapter(fingerprint_sha256))
        else:
            self.session.verify = verify_tls
            if verify_tls is False:
                logger.warning("TLS verification is off for %s; pin a fingerprint instead", base)

    def __repr__(self) -> str:  # never show the secret
        return f"PveClient({self.base_url!r}, token_id={self.token_id!r})"

    def close(self) -> None:
        self.session.close()

    # --- transport ------------------------------------------------------------------------

    def request(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call ``method path`` (path below /api2/json) and return the body's ``data``."""
        return self.request_body(method, path, params).get("data")

    def request_body(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> dict:
        """Like ``request`` but the whole JSON body (``data`` and, for lists, ``total``)."""
        method = method.upper()
        data = _clean(params)
        # PVE reads GET/DELETE parameters from the query string and POST/PUT from a form body.
        in_query = method in ("GET", "DELETE")
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                self.api_url + path,
                params=data if in_query else None,
                data=None if in_query else data,
                timeout=self.timeout,
            )
        except requests.exceptions.SSLError as exc:
            self._log(method, path, "tls-error", started, logging.ERROR)
            raise PveTlsError(str(exc), method=method, path=path) from exc
        except requests.exceptions.RequestException as exc:
            self._log(method, path, type(exc).__name__, started, logging.WARNING)
            # A write whose answer was lost may have been carried out: the caller must look
            # (e.g. for the new VM or the UPID in the task list) before sending it again.
            lost_write = method in WRITE_METHODS and not _never_reached_server(exc)
            cls = PveOutcomeUnknown if lost_write else PveTransientError
            raise cls(str(exc), method=method, path=path) from exc
        # Reads (every task poll among them) at DEBUG, so INFO shows what the panel changed.
        level = logging.DEBUG if method == "GET" else logging.INFO
        level = logging.WARNING if response.status_code >= 400 else level
        self._log(method, path, response.status_code, started, level)
        if response.status_code >= 400:
            raise self._error(method, path, response)
        try:
            body = response.json()
        except ValueError as exc:
            raise PveError(
                "response is not JSON", status=response.status_code, method=method, path=path
            ) from exc
        if not isinstance(body, dict):
            raise PveError(
                "response body is not a JSON object",
                status=response.status_code,
                method=method,
                path=path,
            )
        return body

    def _log(self, method: str, path: str, status, started: float, level: int) -> None:
        elapsed_ms = (time.monotonic() - started) * 1000
        logger.log(
            level, "PVE %s %s%s -> %s in %.0f ms", method, self.base_url, path, status, elapsed_ms
        )

    @staticmethod
    def _error(method: str, path: str, response: requests.Response) -> PveError:
        # PVE puts the first line of its message in the reason phrase; since pve-http-server
        # 5.2 the body also has the full `message`, and 400s carry per-parameter `errors`.
        body: dict = {}
        try:
            parsed = response.json()
            if isinstance(parsed, dict):
                body = parsed
        except ValueError:
            pass
        message = (body.get("message") or "").strip() or (response.reason or "").strip()
        if not message:
            message = f"HTTP {response.status_code}"
        errors = body.get("errors") if isinstance(body.get("errors"), dict) else None
        return classify_http_error(
            response.status_code, message, errors=errors, method=method, path=path
        )

    def get(self, path: str, **params) -> Any:
        return self.request("GET", path, params)

    def post(self, path: str, **params) -> Any:
        return self.request("POST", path, params)

    def put(self, path: str, **params) -> Any:
        return self.request("PUT", path, params)

    def delete(self, path: str, **params) -> Any:
        return self.request("DELETE", path, params)

    # --- cluster and nodes ----------------------------------------------------------------

    def version(self) -> dict:
        return self.get("/version")

    def nodes(self) -> list[dict]:
        return self.get("/nodes")

    def node_status(self, node: str) -> dict:
        return self.get(f"/nodes/{_segment(node)}/status")

    def cluster_resources(self, type: str | None = None) -> list[dict]:
        return self.get("/cluster/resources", type=type)

    def next_vmid(self, vmid: int | None = None) -> int:
        """The lowest free VMID of the whole cluster. PVE does not reserve it: two callers get
        the same id, and the second clone/create with it fails (``PveAlreadyExistsError``)."""
        # PVE answers with a JSON string ("100") though the schema says integer.
        return int(self.get("/cluster/nextid", vmid=vmid))

    def cluster_status(self) -> list[dict]:
        """``GET /cluster/status``: one ``{"type": "cluster", "name", "nodes", "quorate",
        "version", "id": "cluster"}`` entry when the node is in a cluster, and one ``{"type":
        "node", "name", "nodeid", "online", "local", "ip", "level", "id": "node/<name>"}`` per
        member. A standalone node answers only its own node entry (``nodeid`` 0)."""
        return self.get("/cluster/status")

    def storage_list(self, node: str, *, content: str | None = None) -> list[dict]:
        return self.get(f"/nodes/{_segment(node)}/storage", content=content)

    # --- VMs ------------------------------------------------------------------------------

    def _vm(self, node: str, vmid: int) -> str:
        return f"/nodes/{_segment(node)}/qemu/{int(vmid)}"

    def vm_list(self, node: str) -> list[dict]:
        return self.get(f"/nodes/{_segment(node)}/qemu")

    def vm_clone(
        self,
        node: str,
        vmid: int,
        *,
        newid: int,
        name: str | None = None,
        full: bool = True,
        storage: str | None = None,
        target: str | None = None,
        description: str | None = None,
    ) -> str:
        # full=True always: a linked clone ties the customer's disk to the template forever,
        # and PVE refuses `storage` for linked clones anyway.
        return self.post(
            f"{self._vm(node, vmid)}/clone",
            newid=int(newid),
            name=name,
            full=full,
            storage=storage,
            target=target,
            description=description,
        )

    def vm_config(self, node: str, vmid: int, *, current: bool = False) -> dict:
        """The VM's config. PVE's default (``current=False``) has the *pending* values applied:
        a cores/memory change a running VM could not hotplug shows as if it were in effect.
        ``current=True`` gives what the VM runs with (pending changes left out)."""
        return self.get(f"{self._vm(node, vmid)}/config", current=True if current else None)

    def vm_pending(self, node: str, vmid: int) -> list[dict]:
        """``GET .../pending``: ``[{"key", "value"?, "pending"?, "delete"?}]``, one item per
        option: ``value`` is the current value, ``pending`` the value waiting for the next
        start (stop+start or reboot), ``delete`` 1 (2 = forced) a pending removal."""
        return self.get(f"{self._vm(node, vmid)}/pending")

    def vm_config_update(self, node: str, vmid: int, **params) -> None:
        """Synchronous ``PUT .../config``; the lock timeout comes back as an HTTP 500.

        ``sshkeys`` is plain text (one key per line); it is encoded here as PVE expects.
        """
        self.put(f"{self._vm(node, vmid)}/config", **_config_params(params))

    def vm_config_update_async(self, node: str, vmid: int, **params) -> str | None:
        """``POST .../config``: a UPID (or None when ``background_delay`` let it finish)."""
        return self.post(f"{self._vm(node, vmid)}/config", **_config_params(params))

    def vm_resize(self, node: str, vmid: int, *, disk: str, size: int | str) -> str | None:
        """Grow ``disk`` to an absolute size: an int is GiB, a string must be absolute.

        Never ``+NG``: a retried relative resize would grow the disk twice. PVE >= 8 returns a
        UPID; 7.x returned null after finishing synchronously.
        """
        if not disk.startswith(RESIZABLE_DISK_PREFIXES):
            raise ValueError(f"not a resizable disk: {disk!r}")
        if isinstance(size, int):
            size = gib_to_pve_size(size)
        elif str(size).startswith("+"):
            raise ValueError("relative sizes are not idempotent; pass the absolute target size")
        return self.put(f"{self._vm(node, vmid)}/resize", disk=disk, size=size)

    def vm_delete(
        self,
        node: str,
        vmid: int,
        *,
        purge: bool = True,
        destroy_unreferenced_disks: bool = True,
    ) -> str:
        return self.delete(
            self._vm(node, vmid),
            purge=purge,
            **{"destroy-unreferenced-disks": destroy_unreferenced_disks},
        )

    def vm_status(self, node: str, vmid: int) -> dict:
        return self.get(f"{self._vm(node, vmid)}/status/current")

    def vm_rrddata(self, node: str, vmid: int, *, timeframe: str, cf: str | None = None) -> list:
        """The VM's RRD rows (``time`` plus each source PVE holds a value for; absent when not)."""
        return self.get(f"{self._vm(node, vmid)}/rrddata", timeframe=timeframe, cf=cf)

    def node_rrddata(self, node: str, *, timeframe: str, cf: str | None = None) -> list:
        """The node's RRD rows, like ``vm_rrddata`` (``decade`` too)."""
        return self.get(f"/nodes/{_segment(node)}/rrddata", timeframe=timeframe, cf=cf)

    def vm_power(self, node: str, vmid: int, action: str, **params) -> str:
        if action not in POWER_ACTIONS:
            raise ValueError(f"unknown power action {action!r}; one of {', '.join(POWER_ACTIONS)}")
        return self.post(f"{self._vm(node, vmid)}/status/{action}", **params)

    def vm_restore(
        self,
        node: str,
        *,
        vmid: int,
        archive: str,
        storage: str | None = None,
        force: bool = False,
        unique: bool | None = None,
    ) -> str:
        """Restore a vzdump archive (volid) into ``vmid``: ``POST /nodes/{node}/qemu``."""
        return self.post(
            f"/nodes/{_segment(node)}/qemu",
            vmid=int(vmid),
            archive=archive,
            storage=storage,
            # `force` requires `archive` and only matters when overwriting; leave it out if off.
            force=True if force else None,
            unique=unique,
        )

    # --- tasks ----------------------------------------------------------------------------

    def _task(self, node: str, upid: str) -> str:
        return f"/nodes/{_segment(node)}/tasks/{_segment(upid)}"

    def task_status(self, node: str, upid: str) -> dict:
        return self.get(f"{self._task(node, upid)}/status")

    def task_log(self, node: str, upid: str, *, start: int = 0, limit: int = 50) -> list[dict]:
        """Lines as PVE gives them: ``[{"n": 1, "t": "text"}, ...]`` (n is 1-based)."""
        return self.get(f"{self._task(node, upid)}/log", start=start, limit=limit)

    def task_log_tail(self, node: str, upid: str, *, lines: int = 50) -> list[str]:
        """The last ``lines`` lines of a task log (the end is where PVE says why it failed)."""
        path = f"{self._task(node, upid)}/log"
        body = self.request_body("GET", path, {"start": 0, "limit": lines})
        entries = body.get("data") or []
        total = body.get("total")
        if isinstance(total, int) and total > len(entries):
            start = max(total - lines, 0)
            entries = self.get(path, start=start, limit=lines) or []
        lines_read = [str(e.get("t", "")) for e in sorted(entries, key=lambda e: e.get("n", 0))]
        # pve-common's dump_logfile answers an empty log with one line "no content": not a line
        # the task wrote, so not one to show anyone.
        if lines_read == [EMPTY_TASK_LOG] and total in (None, 1):
            return []
        return lines_read

    def tasks(self, node: str, **filters) -> list[dict]:
        """``GET /nodes/{node}/tasks``; filters are PVE's (vmid, typefilter, source, ...)."""
        return self.get(f"/nodes/{_segment(node)}/tasks", **filters)

    def vm_tasks(
        self,
        node: str,
        vmid: int,
        *,
        typefilter: str | None = None,
        since: int | None = None,
        userfilter: str | None = None,
        limit: int = 50,
    ) -> list[dict]:
        """The tasks of one VM on ``node``, newest first, running ones included.

        For finding the UPID of a write whose answer was lost (``PveOutcomeUnknown``):
        ``typefilter`` is the task type (``qmclone``, ``qmconfig``, ``resize``, ``qmstart``...),
        ``since`` a UNIX time a little before the call, ``userfilter`` a substring of the user
        (PVE matches it case-insensitively). ``source=all`` because PVE's default lists only
        finished tasks. A clone's task carries the *source* VMID.
        """
        return self.tasks(
            node,
            vmid=int(vmid),
            typefilter=typefilter,
            since=since,
            userfilter=userfilter,
            source="all",
            limit=limit,
        )

    # --- backups --------------------------------------------------------------------------

    def vzdump(
        self,
        node: str,
        *,
        vmid: int,
        storage: str,
        mode: str = "snapshot",
        compress: str = "zstd",
        notes_template: str | None = None,
    ) -> str:
        """Back up one VM. PVE answers the string ``OK`` (no task) if the VM is not on ``node``."""
        # compress is explicit: PVE's API default is no compression at all.
        return self.post(
            f"/nodes/{_segment(node)}/vzdump",
            vmid=int(vmid),
            storage=storage,
            mode=mode,
            compress=compress,
            **{"notes-template": notes_template},
        )

    def storage_content(
        self,
        node: str,
        storage: str,
        *,
        content: str | None = None,
        vmid: int | None = None,
    ) -> list[dict]:
        return self.get(
            f"/nodes/{_segment(node)}/storage/{_segment(storage)}/content",
            content=content,
            vmid=vmid,
        )

    def storage_content_delete(self, node: str, storage: str, volume: str) -> str | None:
        # The volid's '/' stays raw: PVE joins the rest of the path into {volume}.
        return self.delete(
            f"/nodes/{_segment(node)}/storage/{_segment(storage)}/content/"
            f"{_segment(volume, allow_slash=True)}"
        )
