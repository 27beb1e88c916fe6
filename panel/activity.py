"""How the activity log and the session list read to people: plain sentences, no ids."""

from __future__ import annotations

import re

# The action names services write, as a customer reads them; an unknown one reads as itself.
ACTION_LABELS = {
    "sign_in": "Signed in",
    "server_create": "Ordered the server",
    "server_resize": "Resized the server",
    "server_power": "Power action",
    "server_rebuild": "Rebuilt the server",
    "server_reset_password": "Reset the root password",
    "server_delete": "Deleted the server",
    "server_suspend": "Suspended the server",
    "server_unsuspend": "Unsuspended the server",
    "server_sync": "Synchronised the server with the host",
    "server_adopt": "Adopted the server",
    "job_retried": "Retried a failed job",
    "job_resumed": "Resumed an interrupted job",
    "job_failed": "Gave up on an interrupted job",
    "ssh_key_added": "Added an SSH key",
    "ssh_key_removed": "Removed an SSH key",
    "api_token_created": "Created an API token",
    "api_token_revoked": "Revoked an API token",
    "session_ended": "Signed a browser out",
    "sessions_ended": "Signed the other browsers out",
    "password_changed": "Changed the password",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action.replace("_", " ").capitalize())


def actor_label(entry, *, viewer) -> str:
    """Who did it, as ``viewer`` may read it: staff become "Support" to customers."""
    via = f"API token “{entry.token_name}”" if entry.token_name else ""
    if entry.actor_id is None:
        who = "System"
    elif entry.actor_id == viewer.pk:
        who = "You"
    elif entry.actor_is_staff and not viewer.is_staff:
        who = "Support"
    else:
        who = entry.actor.get_username()
    return f"{who} ({via})" if via else who


_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device_label(user_agent: str) -> str:
    """ "Firefox on Linux" from a user agent string; "Unknown device" when it says nothing known."""
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), None)
    if browser is None and "HeadlessChrome" in user_agent:
        browser = "Chrome"
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system
    word = re.match(r"[\w.-]+", user_agent or "")
    return word.group(0)[:40] if word else "Unknown device"
