"""Property-based run of the whole API against its own OpenAPI schema (schemathesis), as staff and
as a customer: no 5xx, and every answer matches the documented status codes, headers and bodies.
Bounded by `max_examples` so CI stays fast."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from knox.models import get_token_model
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks as openapi_checks

from config.wsgi import application
from tests.api.conftest import make_server

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


def negative_body_rejection(ctx, response, case):
    """Schema-invalid bodies and paths must be refused. Not query strings: django-filter reads an
    empty filter (`?status=`) as "any", like the web form's "Any" choice, by design."""
    if case.method.upper() == "GET":
        return None
    return openapi_checks.negative_data_rejection(ctx, response, case)


# Everything that says "the server broke" or "the answer is not what the schema promised".
# Not `positive_data_acceptance`: a schema-valid body can still name a plan that does not exist or
# a password that is wrong, and a 400 with field messages is then the documented, right answer.
CHECKS = [
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    negative_body_rejection,
    openapi_checks.unsupported_method,
]


@pytest.fixture
def keep_test_connection():
    """Requests go through the real WSGI handler, which closes "old" database connections at
    their end; in a test that would close the test's own transaction, as Django's test client
    knows. Do what it does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(
    keep_test_connection, customer, other_customer, staff_user, plan, offline_node, offline_template
):
    make_server(
        owner=customer,
        plan=plan,
        node=offline_node,
        template=offline_template,
        name="alpha",
        vmid=101,
    )
    make_server(
        owner=other_customer,
        plan=plan,
        node=offline_node,
        template=offline_template,
        name="bravo",
        vmid=102,
    )
    return {
        "staff": get_token_model().objects.create(user=staff_user)[1],
        "customer": get_token_model().objects.create(user=customer)[1],
    }


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_matches_its_schema(case, world):
    for who in ("staff", "customer"):
        response = case.call(headers={"Authorization": f"Token {world[who]}"})
        case.validate_response(
            response, headers={"Authorization": f"Token {world[who]}"}, checks=CHECKS
        )
