"""Embedded default for a developer's machine or the demo: SQLite, filesystem broker, DEBUG."""

from .base import *  # noqa: F403
from .base import env

# The demo's commands (rundemo, demo_setup): development tooling, not installed in production.
INSTALLED_APPS = [*INSTALLED_APPS, "demo"]  # noqa: F405

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-never-use-in-production")
# A fixed development key, so the demo's encrypted node secrets survive restarts;
# production sets its own.
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS", default=["bG9jYWwtZGV2LW9ubHktZmllbGQta2V5LTMyYnl0ZXM="]
)

# The demo's users (demo/demo, admin/admin) sign in with a password only; mail goes to the console.
PANEL_STAFF_REQUIRE_MFA = env.bool("PANEL_STAFF_REQUIRE_MFA", default=False)
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
# WebAuthn over plain http://localhost for the demo (browsers treat localhost as secure anyway).
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True
