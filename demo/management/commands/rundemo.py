"""Run the whole panel on one machine: PVE simulator, Celery worker (with the sweeper's beat) and
the web server, supervised together; Ctrl-C stops them all.

The simulator stands in for a PVE cluster; its nodes are registered in the panel pinned to the
simulator's self-signed certificate, exactly as staff would register a real PVE node
(``demo_setup``). The worker starts after the set-up and runs the sync jobs it queued.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from config.celery import worker_command


class Command(BaseCommand):
    help = "Start the PVE simulator, a Celery worker and the web server for a local demo."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Web server address.")
        parser.add_argument("--sim-port", type=int, default=8006, help="Simulator HTTPS port.")
        parser.add_argument("--sim-nodes", type=int, default=3, help="PVE nodes to simulate.")

    def handle(self, *args, addr, sim_port, sim_nodes, **options):
        self._check_free(addr, what="web server")
        self._check_free(f"127.0.0.1:{sim_port}", what="PVE simulator")
        var_dir = Path(settings.VAR_DIR)
        var_dir.mkdir(exist_ok=True)
        info_file = var_dir / "pvesim-info.json"
        info_file.unlink(missing_ok=True)
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        children: list[subprocess.Popen] = []

        def stop_all(*_):
            for child in reversed(children):
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()

        signal.signal(signal.SIGTERM, lambda *_: (stop_all(), sys.exit(0)))
        try:
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "pvesim",
                        "--port",
                        str(sim_port),
                        "--nodes",
                        str(sim_nodes),
                        "--state",
                        str(var_dir / "pvesim-state.json"),
                        "--demo",
                        "--info-file",
                        str(info_file),
                    ]
                )
            )
            info = self._wait_for_info(info_file, children[0])
            call_command(
                "demo_setup",
                sim_url=info["url"],
                fingerprint=info["fingerprint_sha256"],
                token_id=info["token_id"],
                token_secret=info["token_secret"],
                nodes=",".join(info["nodes"]),
            )
            env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}
            worker = worker_command(
                concurrency=4, beat_schedule=str(var_dir / "celerybeat-schedule")
            )
            children.append(subprocess.Popen(worker, env=env))
            children.append(subprocess.Popen([*manage, "runserver", addr, "--noreload"], env=env))
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nPanel: http://{addr}/  (customer demo/demo, staff admin/admin at /admin/)\n"
                    f"API docs: http://{addr}/api/docs/\nPress Ctrl-C to stop.\n"
                )
            )
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            raise CommandError("A demo process exited; stopping the others.")
        except KeyboardInterrupt:
            pass
        finally:
            stop_all()

    def _check_free(self, addr: str, *, what: str) -> None:
        """Refuse a busy port before anything starts, saying how to choose another; otherwise a
        child dies with a bare `Address already in use` after the others have started."""
        host, _, port = addr.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, int(port)))
            except OSError as exc:
                raise CommandError(
                    f"The {what} cannot listen on {host}:{port} ({exc.strerror}): another program "
                    "uses that port. Choose free ports, e.g.\n"
                    "  make run ADDR=127.0.0.1:8001 SIM_PORT=8007\n"
                    "  (or: python manage.py rundemo --addr 127.0.0.1:8001 --sim-port 8007)"
                ) from exc

    def _wait_for_info(self, info_file: Path, simulator: subprocess.Popen) -> dict:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if simulator.poll() is not None:
                raise CommandError("The PVE simulator exited before it was ready.")
            if info_file.exists():
                try:
                    return json.loads(info_file.read_text())
                except json.JSONDecodeError:
                    pass  # being written
            time.sleep(0.1)
        raise CommandError("The PVE simulator did not start within 30 s.")
