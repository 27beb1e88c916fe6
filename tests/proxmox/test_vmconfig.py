import pytest

from proxmox.units import GIB
from proxmox.vmconfig import boot_disk


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
