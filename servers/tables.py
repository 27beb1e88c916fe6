"""Column definitions for the server list: what each column shows, kept out of the template."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.http import QueryDict
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
class Header:
    column: Column
    # Link that sorts by this column (keeping the filters), and the current sort for aria-sort.
    url: str = ""
    sort: str = ""  # "ascending", "descending" or ""


@dataclass(frozen=True)
class Row:
    server: Server
    cells: list[Cell]


_NAME = Column("name", "Name", lambda s: s.name, ordering="name", link=True)
_HOSTNAME = Column("hostname", "Hostname", lambda s: s.hostname, ordering="hostname")
_SPECS = Column("specs", "Specs", server_specs_text)
_STATUS = Column(
    "status", "Status", lambda s: s.get_status_display(), ordering="status", badge=True
)

# Customers see where their server is, never the node's name; staff see the node and the owner.
SERVER_COLUMNS: tuple[Column, ...] = (
    _NAME,
    _HOSTNAME,
    Column("location", "Location", lambda s: s.node.location or "—"),
    _SPECS,
    _STATUS,
)
STAFF_SERVER_COLUMNS: tuple[Column, ...] = (
    _NAME,
    Column("owner", "Owner", lambda s: s.owner.get_username(), ordering="owner"),
    _HOSTNAME,
    Column("node", "Node", lambda s: s.node.name),
    _SPECS,
    _STATUS,
)


class ServerTable:
    def __init__(
        self, servers: Iterable[Server], *, params: QueryDict | None = None, staff: bool = False
    ):
        self.servers = servers
        self.params = params if params is not None else QueryDict()
        self.columns = STAFF_SERVER_COLUMNS if staff else SERVER_COLUMNS

    @property
    def headers(self) -> list[Header]:
        current = self.params.get("ordering", "")
        headers = []
        for column in self.columns:
            if not column.ordering:
                headers.append(Header(column=column))
                continue
            sort = ""
            if current == column.ordering:
                sort = "ascending"
            elif current == f"-{column.ordering}":
                sort = "descending"
            params = self.params.copy()
            params["ordering"] = f"-{column.ordering}" if sort == "ascending" else column.ordering
            headers.append(Header(column=column, url=f"?{params.urlencode()}", sort=sort))
        return headers

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
