"""Celery tasks of the traffic app, thin: the beat task that samples every node (one task per node,
so a node that does not answer delays no other), and the job task that writes a NIC's rate."""

from __future__ import annotations

import logging

from celery import shared_task

from panel.jobs import job_task_run
from traffic import jobs
from traffic.services import traffic_nodes_to_sample, traffic_sample_and_enforce

logger = logging.getLogger(__name__)


@shared_task(name="traffic.tasks.traffic_sample", acks_late=True, ignore_result=True)
def traffic_sample() -> None:
    for node_id in traffic_nodes_to_sample():
        traffic_sample_node.delay(node_id)


@shared_task(
    name="traffic.tasks.traffic_sample_node",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=300,
    time_limit=360,
)
def traffic_sample_node(node_id: int) -> None:
    traffic_sample_and_enforce(node_id=node_id)


@shared_task(**jobs.SET_NIC_RATE.celery_options())
def set_nic_rate(self, job_id: str) -> None:
    job_task_run(self, job_id)
