"""Where the panel's word and PVE's state could part (issue 11, points 2-4), on the simulator with
a real worker: VMIDs raced across a cluster, a write answered ambiguously (a bare 5xx, a dropped
connection) after PVE carried it out, and a job that fails while PVE's task runs on."""

import pytest

from panel.jobs import job_run_task, jobs_sweep
from panel.models import JobState
from proxmox.units import GIB, drive_size_bytes
from servers import services
from servers.models import Server, ServerStatus
from servers.steps import StepError, has_marker, step_context
from tests.fixtures.data import sim_node, sim_template
from tests.fixtures.worker import wait_for_job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RESIZE = "PUT /nodes/{node}/qemu/{vmid}/resize"
CLONE = "POST /nodes/{node}/qemu/{vmid}/clone"
TASK_STATUS = "GET /nodes/{node}/tasks/{upid}/status"
AMBIGUOUS_ANSWERS = ("500_after", "502_after", "reset_after", "500", "reset")
# Longer than the pause before a step that met a transient error runs again, so that rerun finds
# PVE's task still running: only following that task (not reading the effect) avoids a second.
SLOW_TASK_S = 4.0


def succeeded(job, worker):
    job = wait_for_job(job, worker=worker)
    assert job.state == JobState.SUCCEEDED, (job.error, job.steps, worker.log_tail())
    return job


def tasks_of(pve_sim, task_type: str) -> list:
    with pve_sim.state.lock:
        return [t for t in pve_sim.state.tasks.values() if t.type == task_type]


def disk_gib_on_sim(pve_sim, vmid) -> float:
    return drive_size_bytes(pve_sim.vm(vmid).merged_config()["scsi0"]) / GIB


# --- point 2: VMIDs are cluster-wide ---------------------------------------------------------


@pytest.fixture
def second_node_template(pve_sim, db):
    """A node row for the simulator's second PVE node (same cluster) and a template on it."""
    node2 = sim_node(pve_sim, name="Sim 2", pve_node="pve2")
    return sim_template(pve_sim, node2, vmid=9001, name="debian-12-b")


def test_two_creates_at_once_on_two_nodes_of_one_cluster_get_different_vmids(
    celery_worker_process, pve_sim, node, template, second_node_template, order_server
):
    # Both clones are slow to be accepted, so both jobs ask PVE for the next free VMID before
    # either VM exists on PVE: /cluster/nextid gives them the same id.
    pve_sim.knobs.latency_by_endpoint = {CLONE: 1.5}
    jobs = [
        order_server(name="left"),
        order_server(name="right", node=second_node_template.node, template=second_node_template),
    ]
    jobs = [succeeded(job, celery_worker_process) for job in jobs]
    servers = [Server.objects.get(pk=job.server_id) for job in jobs]
    assert servers[0].vmid != servers[1].vmid
    for server in servers:
        vm = pve_sim.vm(server.vmid)
        assert vm.node == server.node.pve_node and has_marker(vm.merged_config(), server)
    assert len(tasks_of(pve_sim, "qmclone")) == 2


@pytest.mark.parametrize("pve_node", ["pve1", "pve2"])
def test_a_create_whose_vmid_another_client_takes_allocates_again(
    celery_worker_process, pve_sim, node, template, second_node_template, order_server, pve_node
):
    """Another client takes the id /cluster/nextid gave us, on the first node: on that node PVE
    refuses the clone, on the other the clone's task fails. The panel allocates again and never
    touches the other client's VM."""
    target = node if pve_node == "pve1" else second_node_template.node
    chosen = template if pve_node == "pve1" else second_node_template
    pve_sim.knobs.nextid_races = 2
    job = succeeded(order_server(name="raced", node=target, template=chosen), celery_worker_process)
    server = Server.objects.get(pk=job.server_id)
    foreign = [vm for vm in pve_sim.state.nodes["pve1"].vms.values() if vm.vmid != server.vmid]
    others = [vm for vm in foreign if str(vm.config.get("name", "")).startswith("other-client-")]
    assert others, "the simulator's other client took no VMID"
    assert server.vmid not in {vm.vmid for vm in others}
    for vm in others:  # untouched: still the other client's 1 GiB VM, never destroyed or written
        assert vm.config["name"] == f"other-client-{vm.vmid}"
        assert drive_size_bytes(vm.merged_config()["scsi0"]) == 1 * GIB
    assert pve_sim.calls["DELETE /nodes/{node}/qemu/{vmid}"] == 0
    assert has_marker(pve_sim.vm(server.vmid).merged_config(), server)


def test_a_staff_chosen_vmid_taken_by_another_vm_is_not_reallocated(
    celery_worker_process, pve_sim, node, template, plan, customer, staff_user
):
    pve_sim.add_vm("pve2", 555, "someone-else", 2)
    job = wait_for_job(
        services.server_create(
            owner=customer,
            plan=plan,
            node=node,
            template=template,
            name="chosen",
            hostname="chosen.example.com",
            cpu_cores=1,
            memory_mib=512,
            disk_gib=10,
            requested_by=staff_user,
            vmid=555,
        ),
        worker=celery_worker_process,
    )
    assert job.state == JobState.FAILED
    assert "VMID 555" in job.error and "chosen" in job.error
    assert Server.objects.get(pk=job.server_id).vmid == 555
    assert pve_sim.vm(555).config["name"] == "someone-else"


# --- point 3: an ambiguous answer to a write ----------------------------------------------------


@pytest.mark.parametrize("answer", AMBIGUOUS_ANSWERS)
def test_an_ambiguous_answer_to_a_disk_resize_is_read_back(
    celery_worker_process, pve_sim, server, customer, answer
):
    pve_sim.knobs.set_task_duration("resize", SLOW_TASK_S)
    pve_sim.knobs.fail_next_calls(answer, 1, endpoint=RESIZE)
    succeeded(
        services.server_resize(server=server, user=customer, disk_gib=33), celery_worker_process
    )
    assert len(tasks_of(pve_sim, "resize")) == 1  # resized exactly once
    assert disk_gib_on_sim(pve_sim, server.vmid) == 33
    server.refresh_from_db()
    assert server.disk_gib == 33 and server.status == ServerStatus.RUNNING


@pytest.mark.parametrize("answer", AMBIGUOUS_ANSWERS)
def test_an_ambiguous_answer_to_a_clone_is_read_back(
    celery_worker_process, pve_sim, node, template, order_server, answer
):
    pve_sim.knobs.set_task_duration("qmclone", SLOW_TASK_S)
    pve_sim.knobs.fail_next_calls(answer, 1, endpoint=CLONE)
    job = succeeded(order_server(name="cloned", disk_gib=14), celery_worker_process)
    server = Server.objects.get(pk=job.server_id)
    assert len(tasks_of(pve_sim, "qmclone")) == 1  # cloned exactly once
    assert len(pve_sim.state.nodes["pve1"].vms) == 2  # the template and our VM: no orphan
    assert has_marker(pve_sim.vm(server.vmid).merged_config(), server)
    assert (server.disk_gib, server.status) == (14, ServerStatus.RUNNING)


@pytest.mark.parametrize("answer", AMBIGUOUS_ANSWERS)
@pytest.mark.parametrize(
    ("running", "action", "after"), [(True, "stop", "stopped"), (False, "start", "running")]
)
def test_an_ambiguous_answer_to_a_power_action_is_read_back(
    celery_worker_process, pve_sim, server_factory, customer, answer, running, action, after
):
    server = server_factory(running=running)
    pve_sim.knobs.set_task_duration(f"qm{action}", SLOW_TASK_S)
    pve_sim.knobs.fail_next_calls(
        answer, 1, endpoint=f"POST /nodes/{{node}}/qemu/{{vmid}}/status/{action}"
    )
    job = succeeded(
        services.server_power(server=server, user=customer, action=action), celery_worker_process
    )
    assert len(tasks_of(pve_sim, f"qm{action}")) == 1
    assert pve_sim.vm(server.vmid).status == after
    server.refresh_from_db()
    assert server.status == after
    assert job.error == ""


# --- point 4: a job that fails while PVE's task runs on ------------------------------------------


def test_a_failed_status_poll_does_not_fail_a_stop(
    celery_worker_process, pve_sim, server, customer
):
    pve_sim.knobs.fail_next_calls("500", 1, endpoint=TASK_STATUS)
    succeeded(
        services.server_power(server=server, user=customer, action="stop"), celery_worker_process
    )
    assert pve_sim.calls[TASK_STATUS] >= 2  # the failed poll was polled again
    assert pve_sim.vm(server.vmid).status == "stopped"
    server.refresh_from_db()
    assert server.status == ServerStatus.STOPPED


def test_a_job_given_up_while_its_task_runs_stores_what_the_task_left(
    celery_worker_process, pve_sim, server, customer
):
    """The worker dies while PVE resizes; the sweeper gives up on the job at once. The server is
    written only once PVE's resize has ended, so it shows the disk PVE holds afterwards."""
    worker = celery_worker_process
    pve_sim.knobs.set_task_duration("resize", 3.0)
    job = services.server_resize(server=server, user=customer, disk_gib=45)
    wait_for_job(
        job,
        until=lambda row: any(s["name"] == "resize_disk" and s["upid"] for s in row.steps),
        worker=worker,
    )
    worker.kill()
    assert (str(job.pk), "failed") in jobs_sweep(stale_after_s=0, max_resumes=0)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    [resize] = tasks_of(pve_sim, "resize")
    assert resize.status == "stopped"  # the failure hook waited for it
    server.refresh_from_db()
    assert server.disk_gib == 45 == disk_gib_on_sim(pve_sim, server.vmid)
    assert server.status == ServerStatus.RUNNING and "giving up" in server.status_reason


def test_a_job_whose_task_outlives_every_wait_leaves_the_server_unknown(
    celery_worker_process, pve_sim, server, customer
):
    """PVE's resize runs past the step's deadline and past the wait after the failure: the
    panel cannot know the disk, so it writes no size or power, and says the state is unknown."""
    worker = celery_worker_process
    worker.restart(PROXMOX_RESIZE_TIMEOUT_S="1")
    pve_sim.knobs.set_task_duration("resize", 60.0)
    job = wait_for_job(
        services.server_resize(server=server, user=customer, disk_gib=44), worker=worker
    )
    assert job.state == JobState.FAILED and "did not finish" in job.error
    [resize] = tasks_of(pve_sim, "resize")
    assert resize.status == "running"
    server.refresh_from_db()
    assert server.status == ServerStatus.ERROR
    assert "unknown" in server.status_reason
    assert server.disk_gib == 20  # not written: PVE may yet end at 44


@pytest.mark.django_db  # in this process, the job never queued: no worker may run it meanwhile
def test_a_step_error_while_its_task_runs_stores_what_the_task_left(pve_sim, server, customer):
    """A step that started a stop fails (StepError) before the stop has ended: the server is
    written once the stop ended, so it shows stopped, not the running PVE still reported."""
    pve_sim.knobs.set_task_duration("qmstop", 2.0)
    job = services.server_power(server=server, user=customer, action="stop")

    def stop_then_fail(run):
        c = step_context(run)
        run.record_upid(c.client.vm_power(c.pve_node, c.vmid, "stop"), c.pve_node)
        raise StepError("something the step did not expect")

    job_run_task(job_id=job.pk, task_name="servers.tasks.power", handlers={"power": stop_then_fail})
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "did not expect" in job.error
    [stop] = tasks_of(pve_sim, "qmstop")
    assert stop.status == "stopped"
    server.refresh_from_db()
    assert server.status == ServerStatus.STOPPED and "did not expect" in server.status_reason
