"""Endpoint handlers; importing this package registers every route in ``api.ROUTES``."""

from proxmox.simulator.handlers import cluster, power, qemu, storage, tasks  # noqa: F401
