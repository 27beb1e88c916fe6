"""Rows for the API and admin tests. The API never talks to PVE inside a request, so plain rows
(a node whose URL nothing listens on) are enough; any HTTP call would fail the test."""

import pytest
import responses
from knox.models import get_token_model
from rest_framework.test import APIClient

from servers.models import Server, ServerStatus


@pytest.fixture
def no_pve_calls():
    """Any HTTP request made through `requests` (the PVE client's transport) is recorded and
    refused; the test asserts none happened."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        assert len(mock.calls) == 0, [call.request.url for call in mock.calls]


def make_server(*, owner, plan, node, template, name, vmid, **extra):
    values = {
        "owner": owner,
        "plan": plan,
        "node": node,
        "template": template,
        "name": name,
        "hostname": f"{name}.example.com",
        "vmid": vmid,
        "cpu_cores": 2,
        "memory_mib": 2048,
        "disk_gib": 20,
        "status": ServerStatus.RUNNING,
    }
    values.update(extra)
    return Server.objects.create(**values)


@pytest.fixture
def server_a(customer, plan, offline_node, offline_template):
    return make_server(
        owner=customer,
        plan=plan,
        node=offline_node,
        template=offline_template,
        name="alpha",
        vmid=101,
    )


@pytest.fixture
def server_b(other_customer, plan, offline_node, offline_template):
    return make_server(
        owner=other_customer,
        plan=plan,
        node=offline_node,
        template=offline_template,
        name="bravo",
        vmid=102,
    )


def token_client(user) -> APIClient:
    _, token = get_token_model().objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def client_a(customer):
    return token_client(customer)


@pytest.fixture
def client_b(other_customer):
    return token_client(other_customer)


@pytest.fixture
def staff_client(staff_user):
    return token_client(staff_user)


@pytest.fixture
def anon_client():
    return APIClient()
