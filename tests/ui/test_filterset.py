"""ServerFilterSet: one FilterSet for the web list and the API list."""

import pytest
from django.test import RequestFactory

from servers.filtersets import ServerFilterSet
from servers.models import Server, ServerStatus
from tests.fixtures.data import offline_node_row
from tests.ui.conftest import make_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def paris(db):
    return offline_node_row(name="Paris 9", pve_node="pve9")


@pytest.fixture
def fleet(customer, other_customer, plan, offline_node, paris):
    return {
        "web": make_server(customer, plan, offline_node, name="web-1", vmid=101),
        "mail": make_server(
            customer,
            plan,
            paris,
            name="mail",
            vmid=102,
            hostname="mx.example.org",
            status=ServerStatus.STOPPED,
        ),
        "old": make_server(
            customer,
            plan,
            offline_node,
            name="old",
            vmid=103,
            is_suspended=True,
            status=ServerStatus.SUSPENDED,
        ),
        "bob": make_server(other_customer, plan, paris, name="bobs-db", vmid=201),
    }


def _names(data, user, queryset=None):
    request = RequestFactory().get("/", data)
    request.user = user
    queryset = queryset if queryset is not None else Server.objects.all()
    filterset = ServerFilterSet(data, queryset=queryset, request=request)
    assert filterset.is_valid(), filterset.errors
    return sorted(s.name for s in filterset.qs)


def test_search_matches_name_or_hostname_case_insensitively(fleet, staff_user):
    assert _names({"q": "MX.example"}, staff_user) == ["mail"]
    assert _names({"q": "web"}, staff_user) == ["web-1"]
    assert _names({"q": "  "}, staff_user) == ["bobs-db", "mail", "old", "web-1"]


def test_status_node_and_suspended(fleet, staff_user, paris):
    assert _names({"status": "stopped"}, staff_user) == ["mail"]
    assert _names({"node": paris.pk}, staff_user) == ["bobs-db", "mail"]
    assert _names({"is_suspended": "true"}, staff_user) == ["old"]
    assert _names({"is_suspended": "false", "node": paris.pk}, staff_user) == ["bobs-db", "mail"]


def test_unknown_status_is_a_validation_error(fleet, staff_user):
    filterset = ServerFilterSet({"status": "melting"}, queryset=Server.objects.all())
    assert not filterset.is_valid()
    assert "status" in filterset.errors


def test_customer_may_filter_only_by_nodes_of_their_servers(fleet, customer, other_customer):
    # Bob's only node is Paris; Frankfurt (where only Alice has servers) is not a choice for him.
    request = RequestFactory().get("/")
    request.user = other_customer
    filterset = ServerFilterSet({}, queryset=Server.objects.none(), request=request)
    assert [n.name for n in filterset.form.fields["node"].queryset] == ["Paris 9"]
    request.user = customer
    filterset = ServerFilterSet({}, queryset=Server.objects.none(), request=request)
    assert sorted(n.name for n in filterset.form.fields["node"].queryset) == [
        "Frankfurt 1",
        "Paris 9",
    ]
