"""Embedded default for a developer's machine or the demo: SQLite, filesystem broker, DEBUG."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-never-use-in-production")
# A fixed development key, so the demo's encrypted node secrets survive restarts;
# production sets its own.
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS", default=["bG9jYWwtZGV2LW9ubHktZmllbGQta2V5LTMyYnl0ZXM="]
)
