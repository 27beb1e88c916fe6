import pytest

from tests.api.conftest import (  # noqa: F401
    client_a,
    client_b,
    no_pve_calls,
    server_a,
    server_b,
    staff_client,
)


@pytest.fixture
def quiet_sim(pve_sim):
    """The simulator with VM NICs that move only the bytes a test adds (``add_traffic``)."""
    pve_sim.knobs.net_rate_scale = 0
    return pve_sim
