"""Changes a running VM cannot take live: PVE keeps them pending until the next start, and the
panel records what runs, what is pending, and reconciles after the restart. End to end: service
-> Job -> broker -> real worker -> simulator (which keeps pending changes as qemu-server does).
"""

import pytest
from django.urls import reverse

from panel.models import JobState
from servers import services
from servers.models import Server, ServerStatus
from tests.fixtures.worker import wait_for_job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

HOTPLUG = {"hotplug": "network,disk,usb,memory,cpu", "numa": 1}
CONFIG_PUT = "PUT /nodes/{node}/qemu/{vmid}/config"


def succeeded(job, worker):
    job = wait_for_job(job, worker=worker)
    assert job.state == JobState.SUCCEEDED, (job.error, job.steps, worker.log_tail())
    return job


def sizes(server: Server) -> tuple:
    server.refresh_from_db()
    return (
        server.cpu_cores,
        server.memory_mib,
        server.pending_cpu_cores,
        server.pending_memory_mib,
    )


def runs_with(pve_sim, vmid) -> tuple[int, int]:
    config = pve_sim.vm(vmid).config  # what the VM runs with (GET config?current=1)
    return int(config["cores"]), int(config["memory"])


def pending_on_sim(pve_sim, vmid) -> dict[str, int]:
    return {key: int(value) for key, value in pve_sim.vm(vmid).pending.items()}


def steps(job) -> dict[str, str]:
    return {s["name"]: s["state"] for s in job.steps}


def test_resize_of_a_running_server_records_what_runs_and_what_is_pending(
    celery_worker_process, pve_sim, server, customer, client
):
    job = succeeded(
        services.server_resize(server=server, user=customer, cpu_cores=4, memory_mib=4096),
        celery_worker_process,
    )
    # PVE runs the old values and keeps the new ones for the next start ...
    assert runs_with(pve_sim, server.vmid) == (2, 2048)
    assert pending_on_sim(pve_sim, server.vmid) == {"cores": 4, "memory": 4096}
    # ... and so does the panel: it never says the VM has what it does not run with.
    assert sizes(server) == (2, 2048, 4, 4096)
    assert server.status == ServerStatus.RUNNING
    assert job.result["pending"] == {"cpu_cores": 4, "memory_mib": 4096}
    assert "take effect at the next restart" in job.result["summary"]
    client.force_login(customer)
    page = client.get(reverse("servers:detail", args=[server.pk])).content.decode()
    assert '2 GiB now<span class="spec-pending">, 4 GiB after the next restart' in page
    assert '2 vCPU now<span class="spec-pending">, 4 vCPU after the next restart' in page
    assert "Restart to apply" in page
    job_page = client.get(reverse("job-detail", args=[job.pk])).content.decode()
    assert "take effect at the next restart" in job_page


def test_a_restart_applies_the_pending_change_and_the_read_back_reconciles(
    celery_worker_process, pve_sim, server, customer, client
):
    succeeded(
        services.server_resize(server=server, user=customer, cpu_cores=4, memory_mib=4096),
        celery_worker_process,
    )
    server.refresh_from_db()
    succeeded(
        services.server_power(server=server, user=customer, action="reboot"),
        celery_worker_process,
    )
    assert runs_with(pve_sim, server.vmid) == (4, 4096)
    assert pve_sim.vm(server.vmid).pending == {}
    assert sizes(server) == (4, 4096, None, None)
    client.force_login(customer)
    page = client.get(reverse("servers:detail", args=[server.pk])).content.decode()
    assert "after the next restart" not in page and "Restart to apply" not in page


def test_resize_with_restart_applies_now(celery_worker_process, pve_sim, server, customer):
    job = succeeded(
        services.server_resize(
            server=server, user=customer, cpu_cores=4, memory_mib=4096, restart=True
        ),
        celery_worker_process,
    )
    assert steps(job)["restart"] == "done"
    assert pve_sim.calls["POST /nodes/{node}/qemu/{vmid}/status/reboot"] == 1
    assert runs_with(pve_sim, server.vmid) == (4, 4096)
    assert sizes(server) == (4, 4096, None, None)
    assert job.result["pending"] == {}
    assert "applied by restarting the server" in job.result["summary"]


def test_memory_hotplug_applies_live_and_cores_still_wait(
    celery_worker_process, pve_sim, server_factory, customer
):
    server = server_factory(vm_config=HOTPLUG)
    job = succeeded(
        services.server_resize(
            server=server, user=customer, cpu_cores=4, memory_mib=4096, restart=True
        ),
        celery_worker_process,
    )
    # Memory went in live (DIMMs); cores never hotplug in PVE (only vcpus do): the restart ran.
    assert steps(job)["restart"] == "done"
    assert sizes(server) == (4, 4096, None, None)

    job = succeeded(
        services.server_resize(server=server, user=customer, memory_mib=6144, restart=True),
        celery_worker_process,
    )
    assert steps(job)["restart"] == "skipped"  # nothing waited: no restart needed
    assert pve_sim.calls["POST /nodes/{node}/qemu/{vmid}/status/reboot"] == 1
    assert runs_with(pve_sim, server.vmid) == (4, 6144)
    assert sizes(server) == (4, 6144, None, None)
    assert job.result["summary"] == "6 GiB memory applied live, without a restart."


def test_memory_hotplug_rounds_to_whole_dimms_and_the_panel_records_it(
    celery_worker_process, pve_sim, server_factory, customer
):
    server = server_factory(vm_config=HOTPLUG)
    job = succeeded(
        services.server_resize(server=server, user=customer, memory_mib=3000),
        celery_worker_process,
    )
    assert runs_with(pve_sim, server.vmid) == (2, 3072)
    assert sizes(server) == (2, 3072, None, None)
    assert job.result["memory_rounded"] == {"asked": 3000, "held": 3072}


def test_a_refused_memory_hotplug_stays_pending_not_failed(
    celery_worker_process, pve_sim, server_factory, customer
):
    # Below the static 1 GiB PVE cannot unplug: HTTP 400 "hotplug problem", kept pending.
    server = server_factory(vm_config=HOTPLUG)
    job = succeeded(
        services.server_resize(server=server, user=customer, memory_mib=768),
        celery_worker_process,
    )
    assert runs_with(pve_sim, server.vmid) == (2, 2048)
    assert sizes(server) == (2, 2048, None, 768)
    assert "hotplug problem" in job.steps[0]["note"]
    assert "768 MiB memory takes effect at the next restart." in job.result["summary"]


def test_a_stopped_server_takes_the_change_at_once(
    celery_worker_process, pve_sim, server_factory, customer
):
    server = server_factory(running=False)
    job = succeeded(
        services.server_resize(
            server=server, user=customer, cpu_cores=4, memory_mib=4096, restart=True
        ),
        celery_worker_process,
    )
    assert steps(job)["restart"] == "skipped"
    assert runs_with(pve_sim, server.vmid) == (4, 4096)
    assert sizes(server) == (4, 4096, None, None)
    assert server.status == ServerStatus.STOPPED
    assert "summary" not in job.result


def test_asking_for_what_it_runs_with_cancels_the_pending_change(
    celery_worker_process, pve_sim, server, customer
):
    succeeded(
        services.server_resize(server=server, user=customer, cpu_cores=4),
        celery_worker_process,
    )
    server.refresh_from_db()
    succeeded(
        services.server_resize(server=server, user=customer, cpu_cores=2),
        celery_worker_process,
    )
    assert pve_sim.vm(server.vmid).pending == {}
    assert sizes(server) == (2, 2048, None, None)


def test_sync_records_a_change_pending_on_pve(celery_worker_process, pve_sim, server, staff_user):
    with pve_sim.state.lock:
        pve_sim.vm(server.vmid).pending["memory"] = "8192"
    job = succeeded(services.server_sync(server=server, user=staff_user), celery_worker_process)
    assert sizes(server) == (2, 2048, None, 8192)
    assert job.result["drift"] == {"pending_memory_mib": {"panel": None, "pve": 8192}}


@pytest.mark.parametrize("kind", ["500_after", "502_after", "reset_after"])
def test_a_config_write_answered_ambiguously_after_pve_applied_it_is_not_sent_again(
    celery_worker_process, pve_sim, server, customer, kind
):
    pve_sim.knobs.fail_next_calls(kind, 1, endpoint=CONFIG_PUT)
    job = succeeded(
        services.server_resize(server=server, user=customer, cpu_cores=4),
        celery_worker_process,
    )
    assert pve_sim.calls[CONFIG_PUT] == 1
    assert steps(job)["configure"] == "done"
    assert sizes(server) == (2, 2048, 4, None)


def test_a_config_write_answered_ambiguously_before_pve_applied_it_is_sent_again(
    celery_worker_process, pve_sim, server, customer
):
    pve_sim.knobs.fail_next_calls("502", 1, endpoint=CONFIG_PUT)
    succeeded(
        services.server_resize(server=server, user=customer, cpu_cores=4),
        celery_worker_process,
    )
    assert pve_sim.calls[CONFIG_PUT] == 2
    assert sizes(server) == (2, 2048, 4, None)


@pytest.mark.parametrize(("kind", "puts"), [("502", 2), ("502_after", 1)])
def test_an_ambiguous_memory_hotplug_is_read_back_not_mistaken_for_rounding(
    celery_worker_process, pve_sim, server_factory, customer, kind, puts
):
    server = server_factory(vm_config=HOTPLUG)
    pve_sim.knobs.fail_next_calls(kind, 1, endpoint=CONFIG_PUT)
    job = succeeded(
        services.server_resize(server=server, user=customer, memory_mib=3000),
        celery_worker_process,
    )
    assert pve_sim.calls[CONFIG_PUT] == puts
    assert runs_with(pve_sim, server.vmid) == (2, 3072)
    assert sizes(server) == (2, 3072, None, None)
    assert job.result["memory_rounded"] == {"asked": 3000, "held": 3072}
