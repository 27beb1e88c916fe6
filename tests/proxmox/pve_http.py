"""Helpers for client tests: PVE-shaped HTTP answers through `responses`, and a fake clock."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import responses

from proxmox.client import PveClient

BASE = "https://pve1.example.test:8006"
API = BASE + "/api2/json"
TOKEN_ID = "panel@pve!panel"
TOKEN_SECRET = "6f1c2a3e-0000-4000-8000-123456789abc"


class PveResponse(responses.Response):
    """A response with PVE's reason phrase (PVE puts its error text there, not only the body)."""

    def __init__(self, method, url, *, reason=None, **kwargs):
        super().__init__(method, url, **kwargs)
        self.reason = reason

    def get_response(self, request):
        response = super().get_response(request)
        if self.reason is not None:
            response.reason = self.reason
        return response


def pve_error(method, path, status, message, *, errors=None, with_message=True):
    """What pveproxy sends for a failure: reason = first line; body carries `message` since
    pve-http-server 5.2 (``with_message=False`` gives the older body ``{"data":null}``)."""
    body = {"data": None}
    if with_message:
        body["message"] = message + "\n"
    if errors:
        body["errors"] = errors
    return PveResponse(
        method,
        API + path,
        reason=message.splitlines()[0],
        status=status,
        body=json.dumps(body) if status != 401 else "",
        content_type="application/json;charset=UTF-8",
    )


def make_client(**kwargs) -> PveClient:
    return PveClient(BASE, token_id=TOKEN_ID, token_secret=TOKEN_SECRET, **kwargs)


class FakeClock:
    """Monotonic clock whose sleep only advances time (no real waiting in tests)."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    @property
    def elapsed(self) -> float:
        return sum(self.sleeps)


def form(call) -> dict[str, str]:
    """The form a recorded call sent (PVE takes writes as form fields)."""
    return {k: v[0] for k, v in parse_qs(call.request.body or "", keep_blank_values=True).items()}


def query(call) -> dict[str, str]:
    """The query string a recorded call sent."""
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}
