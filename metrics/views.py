"""Usage graph pages and fragments. Thin: the server through ``servers_for_user`` (someone else's
is a 404), the graph through ``metrics.services`` (the cache; never PVE).

With htmx the URL answers the graphs fragment (the server page loads it lazily, a "loading"
fragment polls itself); without JavaScript it is a page of its own with the table.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from metrics import services
from metrics.graphs import DEFAULT_TIMEFRAME, TIMEFRAMES, charts_spec, graph_table
from nodes.models import Node
from panel.htmx import is_htmx, login_required, render_fragment
from servers.selectors import servers_for_user

TEMPLATE = "metrics/graphs.html"
# A "loading" fragment polls every 2 s; after this many polls it says the graphs are unavailable
# (no worker is answering) instead of spinning for ever.
MAX_POLLS = 30


def _timeframe(request: HttpRequest) -> str | None:
    timeframe = request.GET.get("timeframe") or DEFAULT_TIMEFRAME
    return timeframe if timeframe in TIMEFRAMES else None


def _polls(request: HttpRequest) -> int:
    try:
        return max(0, min(int(request.GET.get("poll", 0)), MAX_POLLS))
    except ValueError:
        return 0


def _context(request: HttpRequest, graph: services.Graph, timeframe: str, url: str) -> dict:
    polls = _polls(request)
    state = graph.state
    if state == "loading" and polls >= MAX_POLLS:
        state = "unavailable"
    return {
        "graph": graph,
        "state": state,
        "timeframe": TIMEFRAMES[timeframe],
        "timeframes": TIMEFRAMES.values(),
        "graphs_url": url,
        "next_poll": polls + 1,
        "payload": {"charts": charts_spec(graph.charts), "data": graph.data},
        "table_open": not is_htmx(request),
        "table": graph_table(graph.data, graph.charts) if graph.ready else None,
    }


def _answer(request, context: dict, page_template: str) -> HttpResponse:
    if is_htmx(request):
        return render_fragment(request, TEMPLATE, "graphs", context)
    return render(request, page_template, context)


@require_GET
@login_required
def server_graphs(request: HttpRequest, pk: int) -> HttpResponse:
    server = get_object_or_404(servers_for_user(user=request.user), pk=pk)
    timeframe = _timeframe(request)
    if timeframe is None:
        return HttpResponseBadRequest("Unknown timeframe: choose hour, day, week, month or year.")
    graph = services.server_graph(server=server, timeframe=timeframe)
    url = reverse("metrics:server-graphs", args=[server.pk])
    context = {**_context(request, graph, timeframe, url), "server": server}
    return _answer(request, context, "metrics/server_graphs.html")


@require_GET
def node_graphs(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff only (wrapped in the admin site's ``admin_view`` in urls.py)."""
    node = get_object_or_404(Node, pk=pk)
    timeframe = _timeframe(request)
    if timeframe is None:
        return HttpResponseBadRequest("Unknown timeframe: choose hour, day, week, month or year.")
    graph = services.node_graph(node=node, timeframe=timeframe)
    url = reverse("metrics:node-graphs", args=[node.pk])
    context = {**_context(request, graph, timeframe, url), "node": node, "staff": True}
    context["opts"] = Node._meta  # the admin's breadcrumbs
    context["title"] = f"Usage graphs: {node.name}"
    return _answer(request, context, "admin/metrics/node_graphs.html")
