"""Validation in the services (the one place): units, limits, shrink, state, permissions.

The node behind ``offline_server`` answers nothing, so these also show that a request only
validates and records a Job; it never calls PVE.
"""

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError

from panel.jobs import JobConflict
from panel.models import AuditEntry, Job, JobKind, JobState
from servers import services
from servers.models import Server, ServerStatus

pytestmark = pytest.mark.django_db


def _errors(excinfo) -> dict:
    return excinfo.value.message_dict


def test_shrinking_a_disk_is_refused_with_a_clear_message(offline_server, customer):
    with pytest.raises(ValidationError) as info:
        services.server_resize(server=offline_server, user=customer, disk_gib=10)
    assert _errors(info)["disk_gib"] == [
        "Disks can only grow: the disk is 20 GiB, so 10 GiB is not possible."
    ]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cpu_cores", 0, "Must be at least 1 core."),
        ("cpu_cores", -2, "Must be at least 1 core."),
        ("memory_mib", 0, "Must be at least 256 MiB."),
        ("memory_mib", 128, "Must be at least 256 MiB."),
        ("disk_gib", -5, "Must be at least 1 GiB."),
        ("cpu_cores", 100_000, "The panel allows at most 512 cores."),
        ("memory_mib", 10**12, "The panel allows at most 16777216 MiB."),
        ("disk_gib", 10**9, "The panel allows at most 131072 GiB."),
        ("cpu_cores", 9, "The plan Standard allows at most 8 cores."),
        ("memory_mib", 16385, "The plan Standard allows at most 16384 MiB."),
        ("disk_gib", 201, "The plan Standard allows at most 200 GiB."),
        ("cpu_cores", 2.5, "Enter a whole number."),
        ("cpu_cores", "four", "Enter a whole number."),
        ("cpu_cores", True, "Enter a whole number."),
    ],
)
def test_bad_values_are_refused_per_field(offline_server, customer, field, value, message):
    with pytest.raises(ValidationError) as info:
        services.server_resize(server=offline_server, user=customer, **{field: value})
    assert _errors(info)[field] == [message]
    assert not Job.objects.exists()


def test_node_limits_apply_too(offline_server, customer):
    offline_server.node.max_cpu_cores = 4
    offline_server.node.save()
    with pytest.raises(ValidationError) as info:
        services.server_resize(server=offline_server, user=customer, cpu_cores=6)
    assert _errors(info)["cpu_cores"] == ["The node Frankfurt 1 allows at most 4 cores."]


def test_nothing_to_change_is_refused(offline_server, customer):
    with pytest.raises(ValidationError) as info:
        services.server_resize(
            server=offline_server, user=customer, cpu_cores=2, memory_mib=2048, disk_gib=20
        )
    assert "Nothing to change" in _errors(info)[NON_FIELD_ERRORS][0]


def _with_pending(server: Server, **pending) -> Server:
    Server.objects.filter(pk=server.pk).update(**pending)
    server.refresh_from_db()
    return server


def test_asking_for_what_is_already_pending_changes_nothing(offline_server, customer):
    server = _with_pending(offline_server, pending_cpu_cores=4)
    with pytest.raises(ValidationError) as info:
        services.server_resize(server=server, user=customer, cpu_cores=4)
    message = _errors(info)[NON_FIELD_ERRORS][0]
    assert message == (
        "Nothing to change: the server already has 4 cores, 2048 MiB of memory and a 20 GiB "
        "disk after its next restart. Restart it to apply them."
    )


def test_asking_for_what_it_runs_with_cancels_a_pending_change(offline_server, customer):
    server = _with_pending(offline_server, pending_cpu_cores=4)
    job = services.server_resize(server=server, user=customer, cpu_cores=2)
    assert job.params["cpu_cores"] == 2


def test_restart_with_only_a_pending_change_is_a_reboot(offline_server, customer):
    server = _with_pending(offline_server, pending_memory_mib=4096)
    job = services.server_resize(server=server, user=customer, memory_mib=4096, restart=True)
    assert (job.kind, job.params) == (JobKind.POWER, {"action": "reboot"})


def test_a_rebuild_keeps_the_sizes_waiting_for_the_next_restart(
    offline_server, offline_template, customer
):
    server = _with_pending(offline_server, pending_cpu_cores=4, pending_memory_mib=4096)
    job = services.server_rebuild(server=server, user=customer, template=offline_template)
    assert (job.params["cpu_cores"], job.params["memory_mib"]) == (4, 4096)


def test_a_valid_resize_records_one_job_with_only_the_changes(
    offline_server, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        job = services.server_resize(
            server=offline_server, user=customer, cpu_cores=4, memory_mib=2048, disk_gib="40"
        )
    assert len(callbacks) == 1  # the chain is queued only after the commit
    assert job.kind == JobKind.RESIZE and job.state == JobState.QUEUED
    assert job.params == {
        "cpu_cores": 4,
        "disk_gib": 40,
        "previous": {"cpu_cores": 2, "memory_mib": 2048, "disk_gib": 20},
    }
    assert [s["name"] for s in job.steps] == ["configure", "resize_disk", "finish"]
    # Each step runs in the Celery task of its PVE operation.
    assert [s["task"] for s in job.steps] == [
        "servers.tasks.configure",
        "servers.tasks.resize",
        "servers.tasks.read_back",
    ]
    offline_server.refresh_from_db()
    # The database still holds what PVE confirmed; only the status says a resize runs.
    assert (offline_server.cpu_cores, offline_server.disk_gib) == (2, 20)
    assert offline_server.status == ServerStatus.RESIZING
    assert AuditEntry.objects.filter(job=job, actor=customer, action="server_resize").exists()


def test_a_second_mutation_while_one_is_active_is_refused(offline_server, customer):
    first = services.server_resize(server=offline_server, user=customer, cpu_cores=4)
    with pytest.raises(JobConflict) as info:
        services.server_power(server=offline_server, user=customer, action="reboot")
    assert info.value.active_job == first
    offline_server.refresh_from_db()
    assert offline_server.status == ServerStatus.RESIZING  # untouched by the refused request


def test_suspended_servers_refuse_customer_actions_but_not_staff(
    offline_server, customer, staff_user
):
    Server.objects.filter(pk=offline_server.pk).update(
        is_suspended=True, status=ServerStatus.SUSPENDED
    )
    offline_server.refresh_from_db()
    for call in (
        lambda: services.server_resize(server=offline_server, user=customer, cpu_cores=4),
        lambda: services.server_power(server=offline_server, user=customer, action="start"),
        lambda: services.server_reset_password(
            server=offline_server, user=customer, password="a-new-password"
        ),
        lambda: services.server_delete(server=offline_server, user=customer),
    ):
        with pytest.raises(ValidationError) as info:
            call()
        assert "suspended" in _errors(info)[NON_FIELD_ERRORS][0]
    assert not Job.objects.exists()
    job = services.server_unsuspend(server=offline_server, user=staff_user)
    assert job.kind == JobKind.UNSUSPEND


def test_customers_cannot_act_on_others_servers_or_suspend(
    offline_server, other_customer, customer
):
    with pytest.raises(PermissionDenied):
        services.server_resize(server=offline_server, user=other_customer, cpu_cores=4)
    with pytest.raises(PermissionDenied):
        services.server_suspend(server=offline_server, user=customer)


def test_power_action_must_be_known(offline_server, customer):
    with pytest.raises(ValidationError) as info:
        services.server_power(server=offline_server, user=customer, action="explode")
    assert "action" in _errors(info)


def test_reset_password_needs_a_real_password(offline_server, customer):
    with pytest.raises(ValidationError) as info:
        services.server_reset_password(server=offline_server, user=customer, password="short")
    assert _errors(info)["password"] == ["Use at least 8 characters."]


def test_the_password_is_never_stored_in_clear(offline_server, customer):
    job = services.server_reset_password(
        server=offline_server, user=customer, password="correct horse battery"
    )
    assert "correct horse battery" not in str(job.params)
    assert "correct horse battery" not in str(AuditEntry.objects.get(job=job).details)


def _create(**overrides):
    values = {
        "name": "web",
        "hostname": "web1.example.com",
        "cpu_cores": 2,
        "memory_mib": 2048,
        "disk_gib": 20,
        "password": "",
        "ssh_keys": "",
    }
    values.update(overrides)
    return values


def test_create_validates_everything_at_once(offline_node, offline_template, plan, customer):
    with pytest.raises(ValidationError) as info:
        services.server_create(
            owner=customer,
            plan=plan,
            node=offline_node,
            template=offline_template,
            requested_by=customer,
            **_create(
                hostname="not a host!", cpu_cores=0, disk_gib=5, password="x", ssh_keys="not-a-key"
            ),
        )
    errors = _errors(info)
    assert set(errors) == {"hostname", "cpu_cores", "disk_gib", "password", "ssh_keys"}
    assert errors["disk_gib"] == [
        "The template debian-12 has a 10 GiB disk; choose at least 10 GiB."
    ]
    assert not Server.objects.exists()


def test_create_records_a_provisioning_server_and_the_chain(
    offline_node, offline_template, plan, customer, staff_user
):
    job = services.server_create(
        owner=customer,
        plan=plan,
        node=offline_node,
        template=offline_template,
        requested_by=staff_user,
        vmid=4321,
        **_create(password="s3cret-pass", ssh_keys="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA me@x"),
    )
    server = job.server
    assert server.status == ServerStatus.PROVISIONING and server.vmid == 4321
    assert (server.cpu_cores, server.memory_mib, server.disk_gib) == (0, 0, 0)  # nothing confirmed
    assert job.owner == customer and job.requested_by == staff_user
    assert [(s["name"], s["task"].rsplit(".", 1)[1]) for s in job.steps] == [
        ("clone", "clone"),
        ("configure", "configure"),
        ("resize_disk", "resize"),
        ("start", "start"),
        ("finish", "read_back"),
    ]
    assert "s3cret-pass" not in str(job.params)


def test_create_refuses_a_vmid_already_used_on_the_node(
    offline_node, offline_template, plan, customer, offline_server
):
    with pytest.raises(ValidationError) as info:
        services.server_create(
            owner=customer,
            plan=plan,
            node=offline_node,
            template=offline_template,
            requested_by=customer,
            vmid=offline_server.vmid,
            **_create(),
        )
    assert "already used" in _errors(info)["vmid"][0]


def test_a_server_whose_creation_failed_only_accepts_delete(offline_server, customer):
    Server.objects.filter(pk=offline_server.pk).update(
        status=ServerStatus.ERROR, cpu_cores=0, memory_mib=0, disk_gib=0
    )
    offline_server.refresh_from_db()
    with pytest.raises(ValidationError) as info:
        services.server_power(server=offline_server, user=customer, action="start")
    assert "never built" in _errors(info)[NON_FIELD_ERRORS][0]
    job = services.server_delete(server=offline_server, user=customer)
    assert job.params["status_before"] == ServerStatus.ERROR
