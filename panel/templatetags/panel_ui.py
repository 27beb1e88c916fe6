"""Formatting for people: sizes with their units, durations, log tails."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone

register = template.Library()


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


@register.filter
def mib(value: int | None) -> str:
    """4096 -> "4 GiB", 1536 -> "1.5 GiB", 512 -> "512 MiB"."""
    if value is None or value == "":
        return ""
    value = int(value)
    if value >= 1024:
        return f"{_number(value / 1024)} GiB"
    return f"{value} MiB"


@register.filter
def gib(value: int | None) -> str:
    if value is None or value == "":
        return ""
    value = int(value)
    if value >= 1024 and value % 1024 == 0:
        return f"{value // 1024} TiB"
    return f"{value} GiB"


def server_specs_text(server) -> str:
    if not server.cpu_cores:
        return "—"  # nothing confirmed by PVE yet (provisioning, or its creation failed)
    return " · ".join(
        (
            f"{server.cpu_cores} vCPU",
            f"{mib(server.memory_mib)} RAM",
            f"{gib(server.disk_gib)} disk",
        )
    )


@register.filter
def specs(server) -> str:
    """ "2 vCPU · 4 GiB RAM · 40 GiB disk"."""
    return server_specs_text(server)


@register.filter
def duration(value: timedelta | float | int | None) -> str:
    """A timedelta or seconds as "42 s", "3 min 5 s", "1 h 2 min"."""
    if value is None or value == "":
        return ""
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    seconds = max(seconds, 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def job_elapsed(job, *, now: datetime | None = None) -> timedelta:
    start = job.started_at or job.created_at
    end = job.finished_at or now or timezone.now()
    if start is None:
        return timedelta(0)
    return end - start


@register.filter
def elapsed(job) -> str:
    return duration(job_elapsed(job))


@register.filter
def tail(text: str | None, lines: int = 15) -> str:
    """The last `lines` lines of a text (the PVE task log is long; the end is what matters)."""
    if not text:
        return ""
    return "\n".join(str(text).rstrip("\n").splitlines()[-int(lines) :])


# What a customer reads for job kinds named in staff's words.
CUSTOMER_JOB_TITLES = {"sync": "Refresh status"}


def job_title_for(job, *, staff: bool) -> str:
    """ "Power: reboot", not "Power"; customers read "Refresh status", not "Sync from PVE"."""
    if not staff and job.kind in CUSTOMER_JOB_TITLES:
        return CUSTOMER_JOB_TITLES[job.kind]
    action = (job.params or {}).get("action") if job.kind == "power" else None
    title = job.get_kind_display()
    return f"{title}: {action}" if action else title


@register.filter
def job_title(job, user) -> str:
    """{{ job|job_title:user }}"""
    return job_title_for(job, staff=bool(getattr(user, "is_staff", False)))
