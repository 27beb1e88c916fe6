"""A faithful Proxmox VE API simulator for tests, benchmarks and the demo.

Plain Python (no Django): ``PveSimulator(...).start()`` serves ``/api2/json`` over HTTPS on
loopback with a fresh self-signed certificate. See ``README.md`` beside this file.
"""

from pvesim.knobs import DEFAULT_TASK_DURATIONS, Knobs
from pvesim.server import PveSimulator
from pvesim.taskrunner import encode_upid

__all__ = ["DEFAULT_TASK_DURATIONS", "Knobs", "PveSimulator", "encode_upid"]
