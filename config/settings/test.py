"""Test settings: SQLite and the filesystem broker, unless CI points DATABASE_URL and
CELERY_BROKER_URL at PostgreSQL and Redis."""

from .base import *  # noqa: F403
from .base import env

INSTALLED_APPS = [*INSTALLED_APPS, "demo"]  # noqa: F405  (its commands are tested)
SECRET_KEY = "test-only-secret-key"
DEBUG = False
FIELD_ENCRYPTION_KEYS = ["dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5ISE="]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"anon": "10000/min", "user": "10000/min", "docs": "10000/min"},
}
PROXMOX_LOCK_RETRY_DEADLINE_S = env.float("PROXMOX_LOCK_RETRY_DEADLINE_S", default=20.0)

# --- Job engine tests: a real worker subprocess shares the test database and broker -------------
import os  # noqa: E402

from .base import DATABASES, VAR_DIR  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not :memory:, so the worker subprocess opens the same test database.
    # The concurrency options (WAL, busy timeout, IMMEDIATE) come from base, as for `make run`.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    # Per session, so two test runs on one PostgreSQL server never fight over one test database.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
# One cache per test session, shared with the worker subprocess (tests/fixtures/worker.py passes
# CACHE_URL on), so a page view in the test sees what the worker cached.
CACHE_URL = env("CACHE_URL", default=f"filecache://{VAR_DIR / f'cache-test-{os.getpid()}'}")
CACHES = {"default": env.cache_url_config(CACHE_URL)}
# One queue per test session, so messages of an earlier or a parallel run never reach our worker.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default=f"panel-test-{os.getpid()}")

# Serve static files from the app folders as runserver does: tests never run collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# The worker subprocess too keeps mail in memory (pytest-django does so for the test process).
# Admin tests sign staff in with a password; the policy's own tests switch it on.
PANEL_STAFF_REQUIRE_MFA = False
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True
