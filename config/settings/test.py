"""Test settings: SQLite and the filesystem broker unless CI points DATABASE_URL/CELERY_BROKER_URL at
PostgreSQL and Redis."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = "test-only-secret-key"
DEBUG = False
FIELD_ENCRYPTION_KEYS = ["dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5ISE="]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "10000/min", "user": "10000/min"}}  # noqa: F405
PROXMOX_LOCK_RETRY_DEADLINE_S = env.float("PROXMOX_LOCK_RETRY_DEADLINE_S", default=20.0)
