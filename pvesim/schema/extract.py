"""Regenerate ``pvesim/schema/pve-api.json`` from the full PVE API dump.

Usage (from the repository root)::

    .venv/bin/python -m pvesim.schema.extract [PATH/TO/apidata.json]

The default input is ``../shared/pve-api/apidata.json`` relative to the repository root.
Only the (method, path) pairs the panel uses are kept, so that a fresh clone (which has no
``../shared``) still carries what the client's schema tests and the simulator validate against.
The output is deterministic (sorted keys, fixed indent) so a regeneration diff shows only real
schema changes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INPUT = REPO_ROOT.parent / "shared" / "pve-api" / "apidata.json"
OUTPUT = Path(__file__).resolve().parent / "pve-api.json"

SOURCE = {
    "repository": "https://github.com/proxmox/pve-docs (git://git.proxmox.com/git/pve-docs.git)",
    "file": "api-viewer/apidata.js",
    "commit": "e5010dcea566a205770572cfbc5fe0af220d5077",
    "pve_version": "9.1.x",
    "licence": "AGPL-3.0-or-later, (c) Proxmox Server Solutions GmbH",
}

# Every (method, path) the panel's client may call. Keep in step with proxmox/client.py: the
# schema test fails when the client calls something that is not listed here.
USED_ENDPOINTS: tuple[tuple[str, str], ...] = (
    ("GET", "/version"),
    ("GET", "/nodes"),
    ("GET", "/nodes/{node}/status"),
    ("GET", "/nodes/{node}/rrddata"),
    ("GET", "/cluster/resources"),
    ("GET", "/cluster/nextid"),
    ("GET", "/cluster/status"),
    ("POST", "/access/ticket"),
    ("GET", "/nodes/{node}/qemu"),
    ("POST", "/nodes/{node}/qemu"),
    ("DELETE", "/nodes/{node}/qemu/{vmid}"),
    ("POST", "/nodes/{node}/qemu/{vmid}/clone"),
    ("GET", "/nodes/{node}/qemu/{vmid}/config"),
    ("POST", "/nodes/{node}/qemu/{vmid}/config"),
    ("PUT", "/nodes/{node}/qemu/{vmid}/config"),
    ("GET", "/nodes/{node}/qemu/{vmid}/pending"),
    ("PUT", "/nodes/{node}/qemu/{vmid}/resize"),
    ("GET", "/nodes/{node}/qemu/{vmid}/status/current"),
    ("GET", "/nodes/{node}/qemu/{vmid}/rrddata"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/start"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/stop"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/shutdown"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/reboot"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/reset"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/suspend"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/resume"),
    ("GET", "/nodes/{node}/tasks"),
    ("GET", "/nodes/{node}/tasks/{upid}/status"),
    ("GET", "/nodes/{node}/tasks/{upid}/log"),
    ("POST", "/nodes/{node}/vzdump"),
    ("GET", "/nodes/{node}/storage"),
    ("GET", "/nodes/{node}/storage/{storage}/content"),
    ("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}"),
)


def _walk(nodes):
    for node in nodes:
        yield node
        yield from _walk(node.get("children") or [])


def extract(apidata: list) -> dict:
    by_path = {node["path"]: node for node in _walk(apidata)}
    wanted: dict[str, list[str]] = {}
    for method, path in USED_ENDPOINTS:
        wanted.setdefault(path, []).append(method)
    endpoints = []
    for path in sorted(wanted):
        node = by_path.get(path)
        if node is None:
            raise SystemExit(f"path not in apidata.json: {path}")
        info = {}
        for method in sorted(wanted[path]):
            if method not in node.get("info", {}):
                raise SystemExit(f"method not in apidata.json: {method} {path}")
            info[method] = node["info"][method]
        endpoints.append({"path": path, "info": info})
    return {"source": SOURCE, "endpoints": endpoints}


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_INPUT
    with source.open(encoding="utf-8") as fh:
        apidata = json.load(fh)
    data = extract(apidata)
    text = json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(data['endpoints'])} paths, {len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
