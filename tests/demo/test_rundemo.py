"""`make run` on a busy port stops before starting anything and says how to choose another."""

import socket

import pytest
from django.core.management import CommandError, call_command


@pytest.fixture
def busy_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_busy_web_port_is_refused_with_how_to_choose_another(busy_port):
    with pytest.raises(CommandError) as refused:
        call_command("rundemo", addr=f"127.0.0.1:{busy_port}", sim_port=busy_port)

    message = str(refused.value)
    assert f"127.0.0.1:{busy_port}" in message
    assert "make run ADDR=127.0.0.1:8001 SIM_PORT=8007" in message


def test_a_busy_simulator_port_is_refused_with_how_to_choose_another(busy_port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as free:
        free.bind(("127.0.0.1", 0))
        free_port = free.getsockname()[1]
    with pytest.raises(CommandError) as refused:
        call_command("rundemo", addr=f"127.0.0.1:{free_port}", sim_port=busy_port)

    assert "PVE simulator" in str(refused.value)
    assert "SIM_PORT" in str(refused.value)
