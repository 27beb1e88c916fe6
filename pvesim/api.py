"""Request/response plumbing shared by the endpoint handlers: routes, errors, PVE's checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pvesim.server import PveSimulator
    from pvesim.state import Vm

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


class ApiError(Exception):
    """An error answered the way pve-http-server answers it.

    The first line of ``message`` becomes the HTTP reason phrase; the body is
    ``{"data": null, "message": "<message>\\n"}`` (plus ``errors`` for 400s).
    """

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None):
        self.status = status
        self.message = message if message.endswith("\n") else message + "\n"
        self.errors = errors
        super().__init__(message)


def die(message: str) -> ApiError:
    """A plain Perl ``die`` inside an API handler: HTTP 500 with the message."""
    return ApiError(500, message)


def param_error(errors: dict[str, str]) -> ApiError:
    return ApiError(400, "Parameter verification failed.", errors)


@dataclass
class Result:
    """Handler result with a top-level ``total`` (task lists, task logs)."""

    data: Any
    total: int | None = None


@dataclass
class Request:
    method: str
    path: str  # relative to /api2/json
    template: str
    params: dict[str, str]  # path params merged with query/body params (wire strings)
    auth_id: str  # user@realm!tokenid
    info: dict = field(default_factory=dict)  # the schema entry for this method

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        return default if value is None else value

    def int(self, name: str, default: int | None = None) -> int | None:
        value = self.params.get(name)
        return default if value is None or value == "" else int(value)

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.params.get(name)
        if value is None or value == "":
            return default
        return parse_bool(value)

    @property
    def node(self) -> str:
        return self.params["node"]

    @property
    def vmid(self) -> int:
        return int(self.params["vmid"])

    def prop_schema(self, name: str) -> dict:
        props = self.info.get("parameters", {}).get("properties", {})
        if name in props:
            return props[name]
        return props.get(re.sub(r"\d+$", "[n]", name), {})


def parse_bool(value: str) -> bool:
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"not a boolean: {value!r}")


Handler = Callable[["PveSimulator", Request], Any]
ROUTES: dict[tuple[str, str], Handler] = {}


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        ROUTES[(method, template)] = fn
        return fn

    return register


# --- permissions --------------------------------------------------------------------------


def check_privilege(sim: PveSimulator, path: str, *privs: str) -> None:
    """RPCEnvironment::check: all of ``privs`` on ``path`` or 403 naming the first missing."""
    for priv in privs:
        if priv in sim.knobs.denied_privileges:
            raise ApiError(403, f"Permission check failed ({path}, {priv})")


def _perm_ok(sim: PveSimulator, check: list, params: dict[str, str]) -> tuple[bool, str | None]:
    """Evaluate a schema ``permissions.check`` expression (perm / and / or)."""
    kind = check[0]
    if kind == "perm":
        path, privs, opts = check[1], check[2], check[3:]
        options = dict(zip(opts[::2], opts[1::2], strict=False))
        required = options.get("require_param")
        if required and params.get(required) is None:
            return False, None
        for name in re.findall(r"\{(\w+)\}", path):
            path = path.replace("{" + name + "}", str(params.get(name, "")))
        denied = [p for p in privs if p in sim.knobs.denied_privileges]
        if options.get("any"):
            if len(denied) == len(privs):
                return False, f"{path}, {'|'.join(privs)}"
            return True, None
        if denied:
            return False, f"{path}, {denied[0]}"
        return True, None
    if kind in ("and", "or"):
        results = [_perm_ok(sim, sub, params) for sub in check[1:]]
        if kind == "and":
            for ok, detail in results:
                if not ok:
                    return False, detail
            return True, None
        return any(ok for ok, _ in results), None
    return True, None  # checks the simulator does not model (userid-group, ...) pass


def check_permissions(sim: PveSimulator, info: dict, params: dict[str, str]) -> None:
    check = (info.get("permissions") or {}).get("check")
    if not check or not sim.knobs.denied_privileges:
        return
    ok, detail = _perm_ok(sim, check, params)
    if not ok:
        raise ApiError(
            403, f"Permission check failed ({detail})" if detail else "Permission check failed"
        )


# --- checks PVE makes in many handlers ------------------------------------------------------


def config_missing(node: str, vmid: int) -> str:
    return f"Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist"


def load_vm(sim: PveSimulator, node: str, vmid: int) -> Vm:
    """PVE::QemuConfig->load_config on ``node`` (the node that handles the proxied call)."""
    vm = sim.state.vm_on(node, vmid)
    if vm is None:
        raise die(config_missing(node, vmid))
    return vm


def lock_message(vm: Vm, *, allowed: tuple[str, ...] = ()) -> str | None:
    lock = vm.lock
    if lock and lock not in allowed:
        return f"VM is locked ({lock})"
    return None


def check_lock(vm: Vm) -> None:
    message = lock_message(vm)
    if message:
        raise die(message)


def check_skiplock(req: Request) -> None:
    # Only root@pam may skip locks; an API token's auth id is never exactly root@pam.
    if req.get("skiplock") is not None and req.auth_id != "root@pam":
        raise param_error({"skiplock": "Only root may use this option."})


def typed_value(schema: dict, raw: str) -> Any:
    """A parameter as PVE stores it in the config: integers and booleans as numbers."""
    kind = schema.get("type")
    if kind == "integer":
        return int(raw)
    if kind == "boolean":
        return 1 if parse_bool(raw) else 0
    if kind == "number":
        number = float(raw)
        return int(number) if number.is_integer() else number
    return raw
