import pytest

from proxmox.units import GIB
from proxmox.vmconfig import (
    VmSpecs,
    boot_disk,
    cpu_cores,
    memory_mib,
    pending_config,
    vm_specs,
)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"scsi0": "local-lvm:vm-100-disk-0,size=32G"}, ("scsi0", 32 * GIB)),
        # The boot order wins over the usual keys; a CD-ROM in it is passed over.
        (
            {
                "boot": "order=ide2;virtio1;scsi0",
                "ide2": "local:iso/debian.iso,media=cdrom,size=600M",
                "virtio1": "local-lvm:vm-100-disk-1,size=50G",
                "scsi0": "local-lvm:vm-100-disk-0,size=10G",
            },
            ("virtio1", 50 * GIB),
        ),
        (
            {"ide0": "local:iso/x.iso,media=cdrom", "sata0": "local:100/d.qcow2,size=512M"},
            ("sata0", 512 * 1024**2),
        ),
        ({"net0": "virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0"}, None),
    ],
)
def test_boot_disk_reads_the_disk_pve_boots_from(config, expected):
    assert boot_disk(config) == expected


@pytest.mark.parametrize(
    ("memory", "expected"),
    [
        ("2048", 2048),
        (4096, 4096),
        # PVE 8.1 and later: a property string; `current` is what the VM has.
        ("current=8192,virtio-mem=1", 8192),
        ("virtio-mem=1,current=1024", 1024),
        (None, 512),  # absent: PVE's default
        ("virtio-mem=1", 512),
    ],
)
def test_memory_mib_reads_plain_numbers_and_property_strings(memory, expected):
    config = {} if memory is None else {"memory": memory}
    assert memory_mib(config) == expected


def test_cpu_cores_are_cores_times_sockets_each_one_when_absent():
    assert cpu_cores({"cores": 4, "sockets": 2}) == 8
    assert cpu_cores({"cores": "3"}) == 3
    assert cpu_cores({"sockets": 2}) == 2
    assert cpu_cores({}) == 1


def test_vm_specs_reads_sizes_and_rounds_the_disk_down_to_whole_gib():
    specs = vm_specs(
        {
            "cores": 2,
            "sockets": 2,
            "memory": "current=3072",
            "scsi0": "local-lvm:vm-100-disk-0,size=20992M",  # 20.5 GiB
        }
    )
    assert specs == VmSpecs(
        cpu_cores=4, memory_mib=3072, disk_gib=20, disk_bytes=20992 * 1024**2, boot_disk="scsi0"
    )
    assert specs.sizes == {"cpu_cores": 4, "memory_mib": 3072, "disk_gib": 20}


def test_vm_specs_without_a_disk_has_none_and_zero_gib():
    specs = vm_specs({"memory": "1024", "ide2": "local:iso/x.iso,media=cdrom"})
    assert (specs.boot_disk, specs.disk_gib, specs.disk_bytes) == (None, 0, 0)
    assert (specs.cpu_cores, specs.memory_mib) == (1, 1024)


# GET .../pending as PVE answers it for a running VM that keeps a cores and memory change pending.
PENDING_ITEMS = [
    {"key": "cores", "value": 2, "pending": 4},
    {"key": "memory", "value": "2048", "pending": "4096"},
    {"key": "scsi0", "value": "local-lvm:vm-100-disk-0,size=20G"},
    {"key": "hotplug", "value": "network,disk,usb,memory"},
    {"key": "balloon", "value": 0, "delete": 1},
    {"key": "tags", "pending": "panel"},
    {"key": "digest", "value": "abc"},
]


def test_pending_config_separates_what_runs_from_what_waits_for_the_next_start():
    config = pending_config(PENDING_ITEMS)
    assert (config.running.cpu_cores, config.running.memory_mib) == (2, 2048)
    assert (config.after_restart.cpu_cores, config.after_restart.memory_mib) == (4, 4096)
    assert config.running.disk_gib == config.after_restart.disk_gib == 20
    assert "balloon" in config.current and "balloon" not in config.next_start
    assert config.next_start["tags"] == "panel" and "tags" not in config.current
    assert config.pending_keys() == {"cores", "memory", "balloon", "tags"}
    assert config.hotplugs("memory") and not config.hotplugs("cpu")


@pytest.mark.parametrize(("hotplug", "memory"), [(None, False), ("1", False), ("0", False)])
def test_hotplug_defaults_to_network_disk_usb(hotplug, memory):
    items = [{"key": "hotplug", "value": hotplug}] if hotplug is not None else []
    config = pending_config(items)
    assert config.hotplugs("memory") is memory
    assert config.hotplugs("disk") is (hotplug != "0")


def test_the_plain_config_read_reports_a_pending_change_as_applied(pve_sim, pve_client):
    """Why the panel reads ``GET .../pending``: PVE's default ``GET .../config`` (what the panel
    read before) has the pending values in, so a running VM seemed to have the new cores."""
    pve_sim.add_vm("pve1", 150, "web", cores=2, memory_mib=2048, running=True)
    pve_client.vm_config_update("pve1", 150, cores=4)
    assert vm_specs(pve_client.vm_config("pve1", 150)).cpu_cores == 4  # the old read
    config = pending_config(pve_client.vm_pending("pve1", 150))
    assert config.running.cpu_cores == 2
    assert config.after_restart.cpu_cores == 4
