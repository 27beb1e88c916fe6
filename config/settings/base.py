"""Settings shared by every environment; each value comes from the environment (django-environ)."""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"  # embedded default's state: SQLite, broker folders, demo simulator state

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default=None)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "csp",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "panel",
    "nodes",
    "servers",
    "backups",
    "metrics",
    "traffic",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "panel.middleware.AuditContextMiddleware",
    "panel.middleware.SessionActivityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "panel.staff_mfa.StaffMfaMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'panel.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False


def sqlite_for_concurrency(database: dict) -> None:
    """Let the web process and the worker write one SQLite file at once.

    Without this a second writer fails at once with `database is locked` and jobs stall in
    "Queued". WAL lets readers go on while one writes; the busy timeout makes a writer wait for the
    lock instead of failing; IMMEDIATE takes the write lock when a transaction begins, so two
    readers never deadlock upgrading to writers. Shared by the embedded default and the tests.
    """
    if not database["ENGINE"].endswith("sqlite3"):
        return
    options = database.setdefault("OPTIONS", {})
    options.setdefault("timeout", 30)
    options.setdefault("transaction_mode", "IMMEDIATE")
    options.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL")


sqlite_for_concurrency(DATABASES["default"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "panel.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Sign-in: django-allauth (accounts, second factors, throttling, e-mail flows) ------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_ADAPTER = "panel.account_adapter.PanelAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "optional"
# A new address replaces the old one only once a link sent to it is followed.
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# Adding or removing a factor asks for the password or a factor again, never a code by e-mail:
# a taken-over mailbox must not be enough to change an account's second factors.
ACCOUNT_REAUTHENTICATION_METHODS = ("password", "mfa")
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[PVE panel] "
# Failed sign-ins: per username (whatever the IP) and per IP, in the shared cache. Past the limit
# the form says so without saying whether the account exists; staff can lift it from admin.
ACCOUNT_RATE_LIMITS = {
    "login_failed": env("LOGIN_FAILED_RATE_LIMIT", default="20/m/ip,5/15m/key"),
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = env("MFA_TOTP_ISSUER", default="PVE panel")
# Staff without a second factor are sent to enrol before Django admin (panel/staff_mfa.py).
PANEL_STAFF_REQUIRE_MFA = env.bool("PANEL_STAFF_REQUIRE_MFA", default=True)
# Mail (password resets, address confirmations, quota notices): EMAIL_URL=smtp+tls://user:pw@host:587
vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="panel@localhost")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Secrets at rest -------------------------------------------------------------------------
# Fernet keys (urlsafe base64, 32 bytes) for PVE token secrets; the first encrypts, all decrypt,
# so a key can be rotated by prepending a new one.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- Celery ----------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {
        # Longer than the longest job: a Redis-delivered task not acked by then is delivered again.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_S", default=4 * 3600),
    }
)
if CELERY_BROKER_URL.startswith("filesystem"):
    # kombu's filesystem transport needs its folders to exist before either side connects.
    for _folder in ("queue", "processed", "control"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = None  # the Job row is the truth; no result backend is read
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT_S", default=2 * 3600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT_S", default=2 * 3600 - 60)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- PVE -------------------------------------------------------------------------------------
PROXMOX_CONNECT_TIMEOUT_S = env.float("PROXMOX_CONNECT_TIMEOUT_S", default=5.0)
PROXMOX_READ_TIMEOUT_S = env.float("PROXMOX_READ_TIMEOUT_S", default=30.0)
PROXMOX_LOCK_RETRY_DEADLINE_S = env.float("PROXMOX_LOCK_RETRY_DEADLINE_S", default=120.0)
# How long a step waits for one PVE task, per operation (seconds); each job task's Celery time
# limits are derived from these (servers/jobs.py).
PROXMOX_TASK_TIMEOUTS_S = {
    "clone": env.int("PROXMOX_CLONE_TIMEOUT_S", default=3600),
    "configure": 300,
    "resize": env.int("PROXMOX_RESIZE_TIMEOUT_S", default=1800),
    "power": 600,
    "delete": 1800,
    "backup": env.int("PROXMOX_BACKUP_TIMEOUT_S", default=4 * 3600),
    "restore": env.int("PROXMOX_RESTORE_TIMEOUT_S", default=4 * 3600),
}
# After a job failed, how long at most to wait for PVE's task of the failed step to end before
# the server is written (bounded also by that step's own wait above); unknown past it.
PROXMOX_FAILED_TASK_WAIT_S = env.int("PROXMOX_FAILED_TASK_WAIT_S", default=300)
# A running job whose heartbeat is older than this is considered orphaned by the sweeper.
JOB_STALE_AFTER_S = env.int("JOB_STALE_AFTER_S", default=300)
# How many times the sweeper resumes a job whose worker died before it fails it.
JOB_MAX_RESUMES = env.int("JOB_MAX_RESUMES", default=3)
# --- Traffic accounting (traffic/) -----------------------------------------------------------
# How often each node's VM counters are read (one /cluster/resources call per node).
TRAFFIC_SAMPLE_INTERVAL_S = env.float("TRAFFIC_SAMPLE_INTERVAL_S", default=300.0)
# The day of the month a billing period starts on (1-28), at midnight in TIME_ZONE.
TRAFFIC_BILLING_DAY = env.int("TRAFFIC_BILLING_DAY", default=1)
# No NIC moves more than this: a larger delta is a misreading, counted as nothing (40 Gbit/s).
TRAFFIC_MAX_BYTES_PER_S = env.int("TRAFFIC_MAX_BYTES_PER_S", default=5_000_000_000)
# The share of the quota at which the customer is warned, before the 100 % notice.
TRAFFIC_WARN_PERCENT = env.int("TRAFFIC_WARN_PERCENT", default=80)

CELERY_BEAT_SCHEDULE = {
    "jobs-sweep": {
        "task": "panel.tasks.jobs_sweep",
        "schedule": env.float("JOBS_SWEEP_INTERVAL_S", default=60.0),
    },
    "traffic-sample": {
        "task": "traffic.tasks.traffic_sample",
        "schedule": TRAFFIC_SAMPLE_INTERVAL_S,
    },
}

# --- Cache ----------------------------------------------------------------------------------
# Shared by the web processes and the worker (the usage graphs: the worker writes what it read
# from PVE, pages read it). Redis in production (CACHE_URL=rediscache://...); the embedded default
# is a folder under var/, which every process on the machine shares.
CACHE_URL = env("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")
CACHES = {"default": env.cache_url_config(CACHE_URL)}


# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "panel.api.auth.PanelTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "panel.api.auth.TokenScopePermission",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "panel.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="60/min"),
        "user": env("API_THROTTLE_USER", default="600/min"),
        # Docs and schema: their own scope, not the anonymous one that failed logins use up.
        "docs": env("API_THROTTLE_DOCS", default="120/min"),
    },
}
# API tokens expire: a leaked one is not good forever. A token's creator may ask for less.
# Content security policy (django-csp 4): scripts only from our own static files (htmx, the
# panel's JS, uPlot, Swagger UI from the sidecar), never inline; htmx's eval-based features
# (hx-on, js: values) are therefore unavailable and unused. Inline styles stay allowed: Django
# admin, Swagger UI and htmx's swap transitions set style attributes, and a style cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=30 * 24)),
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PVE panel API",
    "DESCRIPTION": "Servers, jobs, plans and nodes of the Proxmox VE hosting panel. "
    "Every change to a VM is an asynchronous job: actions answer 202 with the job to poll.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"TrafficPolicyEnum": "traffic.api.serializers.POLICY_OR_NONE"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "proxmox": {"level": env("PROXMOX_LOG_LEVEL", default="INFO")},
        "django.db.backends": {"level": "WARNING"},
    },
}
