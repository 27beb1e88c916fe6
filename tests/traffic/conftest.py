import pytest


@pytest.fixture
def quiet_sim(pve_sim):
    """The simulator with VM NICs that move only the bytes a test adds (``add_traffic``)."""
    pve_sim.knobs.net_rate_scale = 0
    return pve_sim
