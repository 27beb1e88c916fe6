import pytest

from proxmox.units import (
    GIB,
    bytes_to_gib,
    bytes_to_whole_gib,
    drive_size_bytes,
    gib_to_bytes,
    gib_to_pve_size,
    mib_to_bytes,
    pve_size_to_bytes,
)


def test_gib_to_pve_size_is_absolute_whole_gib():
    assert gib_to_pve_size(32) == "32G"
    assert gib_to_pve_size(0) == "0G"


@pytest.mark.parametrize("bad", [-1, 1.5, "32", True, None])
def test_gib_to_pve_size_refuses_non_whole_numbers(bad):
    with pytest.raises(ValueError):
        gib_to_pve_size(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32G", 32 * 1024**3),
        ("512M", 512 * 1024**2),
        ("4K", 4096),
        ("1T", 1024**4),
        ("1000", 1000),  # no suffix means bytes in PVE, not GiB
        ("1.5G", 1610612736),
        ("0.1K", 102),  # truncated like PVE's int()
    ],
)
def test_pve_size_to_bytes_uses_binary_units(text, expected):
    assert pve_size_to_bytes(text) == expected


@pytest.mark.parametrize("bad", ["+1G", "32GB", "G", "", "1.G", "-1G"])
def test_pve_size_to_bytes_refuses_relative_and_malformed(bad):
    with pytest.raises(ValueError):
        pve_size_to_bytes(bad)


def test_conversions():
    assert gib_to_bytes(2) == 2 * GIB
    assert mib_to_bytes(2048) == 2 * GIB
    assert bytes_to_gib(3 * GIB // 2) == 1.5
    assert bytes_to_whole_gib(3 * GIB // 2) == 1


def test_drive_size_bytes_reads_the_size_key():
    assert drive_size_bytes("local-lvm:vm-101-disk-0,iothread=1,size=32G") == 32 * GIB
    assert drive_size_bytes("local-lvm:vm-101-disk-0,size=10G,ssd=1") == 10 * GIB
    assert drive_size_bytes("local:iso/x.iso,media=cdrom") is None
