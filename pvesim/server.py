"""The simulator: an HTTPS server on loopback that answers like pveproxy/pvedaemon."""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pvesim import (
    handlers,  # noqa: F401  (registers the routes)
    schema,
)
from pvesim.api import ROUTES, ApiError, Request, Result, check_permissions
from pvesim.control import admin_request
from pvesim.knobs import AFTER_FAULTS, HTTP_FAULTS, Knobs
from pvesim.locks import LockManager
from pvesim.seed import add_template, add_vm
from pvesim.state import Node, SimState, default_storages
from pvesim.taskrunner import TaskRunner
from pvesim.tls import load_or_create_certificate, server_context
from pvesim.traffic import add_traffic

API_PREFIX = "/api2/json"
ADMIN_PREFIX = "/_sim/"
TOKEN_RE = re.compile(r"(?:^|\s)PVEAPIToken(?:=| )([^;]*)")
TOKEN_ID_RE = re.compile(r"^[^\s@!]+@[^\s@!]+![A-Za-z][A-Za-z0-9.\-_]+$")


class PveSimulator:
    """A Proxmox VE cluster stand-in. See ``pvesim/README.md``."""

    def __init__(
        self,
        nodes: tuple[str, ...] | list[str] = ("pve1",),
        token_id: str = "panel@pve!panel",  # noqa: S107 -- an id, not a secret
        token_secret: str | None = None,
        seed: int = 0,
        state_file: str | Path | None = None,
    ):
        if not TOKEN_ID_RE.match(token_id):
            raise ValueError(f"token id must look like user@realm!name, got {token_id!r}")
        self.token_id = token_id
        self.seed = seed
        self.token_secret = token_secret or str(
            uuid.UUID(int=random.Random(f"secret:{seed}").getrandbits(128), version=4)
        )
        self.node_names = tuple(nodes)
        self.state_file = Path(state_file) if state_file else None
        self.rng = random.Random(seed)
        self.knobs = Knobs()
        self.calls: Counter[str] = Counter()
        self.calls_by_path: Counter[str] = Counter()  # "GET /nodes/pve1/qemu/100/rrddata": 1
        self._calls_lock = threading.Lock()
        self._persist_lock = threading.Lock()
        self.certificate = load_or_create_certificate(
            str(self.state_file) + ".tls.pem" if self.state_file else None
        )
        # Called with one line per request ("GET /api2/json/... 200") when set (pvesim -v 2).
        self.request_log: Callable[[str], None] | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.state = self._initial_state()
        self.locks = LockManager(self.knobs.lock_window_remaining, self._window_wait)
        self.runner = TaskRunner(self)

    # --- identity -------------------------------------------------------------------------------

    @property
    def auth_id(self) -> str:
        return self.token_id

    @property
    def fingerprint_sha256(self) -> str:
        return self.certificate.fingerprint_sha256

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("simulator not started")
        host, port = self._httpd.server_address[:2]
        return f"https://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    @property
    def auth_header(self) -> str:
        return f"PVEAPIToken={self.token_id}={self.token_secret}"

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> PveSimulator:
        if self._httpd is not None:
            return self
        httpd = _Server((host, port), _Handler)
        httpd.sim = self
        httpd.tls = server_context(self.certificate)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="pvesim", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.runner.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.persist()

    def __enter__(self) -> PveSimulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _initial_state(self) -> SimState:
        if self.state_file and self.state_file.exists():
            state = SimState.load(self.state_file)
            for task in state.tasks.values():
                if task.status == "running":  # the "daemon" died under it
                    task.status, task.exitstatus = "stopped", "unexpected status"
                    task.endtime = int(time.time())
            for name in self.node_names:
                state.nodes.setdefault(name, Node(name=name, storages=default_storages()))
            return state
        return SimState(
            nodes={name: Node(name=name, storages=default_storages()) for name in self.node_names}
        )

    def reset(self) -> None:
        """Back to empty nodes: stops running tasks, clears knobs, calls and the RNG."""
        self.runner.stop(timeout=15)
        with self.state.lock:
            self.state = SimState(
                nodes={n: Node(name=n, storages=default_storages()) for n in self.node_names}
            )
        self.rng.seed(self.seed)
        self.knobs.reset()
        self.reset_calls()
        self.locks = LockManager(self.knobs.lock_window_remaining, self._window_wait)
        self.runner = TaskRunner(self)
        self.persist()

    def reset_calls(self) -> None:
        with self._calls_lock:
            self.calls.clear()
            self.calls_by_path.clear()

    def count_call(self, key: str, path: str | None = None) -> None:
        with self._calls_lock:
            self.calls[key] += 1
            if path is not None:
                self.calls_by_path[path] += 1

    def persist(self) -> None:
        if self.state_file is None:
            return
        with self._persist_lock:
            self.state.save(self.state_file)

    # --- helpers for handlers -------------------------------------------------------------------

    def _window_wait(self) -> float:
        return self.knobs.lock_window_wait_s

    def now(self) -> float:
        return time.time()

    def new_pid(self) -> int:
        with self.state.lock:
            self.state.next_pid += self.rng.randint(1, 97)
            return self.state.next_pid

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def wait_for_task(self, upid: str, timeout: float = 30.0) -> dict:
        """Block until a task stops (for setup code, never for assertions on timing)."""
        if not self.runner.wait(upid, timeout):
            raise TimeoutError(f"task {upid} still running after {timeout}s")
        with self.state.lock:
            task = self.state.tasks[upid]
            return {"status": task.status, "exitstatus": task.exitstatus, "log": list(task.log)}

    # --- seeding --------------------------------------------------------------------------------

    def add_template(self, node: str, vmid: int, name: str, disk_gib: int = 10, **options: Any):
        """A VM template (``template: 1``) with a base disk, cloud-init drive and net0."""
        vm = add_template(self, node, vmid, name, disk_gib, **options)
        self.persist()
        return vm

    def add_vm(self, node: str, vmid: int, name: str, disk_gib: int = 20, **options: Any):
        """An ordinary VM (``running=True`` to have it started)."""
        vm = add_vm(self, node, vmid, name, disk_gib, **options)
        self.persist()
        return vm

    def vm(self, vmid: int):
        with self.state.lock:
            return self.state.find_vm(vmid)

    def add_traffic(self, vmid: int, *, netin: int = 0, netout: int = 0) -> None:
        """Bytes a running VM moved, added to its NIC counters (``pvesim.traffic``)."""
        with self.state.lock:
            vm = self.state.find_vm(vmid)
            if vm is None:
                raise KeyError(f"no VM {vmid}")
            add_traffic(vm, netin=netin, netout=netout)
        self.persist()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    sim: PveSimulator
    tls: ssl.SSLContext

    def get_request(self):
        sock, addr = self.socket.accept()
        # The TLS handshake happens in the request thread (see _Handler.setup), so a slow or
        # rejecting client never blocks the accept loop.
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | ssl.SSLError | ConnectionError | TimeoutError):
            return  # clients that hang up, reject our certificate (pinning) or get reset
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds ~40 ms
    # to every response (pveproxy has no such stall).
    disable_nagle_algorithm = True
    server_version = "pve-api-daemon/3.0"
    sys_version = ""
    timeout = 30
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.request.do_handshake()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        log = self.sim.request_log
        if log is not None:
            log(f"{self.address_string()} {format % args}")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # --- plumbing ---------------------------------------------------------------------------

    @property
    def sim(self) -> PveSimulator:
        return self.server.sim

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _params(self, method: str, query: str, body: bytes) -> dict[str, str]:
        params = dict(parse_qsl(query, keep_blank_values=True))
        if method in ("POST", "PUT") and body:
            ctype = self.headers.get("Content-Type", "")
            if "json" in ctype:
                decoded = json.loads(body.decode("utf-8"))
                for key, value in (decoded or {}).items():
                    params[key] = schema.wire_value(value)
            else:
                params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        return params

    def _send(
        self,
        status: int,
        reason: str,
        body: bytes | None = b"",
        content_type: str = "application/json;charset=UTF-8",
    ) -> None:
        reason = reason.split("\n", 1)[0].replace("\r", " ")
        reason = reason.encode("latin-1", "replace").decode("latin-1")
        self.send_response(status, reason)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body or b"")))
        self.send_header("Cache-Control", "max-age=0")
        self.send_header("Pragma", "no-cache")
        self.send_header("Expires", formatdate(usegmt=True))
        if status >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _send_json(self, status: int, reason: str, payload: dict) -> None:
        self._send(status, reason, json.dumps(payload).encode("utf-8"))

    def _send_error(self, error: ApiError) -> None:
        if error.status == 401:
            self._send(401, error.message)  # pve-http-server: auth failures have no body
            return
        payload: dict[str, Any] = {"data": None, "message": error.message}
        if error.errors:
            payload["errors"] = error.errors
        self._send_json(error.status, error.message, payload)

    def _reset_connection(self) -> None:
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            self.close_connection = True
            sock.close()

    # --- dispatch ---------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        if url.path.startswith(ADMIN_PREFIX):
            self._admin(method, url.path[len(ADMIN_PREFIX) :], body)
            return
        if url.path != API_PREFIX and not url.path.startswith(API_PREFIX + "/"):
            self._send_error(ApiError(501, f"Method '{method} {url.path}' not implemented"))
            return
        rel = url.path[len(API_PREFIX) :] or "/"
        sim = self.sim
        match = schema.match_endpoint(method, rel)
        endpoint = f"{method} {match.template}" if match else f"{method} {rel}"
        sim.count_call(endpoint, f"{method} {rel}")
        self._latency(endpoint)
        fault = sim.knobs.take_call_fault(endpoint, sim.rng)
        if fault == "reset":
            self._reset_connection()
            return
        if fault in HTTP_FAULTS:
            status, reason = HTTP_FAULTS[fault]
            self._send_error(ApiError(status, reason))
            return
        try:
            self._authenticate(rel, method)
            data = self._handle(method, rel, match, self._params(method, url.query, body))
        except ApiError as error:
            self._send_error(error)
            return
        except Exception as exc:  # a simulator bug: answer like PVE would to a crash
            traceback.print_exc(file=sys.stderr)
            self._send_error(ApiError(500, f"simulator internal error: {exc}"))
            return
        if fault == "reset_after":
            self._reset_connection()
            return
        if fault in AFTER_FAULTS:
            status, reason = AFTER_FAULTS[fault]
            page = f"<html><head><title>{status} {reason}</title></head><body>"
            page += f"<center><h1>{status} {reason}</h1></center></body></html>\n"
            self._send(status, reason, page.encode(), content_type="text/html")
            return
        payload: dict[str, Any] = {"data": data.data if isinstance(data, Result) else data}
        if isinstance(data, Result) and data.total is not None:
            payload["total"] = data.total
        self._send_json(200, "OK", payload)

    def _latency(self, endpoint: str) -> None:
        knobs = self.sim.knobs
        delay = knobs.latency_s + knobs.latency_by_endpoint.get(endpoint, 0.0)
        if knobs.latency_jitter_s:
            delay += self.sim.rng.uniform(0, knobs.latency_jitter_s)
        if delay > 0:
            time.sleep(delay)

    def _authenticate(self, rel: str, method: str) -> None:
        if rel == "/access/ticket" and method == "POST":
            return
        sim = self.sim
        m = TOKEN_RE.search(self.headers.get("Authorization", ""))
        if not m:
            has_cookie = "PVEAuthCookie=" in self.headers.get("Cookie", "")
            self._auth_failed("Authentication failed!" if has_cookie else "No ticket")
        token_id, sep, secret = unquote(m[1].strip()).rpartition("=")
        if not sep or token_id != sim.token_id or secret != sim.token_secret:
            self._auth_failed("Authentication failed!")

    def _auth_failed(self, reason: str) -> None:
        delay = self.sim.knobs.auth_failure_delay_s
        if delay > 0:
            time.sleep(delay)  # PVE delays every 401 by 3 s to slow down guessing
        raise ApiError(401, reason)

    def _handle(self, method: str, rel: str, match, params: dict[str, str]):
        sim = self.sim
        handler = ROUTES.get((method, match.template)) if match else None
        if handler is None:
            raise ApiError(501, f"Method '{method} {rel}' not implemented")
        node = match.path_params.get("node")
        if node is not None and match.info.get("proxyto") == "node":
            if node not in sim.state.nodes:
                raise ApiError(
                    500,
                    f"hostname lookup '{node}' failed - failed to get address info for: "
                    f"{node}: Name or service not known",
                )
            if node in sim.knobs.nodes_down:
                raise ApiError(596, "Connection timed out")
        merged = {**params, **match.path_params}
        # pve-manager checks permissions (403) before it verifies parameters (400)
        check_permissions(sim, match.info, merged)
        errors = schema.validate_request(method, rel, params)
        if errors:
            raise ApiError(400, "Parameter verification failed.", errors)
        if node is not None and node not in sim.state.nodes:
            raise ApiError(500, f"no such node '{node}'")
        req = Request(
            method=method,
            path=rel,
            template=match.template,
            params=merged,
            auth_id=sim.auth_id,
            info=match.info,
        )
        return handler(sim, req)

    # --- admin endpoint (outside /api2/json) ---------------------------------------------------

    def _admin(self, method: str, path: str, body: bytes) -> None:
        sim = self.sim
        try:
            self._authenticate("/_sim", method)
        except ApiError as error:
            self._send_error(error)
            return
        try:
            doc = json.loads(body.decode("utf-8")) if body else {}
            result = admin_request(sim, method, path.strip("/"), doc)
        except (ValueError, KeyError, TypeError) as exc:
            self._send_json(400, "Bad Request", {"error": str(exc)})
            return
        if result is None:
            self._send_json(404, "Not Found", {"error": f"no admin endpoint {method} /_sim/{path}"})
            return
        self._send_json(200, "OK", {"data": result})
