"""``python -m pvesim``: run the PVE API simulator in the foreground (demo, benchmarks, CI).

Plain Python, no Django: the simulator is test and demo tooling and ships apart from the panel.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

from pvesim import PveSimulator
from pvesim.seed import seed_demo


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pvesim",
        description="Run the Proxmox VE API simulator (HTTPS, self-signed certificate).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
    parser.add_argument("--port", type=int, default=8006, help="HTTPS port (0 = any free).")
    parser.add_argument("--nodes", type=int, default=1, help="Number of nodes (pve1..pveN).")
    parser.add_argument("--state", help="JSON file keeping the cluster across restarts.")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="Seed Debian 12 and Ubuntu 24.04 templates on each node and two VMs.",
    )
    parser.add_argument("--seed", type=int, default=0, help="Random seed (replayable runs).")
    parser.add_argument("--token-id", default="panel@pve!panel")
    parser.add_argument("--token-secret", help="Default: a UUID derived from --seed.")
    parser.add_argument(
        "--time-scale",
        type=float,
        help="Multiply every task duration (default 1; --demo defaults to 5 so progress "
        "is visible).",
    )
    parser.add_argument("--info-file", help="Write url/token/fingerprint/nodes here as JSON.")
    parser.add_argument(
        "-v", "--verbosity", type=int, default=1, help="2 logs every request it serves."
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    opts = vars(build_parser().parse_args(argv))
    if opts["nodes"] < 1:
        raise SystemExit("--nodes must be at least 1")
    sim = PveSimulator(
        nodes=tuple(f"pve{i}" for i in range(1, opts["nodes"] + 1)),
        token_id=opts["token_id"],
        token_secret=opts["token_secret"],
        seed=opts["seed"],
        state_file=opts["state"],
    )
    time_scale = opts["time_scale"] or (5.0 if opts["demo"] else 1.0)
    sim.knobs.update({"time_scale": time_scale})
    if opts["verbosity"] >= 2:
        sim.request_log = lambda line: print(line, flush=True)
    if opts["demo"]:
        seed_demo(sim)
    try:
        sim.start(host=opts["host"], port=opts["port"])
    except OSError as exc:
        raise SystemExit(f"cannot listen on {opts['host']}:{opts['port']}: {exc}") from exc
    info = {
        "url": sim.url,
        "token_id": sim.token_id,
        "token_secret": sim.token_secret,
        "fingerprint_sha256": sim.fingerprint_sha256,
        "nodes": list(sim.state.nodes),
    }
    print(
        f"PVE simulator listening on {sim.url}/api2/json\n"
        f"  nodes:        {', '.join(info['nodes'])}\n"
        f"  token id:     {sim.token_id}\n"
        f"  token secret: {sim.token_secret}\n"
        f"  fingerprint:  {sim.fingerprint_sha256}\n"
        f"  admin:        {sim.url}/_sim/{{knobs,calls,state,info}} (same token)\n"
        f"  time scale:   {time_scale}\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    if opts["info_file"]:
        _write_json(Path(opts["info_file"]), info)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


def _write_json(path: Path, data: dict) -> None:
    """Atomically, 0600 (it holds the token secret): readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pvesim-info-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
