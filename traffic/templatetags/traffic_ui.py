"""The server page's traffic card: ``{% load traffic_ui %}{% server_traffic server %}`` (the page
has already found the server through the tenant filter; this reads only the database)."""

from __future__ import annotations

from django import template

from traffic.selectors import traffic_usage

register = template.Library()

_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB")


@register.filter
def iec_bytes(value: int | None) -> str:
    """1536 -> 1.5 KiB; exact bytes below one KiB, so a small amount never reads as zero."""
    if value is None:
        return "—"
    size = float(value)
    for unit in _UNITS:
        if size < 1024 or unit == _UNITS[-1]:
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


@register.inclusion_tag("traffic/server_usage.html")
def server_traffic(server) -> dict:
    return {"server": server, "usage": traffic_usage(server=server)}
