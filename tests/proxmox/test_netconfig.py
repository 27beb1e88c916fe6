from decimal import Decimal

import pytest

from proxmox.netconfig import format_rate_mb_s, nic_rate_mb_s, nic_with_rate

NET0 = "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1,tag=20"


def test_a_rate_is_appended_and_everything_else_kept_exactly():
    assert nic_with_rate(NET0, Decimal("1.25")) == NET0 + ",rate=1.25"


def test_an_existing_rate_is_changed_in_place():
    value = "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,rate=10,tag=20"
    assert (
        nic_with_rate(value, Decimal("1.5"))
        == "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,rate=1.5,tag=20"
    )


def test_removing_the_rate_leaves_the_rest():
    assert nic_with_rate(NET0 + ",rate=1.25", None) == NET0
    assert nic_with_rate(NET0, None) == NET0


def test_reading_the_rate():
    assert nic_rate_mb_s(NET0) is None
    assert nic_rate_mb_s(NET0 + ",rate=12.5") == Decimal("12.5")
    with pytest.raises(ValueError):
        nic_rate_mb_s(NET0 + ",rate=fast")


@pytest.mark.parametrize(("rate", "text"), [("10", "10"), ("1.250", "1.25"), ("100.00", "100")])
def test_rates_are_written_as_pve_numbers(rate, text):
    assert format_rate_mb_s(Decimal(rate)) == text
