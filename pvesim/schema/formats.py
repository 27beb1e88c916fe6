"""PVE's named string formats (``register_format`` in pve-common/pve-storage/qemu-server).

Each checker returns None when the value is fine, else the reason PVE gives (the text after
``invalid format - ``). Formats not listed here are accepted: this is a faithful subset for the
parameters the panel and the simulator deal with, not a re-implementation of all of PVE.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

_NODE_RE = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?")
_VMID_RE = re.compile(r"[1-9][0-9]{2,8}")
_STORAGE_ID_RE = re.compile(r"[a-z][a-z0-9\-_.]*[a-z0-9]", re.IGNORECASE)
_VOLUME_ID_RE = re.compile(r"([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)", re.IGNORECASE)
_CONFIGID_RE = re.compile(r"[a-z][a-z0-9_-]+", re.IGNORECASE)
_POOLID_RE = re.compile(r"[A-Za-z0-9.\-_]+")
_DNS_LABEL = r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?"
_DNS_NAME_RE = re.compile(rf"({_DNS_LABEL}\.)*{_DNS_LABEL}")
_URLENCODED_RE = re.compile(r"[-%a-zA-Z0-9_.!~*'()]*")
_TAG_RE = re.compile(r"[a-z0-9_][a-z0-9_\-+.]*", re.IGNORECASE)
_MAC_RE = re.compile(r"[a-f0-9]{2}(:[a-f0-9]{2}){5}", re.IGNORECASE)
_DISK_SIZE_RE = re.compile(r"(\d+(\.\d+)?)([KMGT])?")
_LIST_SPLIT_RE = re.compile(r"[\s,;]+")
_BRIDGE_RE = re.compile(r"[-_.\w\d]+")
_CONTENT_TYPES = {"images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"}


def _node(v: str) -> str | None:
    return None if _NODE_RE.fullmatch(v) else "value does not look like a valid node name"


def _vmid(v: str) -> str | None:
    return None if _VMID_RE.fullmatch(v) else "value does not look like a valid VM ID"


def _vmid_list(v: str) -> str | None:
    for item in _LIST_SPLIT_RE.split(v.strip()):
        if not _VMID_RE.fullmatch(item):
            return f"value '{item}' does not look like a valid VM ID"
    return None


def _storage_id(v: str) -> str | None:
    return None if _STORAGE_ID_RE.fullmatch(v) else f"storage ID '{v}' contains illegal characters"


def _volume_id(v: str) -> str | None:
    return None if _VOLUME_ID_RE.fullmatch(v) else f"unable to parse volume ID '{v}'"


def _volume_or_path(v: str) -> str | None:
    if v.startswith("/") or v in ("none", "cdrom"):
        return None
    return _volume_id(v)


def _configid(v: str) -> str | None:
    return None if _CONFIGID_RE.fullmatch(v) else f"invalid configuration ID '{v}'"


def _configid_list(v: str) -> str | None:
    for item in _LIST_SPLIT_RE.split(v.strip()):
        if item and not _CONFIGID_RE.fullmatch(item):
            return f"invalid configuration ID '{item}'"
    return None


def _poolid(v: str) -> str | None:
    return None if _POOLID_RE.fullmatch(v) else f"invalid pool ID '{v}'"


def _dns_name(v: str) -> str | None:
    return None if _DNS_NAME_RE.fullmatch(v) else "value does not look like a valid DNS name"


def _urlencoded(v: str) -> str | None:
    return None if _URLENCODED_RE.fullmatch(v) else f"invalid urlencoded string: {v}"


def _tag_list(v: str) -> str | None:
    for tag in re.split(r"[;, ]+", v.strip()):
        if tag and not _TAG_RE.fullmatch(tag):
            return f"invalid tag '{tag}'"
    return None


def _mac(v: str) -> str | None:
    return None if _MAC_RE.fullmatch(v) else f"value does not look like a valid MAC address: {v}"


def _disk_size(v: str) -> str | None:
    return None if _DISK_SIZE_RE.fullmatch(v) else f"unable to parse size '{v}'"


def _bridge(v: str) -> str | None:
    return None if _BRIDGE_RE.fullmatch(v) else f"invalid bridge ID '{v}'"


def _content(v: str) -> str | None:
    return None if v in _CONTENT_TYPES else f"invalid content type '{v}'"


def _content_list(v: str) -> str | None:
    for item in _LIST_SPLIT_RE.split(v.strip()):
        if item and item not in _CONTENT_TYPES:
            return f"invalid content type '{item}'"
    return None


def _ipconfig(v: str) -> str | None:
    """cloud-init ``ipconfigN``: ``ip=CIDR|dhcp,gw=IP,ip6=CIDR|dhcp|auto,gw6=IP``."""
    seen: set[str] = set()
    for part in v.split(","):
        if not part:
            continue
        key, _, value = part.partition("=")
        if key not in ("ip", "gw", "ip6", "gw6") or not value:
            return f"invalid key in comma-separated list property: {key}"
        if key in seen:
            return f"duplicate key in comma-separated list property: {key}"
        seen.add(key)
        if not _ip_value_ok(key, value):
            return f"invalid format for {key}: {value}"
    return None


def _ip_value_ok(key: str, value: str) -> bool:
    if (key, value) in (("ip", "dhcp"), ("ip6", "dhcp"), ("ip6", "auto")):
        return True
    kind = {
        "ip": ipaddress.IPv4Interface,
        "ip6": ipaddress.IPv6Interface,
        "gw": ipaddress.IPv4Address,
        "gw6": ipaddress.IPv6Address,
    }[key]
    if key in ("ip", "ip6") and "/" not in value:
        return False  # PVE wants CIDR notation for addresses
    try:
        kind(value)
    except ValueError:
        return False
    return True


_CHECKERS: dict[str, Callable[[str], str | None]] = {
    "pve-node": _node,
    "pve-vmid": _vmid,
    "pve-vmid-list": _vmid_list,
    "pve-storage-id": _storage_id,
    "pve-volume-id": _volume_id,
    "pve-volume-id-or-qm-path": _volume_or_path,
    "pve-volume-id-or-absolute-path": _volume_or_path,
    "pve-configid": _configid,
    "pve-configid-list": _configid_list,
    "pve-poolid": _poolid,
    "dns-name": _dns_name,
    "urlencoded": _urlencoded,
    "pve-tag-list": _tag_list,
    "mac-addr": _mac,
    "disk-size": _disk_size,
    "pve-bridge-id": _bridge,
    "pve-storage-content": _content,
    "pve-storage-content-list": _content_list,
    "pve-qm-ipconfig": _ipconfig,
}


def check_named_format(name: str, value: str) -> str | None:
    checker = _CHECKERS.get(name)
    return checker(value) if checker else None
