"""The OpenAPI schema is generated without warnings and documents what the API really does."""

import pytest
import yaml
from django.core.management import call_command
from rest_framework.throttling import AnonRateThrottle

ACTIONS = ["resize", "power", "rebuild", "reset-password", "suspend", "unsuspend"]


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    # --fail-on-warn turns any undocumented view, field or parameter into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_documents_202_400_404_409(schema, action):
    operation = schema["paths"][f"/api/v1/servers/{{id}}/{action}/"]["post"]
    assert {"202", "400", "401", "403", "404", "409"} <= set(operation["responses"])
    accepted = operation["responses"]["202"]["content"]["application/json"]["schema"]
    assert accepted == {"$ref": "#/components/schemas/Job"}
    conflict = operation["responses"]["409"]["content"]["application/json"]["schema"]
    assert conflict == {"$ref": "#/components/schemas/Conflict"}


def test_resize_has_examples(schema):
    operation = schema["paths"]["/api/v1/servers/{id}/resize/"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert any(e["value"].get("disk_gib") for e in examples.values())
    assert "examples" in operation["responses"]["400"]["content"]["application/json"]


def test_status_and_specs_are_read_only_in_the_schema(schema):
    server = schema["components"]["schemas"]["Server"]
    for field in ("status", "cpu_cores", "memory_mib", "disk_gib", "vmid", "node"):
        assert server["properties"][field].get("readOnly") is True, field
    node_request = schema["components"]["schemas"]["NodeRequest"]["properties"]
    assert node_request["token_secret"]["writeOnly"] is True
    assert "token_secret" not in schema["components"]["schemas"]["Node"]["properties"]


def test_list_parameters_are_documented(schema):
    servers = {p["name"] for p in schema["paths"]["/api/v1/servers/"]["get"]["parameters"]}
    assert {"page", "q", "status", "node", "is_suspended", "ordering"} <= servers
    jobs = {p["name"] for p in schema["paths"]["/api/v1/jobs/"]["get"]["parameters"]}
    assert {"page", "server", "state", "kind"} <= jobs


def test_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    # Swagger UI from the vendored sidecar static files, not a CDN.
    assert "drf_spectacular_sidecar/swagger-ui-dist" in docs.content.decode()
    assert "cdn" not in docs.content.decode().lower()


@pytest.mark.django_db
def test_anonymous_requests_are_throttled(client, monkeypatch):
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/min"})
    for _ in range(2):
        assert client.post("/api/v1/tokens/", {}).status_code == 400
    throttled = client.post("/api/v1/tokens/", {})
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert "Retry-After" in throttled
    cache.clear()
