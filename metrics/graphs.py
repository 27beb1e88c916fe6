"""What a usage graph shows, and PVE's RRD rows turned into it. Plain data, no Django, no PVE.

PVE answers ``rrddata`` as one object per step with a key per data source it holds a value for
(a stopped VM's rows have no ``cpu``, ``mem`` or rates; rows before the VM existed have only
``time``). A graph is the times plus one list per series, ``None`` where PVE had no value, so a
chart draws a gap there and the table prints a dash, never a made-up zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

MIB = 1024**2


@dataclass(frozen=True)
class Timeframe:
    name: str
    label: str
    # How long a fetched graph is served before the next page view asks the worker for a fresh
    # one: about one PVE step (a new row) or a few minutes, whichever is longer. So however many
    # people look at a server, PVE is asked once per lifetime.
    fresh_s: int


TIMEFRAMES = {
    t.name: t
    for t in (
        Timeframe("hour", "Hour", 60),  # 1 min steps
        Timeframe("day", "Day", 5 * 60),  # 1 min steps; a day's graph moves little in 5 minutes
        Timeframe("week", "Week", 30 * 60),  # 30 min steps
        Timeframe("month", "Month", 30 * 60),  # 30 min steps
        Timeframe("year", "Year", 6 * 3600),  # 6 h steps
    )
}
DEFAULT_TIMEFRAME = "hour"


@dataclass(frozen=True)
class Series:
    key: str  # the series' name in the graph (and in the chart's legend)
    label: str
    source: str  # PVE's data source
    convert: Callable[[float], float]


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    unit: str  # shown on the axis and in the table: %, MiB, bytes/s
    series: tuple[Series, ...]


def _percent(fraction: float) -> float:
    return round(fraction * 100, 2)


def _mib(size_bytes: float) -> float:
    return round(size_bytes / MIB, 1)


def _rate(bytes_per_s: float) -> float:
    return round(bytes_per_s, 1)


def _plain(value: float) -> float:
    return round(value, 2)


VM_CHARTS = (
    Chart("cpu", "CPU", "%", (Series("cpu", "CPU", "cpu", _percent),)),
    Chart(
        "memory",
        "Memory",
        "MiB",
        (Series("mem", "Used", "mem", _mib), Series("maxmem", "Total", "maxmem", _mib)),
    ),
    Chart(
        "disk",
        "Disk I/O",
        "bytes/s",
        (
            Series("diskread", "Read", "diskread", _rate),
            Series("diskwrite", "Write", "diskwrite", _rate),
        ),
    ),
    Chart(
        "network",
        "Network",
        "bytes/s",
        (Series("netin", "In", "netin", _rate), Series("netout", "Out", "netout", _rate)),
    ),
)

NODE_CHARTS = (
    Chart(
        "cpu",
        "CPU",
        "%",
        (Series("cpu", "CPU", "cpu", _percent), Series("iowait", "IO wait", "iowait", _percent)),
    ),
    Chart("load", "Load average", "", (Series("loadavg", "1 min", "loadavg", _plain),)),
    Chart(
        "memory",
        "Memory",
        "MiB",
        (
            Series("memused", "Used", "memused", _mib),
            Series("memtotal", "Total", "memtotal", _mib),
        ),
    ),
    Chart(
        "network",
        "Network",
        "bytes/s",
        (Series("netin", "In", "netin", _rate), Series("netout", "Out", "netout", _rate)),
    ),
)


def graph_from_rows(rows: list[dict], charts: tuple[Chart, ...]) -> dict:
    """PVE's rows -> {"times": [...], "series": {key: [value | None, ...]}} (JSON-ready)."""
    rows = sorted((row for row in rows if "time" in row), key=lambda row: row["time"])
    series: dict[str, list[float | None]] = {}
    for chart in charts:
        for s in chart.series:
            series[s.key] = [
                s.convert(float(row[s.source])) if row.get(s.source) is not None else None
                for row in rows
            ]
    return {"times": [int(row["time"]) for row in rows], "series": series}


def charts_spec(charts: tuple[Chart, ...]) -> list[dict]:
    """What the browser's script needs to draw ``charts`` (names, units, series labels)."""
    return [
        {
            "name": chart.name,
            "title": chart.title,
            "unit": chart.unit,
            "series": [{"key": s.key, "label": s.label} for s in chart.series],
        }
        for chart in charts
    ]


BINARY_PREFIXES = ("", "Ki", "Mi", "Gi", "Ti")


def format_value(value: float | None, unit: str) -> str:
    """A value for people, with its unit: "12.5 %", "812 MiB", "1.2 MiB/s"; a dash for none."""
    if value is None:
        return "—"
    if unit == "bytes/s":
        scaled, prefix = float(value), 0
        while abs(scaled) >= 1024 and prefix < len(BINARY_PREFIXES) - 1:
            scaled, prefix = scaled / 1024, prefix + 1
        return f"{scaled:.1f} {BINARY_PREFIXES[prefix]}B/s" if prefix else f"{scaled:.0f} B/s"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    if unit == "%":
        return f"{value:.1f} %"
    return f"{value:.2f}"


TABLE_ROWS = 24


def graph_table(data: dict, charts: tuple[Chart, ...], *, rows: int = TABLE_ROWS) -> dict:
    """The graph as a short table (every n-th row, the newest last) for reading without JavaScript:
    {"columns": [(chart title, series label, unit)], "rows": [(time, [formatted values])]}."""
    times = data.get("times", [])
    series = data.get("series", {})
    every = max(1, -(-len(times) // rows))  # ceiling division
    picked = list(range(len(times) - 1, -1, -every))[::-1]
    columns = [(chart.title, s.label, chart.unit) for chart in charts for s in chart.series]
    keys = [(s.key, chart.unit) for chart in charts for s in chart.series]
    return {
        "columns": columns,
        "every": every,
        "rows": [
            (
                datetime.fromtimestamp(times[i], tz=UTC),
                [
                    format_value((series.get(key) or [None] * len(times))[i], unit)
                    for key, unit in keys
                ],
            )
            for i in picked
        ],
    }
