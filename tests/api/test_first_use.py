"""API points of issue 11: customers see no UPID or node name; tokens expire; failed logins do not
throttle the docs; Job.steps is typed in the schema; one minimum-memory message."""

from datetime import timedelta

import pytest
import yaml
from django.utils import timezone
from knox.models import get_token_model
from rest_framework.throttling import AnonRateThrottle

from panel.models import Job, JobKind, JobState
from tests.ui.test_ssh_keys import ED25519, ED25519_FINGERPRINT

pytestmark = pytest.mark.django_db

UPID = "UPID:pve1:0000C346:165A0CE4:68D7279C:qmresize:101:panel@pve!panel:"


@pytest.fixture
def pve_job(server_a):
    return Job.objects.create(
        kind=JobKind.RESIZE,
        state=JobState.FAILED,
        server=server_a,
        owner=server_a.owner,
        upid=UPID,
        upid_node="pve1",
        error=f"Grow the disk: task {UPID} on pve1 failed: lvextend: no space",
        customer_error="The resize did not complete: the host does not have enough free storage.",
        task_log=f"resizing on pve1\n{UPID} ended",
        steps=[
            {
                "name": "resize_disk",
                "label": "Grow the disk",
                "task": "servers.tasks.resize",
                "state": "failed",
                "upid": UPID,
                "upid_node": "pve1",
                "started_at": None,
                "finished_at": None,
                "note": "",
            }
        ],
    )


def test_a_customer_sees_no_upid_and_no_node_name(client_a, pve_job):
    body = client_a.get(f"/api/v1/jobs/{pve_job.pk}/").json()
    text = str(body)
    assert "UPID:" not in text
    assert "pve1" not in text
    assert "panel@pve!panel" not in text
    assert "upid" not in body and "upid_node" not in body
    assert body["steps"] == [
        {
            "name": "resize_disk",
            "label": "Grow the disk",
            "state": "failed",
            "started_at": None,
            "finished_at": None,
            "note": "",
        }
    ]
    # PVE's text is staff's: the customer reads the plain sentence chosen when the job failed.
    assert body["error"] == pve_job.customer_error
    assert "task_log" not in body


def test_step_notes_carry_pves_words_for_staff_only(client_a, staff_client, pve_job):
    note = "hotplug problem - memory can't be lower than 1024 MB on pve1"
    Job.objects.filter(pk=pve_job.pk).update(
        steps=[{**pve_job.steps[0], "note": note, "state": "done"}]
    )
    customer = client_a.get(f"/api/v1/jobs/{pve_job.pk}/").json()
    assert customer["steps"][0]["note"] == "" and customer["steps"][0]["state"] == "done"
    staff = staff_client.get(f"/api/v1/jobs/{pve_job.pk}/").json()
    assert staff["steps"][0]["note"] == note


def test_staff_see_the_upids_and_nodes(staff_client, pve_job):
    body = staff_client.get(f"/api/v1/jobs/{pve_job.pk}/").json()
    assert (body["upid"], body["upid_node"]) == (UPID, "pve1")
    assert (body["steps"][0]["upid"], body["steps"][0]["upid_node"]) == (UPID, "pve1")
    assert "on pve1 failed" in body["error"] and "lvextend: no space" in body["error"]
    assert body["task_log"] == pve_job.task_log


def _login(client, **extra):
    return client.post(
        "/api/v1/tokens/",
        {"username": "alice", "password": "alice-pass-123", **extra},
        format="json",
    )


def test_a_token_expires_after_the_default_lifetime(anon_client, customer, settings):
    response = _login(anon_client)
    assert response.status_code == 201
    expiry = get_token_model().objects.get(user=customer).expiry
    assert expiry is not None
    lifetime = settings.REST_KNOX["TOKEN_TTL"]
    assert timedelta(0) < expiry - timezone.now() <= lifetime


def test_a_token_may_be_asked_for_a_shorter_life_not_a_longer_one(anon_client, customer, settings):
    response = _login(anon_client, ttl_hours=2)
    assert response.status_code == 201
    expiry = get_token_model().objects.get(user=customer).expiry
    assert expiry - timezone.now() <= timedelta(hours=2)

    longest = int(settings.REST_KNOX["TOKEN_TTL"] / timedelta(hours=1))
    refused = _login(anon_client, ttl_hours=longest + 1)
    assert refused.status_code == 400
    assert refused.json()["errors"]["ttl_hours"]


def test_failed_logins_do_not_throttle_the_docs(client, monkeypatch):
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/min"})
    for _ in range(3):
        client.post("/api/v1/tokens/", {"username": "x", "password": "y"})
    assert client.post("/api/v1/tokens/", {}).status_code == 429
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/schema/").status_code == 200
    cache.clear()


def test_job_steps_are_typed_in_the_schema(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    steps = schema["components"]["schemas"]["Job"]["properties"]["steps"]
    assert steps["type"] == "array"
    item = steps["items"]
    if "$ref" in item:
        item = schema["components"]["schemas"][item["$ref"].rsplit("/", 1)[1]]
    assert {"name", "label", "state", "upid"} <= set(item["properties"])


@pytest.mark.parametrize("memory_mib", [-1, 0, 1, 255])
def test_too_little_memory_has_one_message(client_a, server_a, memory_mib):
    response = client_a.post(
        f"/api/v1/servers/{server_a.pk}/resize/", {"memory_mib": memory_mib}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["memory_mib"] == ["Must be at least 256 MiB."]


# --- SSH keys --------------------------------------------------------------------------------


def test_ssh_keys_are_added_listed_and_removed_per_account(client_a, client_b):
    created = client_a.post(
        "/api/v1/ssh-keys/", {"name": "laptop", "public_key": ED25519}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["fingerprint"] == ED25519_FINGERPRINT
    key_id = created.json()["id"]
    assert [k["name"] for k in client_a.get("/api/v1/ssh-keys/").json()["results"]] == ["laptop"]
    assert client_b.get("/api/v1/ssh-keys/").json()["results"] == []
    assert client_b.delete(f"/api/v1/ssh-keys/{key_id}/").status_code == 404
    assert client_a.delete(f"/api/v1/ssh-keys/{key_id}/").status_code == 204


def test_a_bad_key_is_a_400_on_the_field(client_a):
    response = client_a.post(
        "/api/v1/ssh-keys/", {"name": "laptop", "public_key": "ssh-rsa nope"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["public_key"]


def test_a_rebuild_installs_the_owners_keys_only(client_a, client_b, server_a, offline_template):
    mine = client_a.post(
        "/api/v1/ssh-keys/", {"name": "laptop", "public_key": ED25519}, format="json"
    ).json()["id"]
    theirs = client_b.post(
        "/api/v1/ssh-keys/", {"name": "bob", "public_key": ED25519}, format="json"
    ).json()["id"]
    url = f"/api/v1/servers/{server_a.pk}/rebuild/"
    refused = client_a.post(
        url, {"template": offline_template.pk, "ssh_keys": [theirs]}, format="json"
    )
    assert refused.status_code == 400
    assert not Job.objects.filter(kind=JobKind.REBUILD).exists()
    accepted = client_a.post(
        url, {"template": offline_template.pk, "ssh_keys": [mine]}, format="json"
    )
    assert accepted.status_code == 202
    assert Job.objects.get(kind=JobKind.REBUILD).params["ssh_keys"] == ED25519
