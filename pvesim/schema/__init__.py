"""The part of the PVE API schema the panel uses, and PVE's own parameter validation.

``pve-api.json`` is extracted from pve-docs' ``apidata.js`` (see SOURCE.md). The validator follows
pve-common's ``PVE::JSONSchema`` (``check_prop``/``check_object``/``parse_property_string``) closely
enough that its messages are the ones a real PVE answers in a 400's ``errors``. The simulator calls
``validate_request`` for every request it serves, so everything expensive is cached.

No Django here: this module is used by the client, the simulator and plain scripts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

from pvesim.schema.formats import check_named_format

SCHEMA_FILE = Path(__file__).resolve().parent / "pve-api.json"
API_PREFIX = "/api2/json"
# Key under which validate_request reports an unknown path/method (PVE answers 501 for those).
ENDPOINT_ERROR_KEY = "_endpoint"

_INTEGER_RE = re.compile(r"[+-]?\d+")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NUMBERED_RE = re.compile(r"^(?P<base>[a-z][a-z0-9_-]*)\[n\]$")
_RANGE_RE = re.compile(r"\(n is 0 to (\d+)")
# Highest index for numbered params whose description gives no "(n is 0 to N)" (qemu-server's
# MAX_NETS, MAX_HOSTPCI_DEVICES, MAX_NUMA, MAX_UNUSED_DISKS, ...); usb's text names only the
# old limit of 4, newer machine versions allow 14.
_NUMBERED_MAX = {
    "net": 31,
    "ipconfig": 31,
    "hostpci": 15,
    "numa": 7,
    "unused": 255,
    "virtiofs": 9,
    "usb": 14,
}


@dataclass(frozen=True)
class Endpoint:
    template: str  # e.g. /nodes/{node}/qemu/{vmid}/resize
    segments: tuple[str, ...]
    info: dict  # method -> method info (parameters, returns, permissions, flags)


@dataclass(frozen=True)
class EndpointMatch:
    template: str
    method: str
    info: dict
    path_params: dict[str, str]


@lru_cache(maxsize=1)
def load_schema() -> dict:
    with SCHEMA_FILE.open(encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def _endpoints() -> tuple[Endpoint, ...]:
    return tuple(
        Endpoint(e["path"], tuple(e["path"].strip("/").split("/")), e["info"])
        for e in load_schema()["endpoints"]
    )


def _split_concrete(path: str) -> list[str]:
    path = path.split("?", 1)[0]
    if path.startswith(API_PREFIX):
        path = path[len(API_PREFIX) :]
    return [unquote(part) for part in path.strip("/").split("/")]


def _match_segments(template: tuple[str, ...], concrete: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    last = len(template) - 1
    if len(concrete) < len(template):
        return None
    for i, tpl in enumerate(template):
        is_param = tpl.startswith("{")
        if i == last and len(concrete) > len(template):
            # PVE lets a trailing parameter swallow the rest (a volid like local:backup/x.vma).
            if not is_param:
                return None
            value = "/".join(concrete[i:])
        else:
            value = concrete[i]
        if is_param:
            if not value:
                return None
            params[tpl[1:-1]] = value
        elif tpl != value:
            return None
    return params


def match_endpoint(method: str, concrete_path: str) -> EndpointMatch | None:
    """Find the endpoint for a concrete path, preferring exact-length literal matches."""
    method = method.upper()
    concrete = _split_concrete(concrete_path)
    candidates = []
    for endpoint in _endpoints():
        params = _match_segments(endpoint.segments, concrete)
        if params is not None:
            exact = len(endpoint.segments) == len(concrete)
            literals = sum(not s.startswith("{") for s in endpoint.segments)
            candidates.append((exact, literals, endpoint, params))
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
    for _exact, _literals, endpoint, params in candidates:
        if method in endpoint.info:
            return EndpointMatch(endpoint.template, method, endpoint.info[method], params)
    return None


def find_endpoint(method: str, concrete_path: str) -> tuple[str, dict] | None:
    """``("/nodes/{node}/qemu/{vmid}/resize", info)`` for ``PUT /nodes/pve1/qemu/101/resize``."""
    found = match_endpoint(method, concrete_path)
    return (found.template, found.info) if found else None


# --- request validation -------------------------------------------------------------------


def wire_value(value) -> str:
    """The string PVE receives for a Python value (booleans travel as 0/1)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern:
    # PVE matches m/^$pattern$/; fullmatch is the same anchoring.
    return re.compile(pattern)


@lru_cache(maxsize=256)
def _numbered_props(template: str, method: str) -> tuple[tuple[re.Pattern, int | None, str], ...]:
    props = _endpoint_props(template, method)
    out = []
    for name, schema in props.items():
        m = _NUMBERED_RE.match(name)
        if m:
            rng = _RANGE_RE.search(schema.get("description", ""))
            maximum = _NUMBERED_MAX.get(m["base"], int(rng[1]) if rng else None)
            out.append((re.compile(re.escape(m["base"]) + r"(\d+)"), maximum, name))
    return tuple(out)


def _endpoint_props(template: str, method: str) -> dict:
    for endpoint in _endpoints():
        if endpoint.template == template:
            return endpoint.info[method]["parameters"].get("properties", {})
    return {}


def _schema_for(template: str, method: str, props: dict, name: str) -> dict | None:
    if name in props:
        return props[name]
    for regex, maximum, key in _numbered_props(template, method):
        m = regex.fullmatch(name)
        if m and (maximum is None or int(m[1]) <= maximum):
            return props[key]
    return None


def _type_error(schema_type: str | None, value: str) -> str | None:
    if schema_type == "boolean" and value not in ("0", "1"):
        return f"type check ('boolean') failed - got '{value}'"
    if schema_type == "integer" and not _INTEGER_RE.fullmatch(value):
        return f"type check ('integer') failed - got '{value}'"
    if schema_type == "number" and not _NUMBER_RE.fullmatch(value):
        return f"type check ('number') failed - got '{value}'"
    return None


def check_value(schema: dict, value: str, path: str, errors: dict[str, str]) -> None:
    """One scalar value against its schema, in the order PVE's check_prop uses."""
    message = _type_error(schema.get("type"), value)
    if message:
        errors[path] = message
        return
    fmt = schema.get("format")
    if isinstance(fmt, dict):
        _check_property_string(fmt, value, path, errors)
        return
    if isinstance(fmt, str):
        reason = check_named_format(fmt, value)
        if reason:
            errors[path] = f"invalid format - {reason}"
            return
    pattern = schema.get("pattern")
    if pattern and not _compiled(pattern).fullmatch(value):
        errors[path] = "value does not match the regex pattern"
        return
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors[path] = f"value may only be {schema['maxLength']} characters long"
        return
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors[path] = f"value must be at least {schema['minLength']} characters long"
        return
    if _NUMBER_RE.fullmatch(value):
        number = float(value)
        if "maximum" in schema and number > schema["maximum"]:
            errors[path] = f"value must have a maximum value of {schema['maximum']}"
            return
        if "minimum" in schema and number < schema["minimum"]:
            errors[path] = f"value must have a minimum value of {schema['minimum']}"
            return
    enum = schema.get("enum")
    if enum and value not in [str(e) for e in enum]:
        listed = ", ".join(map(str, enum))
        errors[path] = f"value '{value}' does not have a value in the enumeration '{listed}'"


def parse_property_string(fmt: dict, text: str) -> dict[str, str]:
    """Split ``key=value,...`` like PVE; raises ValueError with PVE's message."""
    result: dict[str, str] = {}
    default_key = next((k for k, s in fmt.items() if s.get("default_key")), None)
    default_used = False
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" in part:
            key, _, value = part.partition("=")
            if not key or not value:
                raise ValueError("missing key in comma-separated list property")
            if key in result:
                raise ValueError(f"duplicate key in comma-separated list property: {key}")
            schema = fmt.get(key)
            if schema and schema.get("alias"):
                key_alias = schema.get("keyAlias")
                if key_alias:
                    # `virtio=AA:BB:..` means model=virtio,macaddr=AA:BB:..
                    result[key_alias] = key
                key = schema["alias"]
                schema = fmt.get(key)
            if schema is None:
                raise ValueError(f"invalid key in comma-separated list property: {key}")
            result[key] = value
        else:
            if default_key is None:
                raise ValueError("value without key, but schema does not define a default key")
            if default_used or default_key in result:
                raise ValueError(f"duplicate key in comma-separated list property: {default_key}")
            default_used = True
            result[default_key] = part
    return result


def _check_property_string(fmt: dict, text: str, path: str, errors: dict[str, str]) -> None:
    try:
        parsed = parse_property_string(fmt, text)
    except ValueError as exc:
        errors[path] = f"invalid format - {exc}"
        return
    for key, schema in fmt.items():
        if schema.get("alias"):
            continue
        if key not in parsed:
            if not schema.get("optional") and schema.get("type") != "boolean":
                errors[f"{path}.{key}"] = "property is missing and it is not optional"
            continue
        check_value(schema, parsed[key], f"{path}.{key}", errors)


def validate_params(template: str, method: str, info: dict, params: dict) -> dict[str, str]:
    """Validate already-merged wire parameters (path params included) against ``info``."""
    errors: dict[str, str] = {}
    spec = info.get("parameters", {})
    props = spec.get("properties", {})
    allow_additional = spec.get("additionalProperties", 0)
    seen: set[str] = set()
    for name, raw in params.items():
        if raw is None:
            continue
        schema = _schema_for(template, method, props, name)
        if schema is None:
            if not allow_additional:
                errors[name] = (
                    "property is not defined in schema and the schema does not allow "
                    "additional properties"
                )
            continue
        seen.add(name)
        check_value(schema, wire_value(raw), name, errors)
    for name, schema in props.items():
        if name in seen or _NUMBERED_RE.match(name):
            continue
        if not schema.get("optional") and schema.get("type") != "boolean":
            errors.setdefault(name, "property is missing and it is not optional")
    for name in seen:
        requires = props.get(name, {}).get("requires")
        if isinstance(requires, str) and params.get(requires) is None:
            errors.setdefault(requires, f"missing property - '{name}' requires this property")
    return errors


def validate_request(method: str, concrete_path: str, params: dict | None = None) -> dict[str, str]:
    """PVE's 400 ``errors`` for this request (empty when valid).

    An unknown path or method gives ``{ENDPOINT_ERROR_KEY: "Method 'GET /x' not implemented"}``
    (what PVE answers with 501).
    """
    found = match_endpoint(method, concrete_path)
    if found is None:
        shown = concrete_path.split("?", 1)[0]
        if shown.startswith(API_PREFIX):
            shown = shown[len(API_PREFIX) :]
        return {ENDPOINT_ERROR_KEY: f"Method '{method.upper()} {shown}' not implemented"}
    merged = dict(found.path_params)
    errors: dict[str, str] = {}
    for name, value in (params or {}).items():
        if value is None:
            continue
        if name in found.path_params and wire_value(value) != found.path_params[name]:
            errors[name] = "duplicate parameter (already defined in URI) with conflicting values!"
            continue
        merged[name] = value
    if errors:
        return errors  # PVE raises on the first URI conflict, before validating anything else
    return validate_params(found.template, found.method, found.info, merged)


# --- response validation ------------------------------------------------------------------

_JSON_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool, int),
    "array": (list,),
    "object": (dict,),
}


def _check_returned(schema: dict, data, path: str, problems: list[str]) -> None:
    schema_type = schema.get("type")
    if data is None:
        if schema_type not in (None, "null") and not schema.get("optional"):
            problems.append(f"{path}: null where {schema_type} expected")
        return
    if schema_type == "null":
        problems.append(f"{path}: expected null, got {type(data).__name__}")
        return
    expected = _JSON_TYPES.get(schema_type or "")
    if schema_type in ("integer", "number") and isinstance(data, str):
        # Perl stringifies numbers it used as hash keys: /cluster/nextid really sends "100".
        pattern = _INTEGER_RE if schema_type == "integer" else _NUMBER_RE
        if not pattern.fullmatch(data):
            problems.append(f"{path}: expected {schema_type}, got {data!r}")
        return
    if (
        schema_type == "string"
        and "." in path  # a property of a returned object, never the whole answer
        and isinstance(data, int | float)
        and not isinstance(data, bool)
        and not ({"enum", "pattern", "format"} & set(schema))
    ):
        # A Perl scalar has no fixed type: GET .../pending's free-form `value`/`pending` are the
        # parsed config, where check_type made integer options numbers (`"value": 2`).
        return
    if expected:
        wrong = not isinstance(data, expected) or (
            isinstance(data, bool) and schema_type in ("integer", "number")
        )
        if wrong:
            problems.append(f"{path}: expected {schema_type}, got {type(data).__name__}")
            return
    if schema_type == "object" and isinstance(data, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in data:
                if not sub.get("optional"):
                    problems.append(f"{path}.{key}: missing (not optional)")
                continue
            _check_returned(sub, data[key], f"{path}.{key}", problems)
    elif schema_type == "array" and isinstance(data, list) and schema.get("items"):
        for i, item in enumerate(data):
            _check_returned(schema["items"], item, f"{path}[{i}]", problems)
    enum = schema.get("enum")
    if enum and isinstance(data, str | int) and str(data) not in [str(e) for e in enum]:
        problems.append(f"{path}: {data!r} not in enum {enum}")


def validate_response(method: str, concrete_path: str, data) -> list[str]:
    """Differences between ``data`` (the response's ``data``) and the schema's ``returns``.

    ``returns`` is documentation in PVE, so extra properties are fine; missing required ones,
    wrong types and values outside an enum are reported.
    """
    found = match_endpoint(method, concrete_path)
    if found is None:
        return [f"Method '{method.upper()} {concrete_path}' not implemented"]
    problems: list[str] = []
    _check_returned(found.info.get("returns", {}), data, "data", problems)
    return problems
