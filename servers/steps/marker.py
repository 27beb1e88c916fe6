"""The panel's ownership marker on a VM: a line in its PVE description naming the server's uuid,
and the ``panel`` tag. A step acts only on a VM that carries its server's marker, so a VMID
reused by someone else is never touched."""

from __future__ import annotations

import re

from servers.models import Server

PANEL_TAG = "panel"
MARKER_PREFIX = "panel-server-uuid: "


def marker_line(server: Server) -> str:
    return f"{MARKER_PREFIX}{server.uuid}"


def marker_description(server: Server, existing: str = "") -> str:
    """The VM's description with our marker line (other lines staff wrote are kept)."""
    lines = [line for line in (existing or "").splitlines() if not line.startswith(MARKER_PREFIX)]
    if not lines:
        lines = ["Managed by the hosting panel; keep the next line."]
    return "\n".join([*lines, marker_line(server)])


def _tags(config: dict) -> list[str]:
    return [t for t in re.split(r"[;, ]+", str(config.get("tags") or "")) if t]


def marker_tags(config: dict) -> str:
    tags = _tags(config)
    if PANEL_TAG not in tags:
        tags.append(PANEL_TAG)
    return ";".join(tags)


def has_marker(config: dict, server: Server) -> bool:
    lines = [line.strip() for line in str(config.get("description") or "").splitlines()]
    return marker_line(server) in lines
