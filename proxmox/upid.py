"""UPIDs: PVE's task ids. The node that runs the task is inside, so waiting needs no other input.

Format (pve-common PVE/UPID.pm ``encode``):
``UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{type}:{id}:{user}:`` (trailing colon;
``id`` may be empty; ``user`` may be a token id ``user@realm!name``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# PVE's own decode regex, verbatim, so we accept and refuse exactly what PVE does.
_UPID_RE = re.compile(
    r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
    r"([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$"
)


class InvalidUpid(ValueError):
    pass


@dataclass(frozen=True)
class Upid:
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    raw: str

    @property
    def tokenid(self) -> str | None:
        """`panel` for `panel@pve!panel`; None when the task was not started by a token."""
        return self.user.split("!", 1)[1] if "!" in self.user else None


def parse_upid(text: str) -> Upid:
    m = _UPID_RE.match(text or "")
    if not m:
        raise InvalidUpid(f"unable to parse worker upid '{text}'")
    return Upid(
        node=m[1],
        pid=int(m[3], 16),
        pstart=int(m[4], 16),
        starttime=int(m[5], 16),
        type=m[6],
        id=m[7],
        user=m[8],
        raw=text,
    )


def is_upid(value) -> bool:
    return isinstance(value, str) and bool(_UPID_RE.match(value))


def format_upid(
    *, node: str, pid: int, pstart: int, starttime: int, type: str, id: str, user: str
) -> str:
    return f"UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{type}:{id}:{user}:"
