"""The ``/_sim/...`` control API: knobs, call counts, state, seeding, for a simulator running in
another process (the demo, benchmarks, CI workers). Same token as the PVE API."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pvesim.server import PveSimulator


def admin_request(sim: PveSimulator, method: str, path: str, doc: dict):
    """The ``/_sim/...`` control API; None means no such endpoint."""
    if (method, path) == ("GET", "knobs"):
        return sim.knobs.to_dict()
    if (method, path) == ("POST", "knobs"):
        sim.knobs.update(doc)
        return sim.knobs.to_dict()
    if (method, path) == ("GET", "calls"):
        with sim._calls_lock:
            return dict(sim.calls)
    if (method, path) in (("DELETE", "calls"), ("POST", "calls/reset")):
        sim.reset_calls()
        return {}
    if (method, path) == ("GET", "state"):
        return sim.state.to_dict()
    if (method, path) == ("POST", "reset"):
        sim.reset()
        return {}
    if (method, path) == ("POST", "templates"):
        vm = sim.add_template(doc.pop("node"), int(doc.pop("vmid")), doc.pop("name"), **doc)
        return {"vmid": vm.vmid, "node": vm.node}
    if (method, path) == ("POST", "vms"):
        vm = sim.add_vm(doc.pop("node"), int(doc.pop("vmid")), doc.pop("name"), **doc)
        return {"vmid": vm.vmid, "node": vm.node}
    if (method, path) == ("GET", "info"):
        return {
            "url": sim.url,
            "token_id": sim.token_id,
            "fingerprint_sha256": sim.fingerprint_sha256,
            "nodes": list(sim.state.nodes),
        }
    return None
