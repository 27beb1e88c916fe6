"""server_adopt: staff record a VM that already exists on PVE; a sync job reads its specs."""

import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from panel.models import AuditEntry, Job, JobKind, JobState
from servers import services
from servers.models import Server, ServerStatus
from servers.steps import PANEL_TAG, has_marker
from tests.fixtures.worker import wait_for_job

MARKED_UUID = uuid.UUID("6f0c6b7e-2d6a-4c1e-9a51-3b7e0d9c1001")
MARKED_DESCRIPTION = f"Made by hand.\npanel-server-uuid: {MARKED_UUID}"


def _adopt(node, plan, customer, staff_user, **overrides):
    values = {
        "node": node,
        "vmid": 150,
        "owner": customer,
        "plan": plan,
        "name": "legacy",
        "hostname": "legacy.example.com",
        "requested_by": staff_user,
    }
    values.update(overrides)
    return services.server_adopt(**values)


@pytest.mark.django_db
def test_adopt_records_the_server_and_queues_a_sync(offline_node, plan, customer, staff_user):
    job = _adopt(offline_node, plan, customer, staff_user, marker_uuid=MARKED_UUID)

    server = Server.objects.get()
    assert (server.uuid, server.owner, server.vmid, server.status) == (
        MARKED_UUID,
        customer,
        150,
        ServerStatus.PROVISIONING,
    )
    # Nothing is recorded that PVE has not said: the specs wait for the sync.
    assert (server.cpu_cores, server.memory_mib, server.disk_gib) == (0, 0, 0)
    assert (job.kind, job.state, job.server) == (JobKind.SYNC, JobState.QUEUED, server)
    assert AuditEntry.objects.filter(action="server_adopt", job=job).exists()


@pytest.mark.django_db
def test_adopt_is_for_staff_only(offline_node, plan, customer):
    with pytest.raises(PermissionDenied):
        _adopt(offline_node, plan, customer, customer)
    assert not Server.objects.exists()


@pytest.mark.django_db
def test_adopt_refuses_a_vmid_already_recorded(offline_server, plan, customer, staff_user):
    with pytest.raises(ValidationError) as info:
        _adopt(offline_server.node, plan, customer, staff_user, vmid=offline_server.vmid)
    assert info.value.message_dict["vmid"] == [
        f"VMID {offline_server.vmid} is already used by a server on {offline_server.node.name}."
    ]
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_adopt_refuses_a_marker_already_recorded(offline_node, plan, customer, staff_user):
    _adopt(offline_node, plan, customer, staff_user, marker_uuid=MARKED_UUID)
    with pytest.raises(ValidationError, match="already recorded"):
        _adopt(offline_node, plan, customer, staff_user, vmid=151, marker_uuid=MARKED_UUID)
    assert Server.objects.count() == 1


def test_the_marker_uuid_is_read_from_a_description():
    assert services.server_uuid_from_marker(MARKED_DESCRIPTION) == MARKED_UUID
    assert services.server_uuid_from_marker("Made by hand.") is None
    assert services.server_uuid_from_marker("panel-server-uuid: not-a-uuid") is None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_sync_reads_the_adopted_vms_specs_from_pve(
    celery_worker_process, pve_sim, node, plan, customer, staff_user
):
    pve_sim.add_vm(
        node.pve_node,
        150,
        name="legacy",
        cores=3,
        memory_mib=3072,
        disk_gib=30,
        running=False,
        tags=PANEL_TAG,
        description=MARKED_DESCRIPTION,
    )

    job = _adopt(node, plan, customer, staff_user, marker_uuid=MARKED_UUID)
    job = wait_for_job(job, worker=celery_worker_process)

    assert job.state == JobState.SUCCEEDED, (job.error, job.steps)
    server = Server.objects.get()
    assert (server.cpu_cores, server.memory_mib, server.disk_gib, server.status) == (
        3,
        3072,
        30,
        ServerStatus.STOPPED,
    )
    assert has_marker(pve_sim.vm(150).config, server)
