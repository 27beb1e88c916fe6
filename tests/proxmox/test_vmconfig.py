import pytest

from proxmox.units import GIB
from proxmox.vmconfig import VmSpecs, boot_disk, cpu_cores, memory_mib, vm_specs


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
