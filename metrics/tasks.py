"""The graph refresh: thin, the work is ``metrics.services.graph_refresh``."""

from __future__ import annotations

from celery import shared_task

from metrics import services


# Short limits: a refresh that cannot finish in a minute is worth nothing; the next page view
# queues another. No retries for the same reason.
@shared_task(ignore_result=True, time_limit=90, soft_time_limit=75)
def graph_refresh(kind: str, node_id: int, vmid: int | None, timeframe: str) -> None:
    services.graph_refresh(kind=kind, node_id=node_id, vmid=vmid, timeframe=timeframe)
