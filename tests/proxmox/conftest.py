"""Fixtures for the client's unit tests: PVE mocked at the HTTP boundary with `responses`."""

import pytest
import responses

from tests.proxmox.pve_http import make_client


@pytest.fixture
def pve():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def client():
    return make_client()
