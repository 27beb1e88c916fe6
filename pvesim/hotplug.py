"""What a running VM takes live and what waits for the next start (qemu-server's hotplug rules).

PVE writes every change to the config's [PENDING] section first. For a stopped VM it then moves
everything into the config (``vmconfig_apply_pending``); for a running one
``vmconfig_hotplug_pending`` applies what QEMU can change live and leaves the rest pending until
the VM is stopped (``vm_stop_cleanup`` applies pending changes) or started. Which options go
live depends on the VM's *current* ``hotplug`` option (default ``network,disk,usb``):

- always live: name, description, tags, onboot, protection, startup, ... and every cloud-init
  option (``fast_plug_option``); ``cpuunits``, ``cpulimit``; ``balloon`` unless it switches the
  balloon device on or off; agent changes limited to ``fstrim_cloned_disks``;
- ``cpu``: ``vcpus`` (not above sockets*cores) -- ``cores``, ``sockets``, ``cpu`` never;
- ``memory``: ``memory``, in DIMMs (512 MiB above a static 1 GiB, doubling every 32 DIMMs), so
  the size that results is rounded up (growing) or down (shrinking) to that ladder;
- ``network``/``disk``/``usb``: NICs, disks (not ide/sata/efidisk/tpmstate), tablet, USB.

A failure becomes ``hotplug problem - <reason>`` for that option (its change stays pending).
Read from qemu-server ``PVE/QemuServer.pm`` and ``PVE/QemuServer/Memory.pm`` (9.2.x).
"""

from __future__ import annotations

import re
from typing import Any

from pvesim.drives import is_cdrom, is_disk_key, parse_drive

DEFAULT_HOTPLUG = "network,disk,usb"
FAST_PLUG_OPTIONS = frozenset(
    {
        "description",
        "hookscript",
        "lock",
        "migrate_downtime",
        "migrate_speed",
        "name",
        "onboot",
        "protection",
        "shares",
        "startup",
        "tags",
        "vmstatestorage",
        # confdesc_cloudinit
        "citype",
        "ciuser",
        "cipassword",
        "ciupgrade",
        "cicustom",
        "searchdomain",
        "nameserver",
        "sshkeys",
    }
)
STATIC_MEMORY_MIB = 1024
# The simulated host's physical address bits (an EPYC has 48; PVE caps non-host CPU models at 40).
HOST_PHYS_BITS = 48
MEMORY_PM = "/usr/share/perl5/PVE/QemuServer/Memory.pm"
DISK_COLD_KEYS = ("aio", "discard", "iothread", "queues", "product", "cache", "ssd", "vendor", "ro")


class Skip(Exception):
    """This change cannot be made live: it stays pending (PVE's ``die "skip\\n"``)."""


class HotplugError(Exception):
    """QEMU refused the change: PVE records ``hotplug problem - <message>`` for the option."""


def is_fast_plug(key: str) -> bool:
    return key in FAST_PLUG_OPTIONS or bool(re.fullmatch(r"ipconfig\d+", key))


def hotplug_features(config: dict[str, Any]) -> set[str]:
    value = str(config.get("hotplug", "1"))
    if value == "0":
        return set()
    if value == "1":
        value = DEFAULT_HOTPLUG
    return {f for f in re.split(r"[,;\s]+", value) if f}


# --- memory -----------------------------------------------------------------------------------


def parse_memory(value: Any) -> int:
    if value is None:
        return 512
    for part in str(value).split(","):
        key, sep, val = part.partition("=")
        if not sep:
            return int(key)
        if key == "current":
            return int(val)
    return 512


def _static_and_dimm(config: dict[str, Any]) -> tuple[int, int]:
    if str(config.get("hugepages", "")) == "1024":
        return STATIC_MEMORY_MIB * int(config.get("sockets", 1) or 1), 1024
    return STATIC_MEMORY_MIB, 512


def dimm_ladder(config: dict[str, Any]) -> list[int]:
    """Total memory after each DIMM: 32 DIMMs of 512 MiB, 32 of 1 GiB, 32 of 2 GiB, ..."""
    static, dimm = _static_and_dimm(config)
    sizes, total = [static], static
    for _ in range(8):
        for _ in range(32):
            total += dimm
            sizes.append(total)
        dimm *= 2
    return sizes


def max_memory_mib(config: dict[str, Any]) -> int:
    """Memory.pm get_max_mem: half of what the guest's physical address bits reach."""
    cpu = str(config.get("cpu", "") or "")
    parts = dict(
        (p.split("=", 1) if "=" in p else ("cputype", p)) for p in cpu.split(",") if p.strip()
    )
    phys = parts.get("phys-bits")
    if phys == "host":
        bits = HOST_PHYS_BITS
    elif phys and phys.isdigit():
        bits = int(phys)
    elif parts.get("cputype") in ("host", "max"):
        bits = HOST_PHYS_BITS
    else:
        bits = min(HOST_PHYS_BITS, 40)
    bits &= ~1
    return min(1 << (bits - 21), 4 * 1024 * 1024)


def hotplug_memory(config: dict[str, Any], value: Any) -> str:
    """Memory.pm qemu_memory_hotplug: the memory the VM ends up with (as the config spells it)."""
    old, new = parse_memory(config.get("memory")), parse_memory(value)
    if new == old:
        return str(value)
    static, _dimm = _static_and_dimm(config)
    if new < static:
        raise HotplugError(f"memory can't be lower than {static} MB at {MEMORY_PM} line 219.")
    limit = max_memory_mib(config)
    if new > limit:
        raise HotplugError(f"you cannot add more memory than max mem {limit} MB!")
    ladder = dimm_ladder(config)
    if new > old:
        result = next(size for size in ladder if size >= new)
    else:
        result = max(size for size in ladder if size <= new)
    return str(result)


def memory_start_error(config: dict[str, Any]) -> str | None:
    """Memory.pm config: why a VM with memory hotplug cannot start, if it cannot."""
    if "memory" not in hotplug_features(config):
        return None
    if not int(config.get("numa", 0) or 0):
        return "NUMA needs to be enabled for memory hotplug"
    memory, limit = parse_memory(config.get("memory")), max_memory_mib(config)
    if memory > limit:
        return f"Total memory is bigger than {limit}MB"
    if any(f"numa{i}" in config for i in range(8)):
        return "cannot enable memory hotplugging with custom NUMA topology"
    static, dimm = _static_and_dimm(config)
    if memory < static:
        return f"minimum memory must be {static}MB"
    if memory not in dimm_ladder(config):
        return f"memory size ({memory}) must be aligned to {dimm} for hotplugging"
    return None


# --- one option -------------------------------------------------------------------------------


def _options(value: Any) -> dict[str, str]:
    return parse_drive(str(value))[1] if value is not None else {}


def _net_model(value: str) -> tuple[str, str]:
    first = str(value).split(",", 1)[0]
    model, _, mac = first.partition("=")
    return model, mac


def _check_net(current: Any, new: Any, features: set[str]) -> None:
    if current is None:
        if "network" not in features:
            raise Skip
        return
    old_opts, new_opts = _options(current), _options(new)
    new_device = (
        _net_model(current) != _net_model(new)
        or old_opts.get("queues") != new_opts.get("queues")
        or old_opts.get("mtu") != new_opts.get("mtu")
        or not (old_opts.get("bridge") and new_opts.get("bridge"))
    )
    if new_device and "network" not in features:
        raise Skip  # unplug and plug again: only with network hotplug


def _check_disk(key: str, current: Any, new: Any, features: set[str]) -> None:
    if key in ("efidisk0", "tpmstate0"):
        raise Skip
    if current is not None:
        old_volid, old_opts = parse_drive(str(current))
        new_volid, new_opts = parse_drive(str(new))
        if (old_opts.get("media") or "disk") != (new_opts.get("media") or "disk"):
            raise HotplugError("unable to change media type")
        if is_cdrom(old_opts):
            return  # change_medium
        if new_volid == old_volid:
            if any(old_opts.get(k) != new_opts.get(k) for k in DISK_COLD_KEYS):
                raise Skip
            return  # throttling and size-only changes go live
    if "disk" not in features or re.match(r"(ide|sata)\d+$", key):
        raise Skip


def _check_agent(current: Any, new: Any) -> None:
    if not current:
        raise Skip

    def parse(value: Any) -> dict[str, str]:
        out = {}
        for part in str(value).split(","):
            k, sep, v = part.partition("=")
            out["enabled" if not sep else k] = k if not sep else v
        out.pop("fstrim_cloned_disks", None)
        return out

    if parse(current) != parse(new):
        raise Skip


def hotplug_value(config: dict[str, Any], key: str, value: Any, features: set[str]) -> Any:
    """The value ``key`` takes live on a running VM; raises Skip or HotplugError."""
    current = config.get(key)
    if key == "hotplug":
        if re.search(r"memory|cpu", str(value)) or re.search(
            r"memory|cpu", str(config.get("hotplug", ""))
        ):
            raise Skip
    elif key == "tablet":
        if "usb" not in features:
            raise Skip
    elif re.fullmatch(r"usb\d+", key):
        if "usb" not in features or config.get("ostype") != "l26":
            raise Skip
    elif key == "vcpus":
        if "cpu" not in features:
            raise Skip
        maxcpus = int(config.get("sockets", 1) or 1) * int(config.get("cores", 1) or 1)
        if int(value or maxcpus) > maxcpus:
            raise HotplugError("you can't add more vcpus than maxcpus")
    elif key == "balloon":
        old_on = current is None or int(current) != 0
        new_on = value is None or int(value) != 0
        if old_on != new_on:
            raise Skip
    elif re.fullmatch(r"net\d+", key):
        _check_net(current, value, features)
    elif is_disk_key(key):
        _check_disk(key, current, value, features)
    elif key == "memory":
        if "memory" not in features:
            raise Skip
        return hotplug_memory(config, value)
    elif key in ("cpuunits", "cpulimit"):
        pass
    elif key == "agent":
        _check_agent(current, value)
    else:
        raise Skip  # cores, sockets, cpu, numa, machine, bios, ostype, vga, boot, ...
    return value


def hotplug_delete(config: dict[str, Any], key: str, features: set[str]) -> None:
    """Whether removing ``key`` can happen live; raises Skip or HotplugError."""
    if key == "hotplug":
        if re.search(r"cpu|memory", str(config.get("hotplug", ""))):
            raise Skip
    elif key == "tablet":
        if "usb" not in features:
            raise Skip
    elif re.fullmatch(r"usb\d+", key):
        if "usb" not in features or config.get("ostype") != "l26":
            raise Skip
    elif key == "vcpus":
        if "cpu" not in features:
            raise Skip
    elif key == "balloon":
        if config.get("balloon") is not None and int(config["balloon"]) == 0:
            raise Skip
    elif is_fast_plug(key) or key in ("cpuunits", "cpulimit"):
        pass
    elif re.fullmatch(r"net\d+", key):
        if "network" not in features:
            raise Skip
    elif is_disk_key(key):
        if "disk" not in features or re.match(r"(efidisk|ide|sata|tpmstate)\d+$", key):
            raise Skip
    elif key == "memory":
        if "memory" not in features:
            raise Skip
        hotplug_memory(config, None)  # back to the 512 MiB default: always below the static 1 GiB
    else:
        raise Skip
