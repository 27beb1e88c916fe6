"""Column definitions for the server list: what each column shows, kept out of the template."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.urls import reverse

from panel.templatetags.panel_ui import server_specs_text
from servers.models import Server


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    value: Callable[[Server], str]
    # Query parameter value of the FilterSet's `ordering` filter, when the column sorts.
    ordering: str = ""
    link: bool = False
    badge: bool = False


@dataclass(frozen=True)
class Cell:
    column: Column
    value: str
    url: str = ""
    badge_class: str = ""


@dataclass(frozen=True)
class Row:
    server: Server
    cells: list[Cell]


SERVER_COLUMNS: tuple[Column, ...] = (
    Column("name", "Name", lambda s: s.name, ordering="name", link=True),
    Column("hostname", "Hostname", lambda s: s.hostname, ordering="hostname"),
    Column("node", "Location", lambda s: s.node.name),
    Column("specs", "Specs", server_specs_text),
    Column("status", "Status", lambda s: s.get_status_display(), ordering="status", badge=True),
)


class ServerTable:
    columns = SERVER_COLUMNS

    def __init__(self, servers: Iterable[Server]):
        self.servers = servers

    @property
    def rows(self) -> list[Row]:
        rows = []
        for server in self.servers:
            url = reverse("servers:detail", args=[server.pk])
            cells = [
                Cell(
                    column=column,
                    value=column.value(server),
                    url=url if column.link else "",
                    badge_class=f"badge badge-{server.status}" if column.badge else "",
                )
                for column in self.columns
            ]
            rows.append(Row(server=server, cells=cells))
        return rows
