"""Endpoint handlers; importing this package registers every route in ``api.ROUTES``."""

from pvesim.handlers import (  # noqa: F401
    clone,
    cluster,
    config,
    create,
    power,
    qemu,
    rrd,
    storage,
    tasks,
)
