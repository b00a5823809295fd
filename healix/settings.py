"""Settings, read from the environment (12-factor, via django-environ).

Production defaults are the safe ones: DEBUG off, no allowed hosts, and a clear
ImproperlyConfigured at start-up when a required variable is missing. `make run` and
`make test` set development values themselves (see dev/servers.py).
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from bus.limits import bus_limits
from healix.observability.logging_config import LOG_FORMATS, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HEALIX_VAR_DIR", BASE_DIR / "var"))

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# Variables without which a production process must refuse to start.
REQUIRED_IN_PRODUCTION = (
    "SECRET_KEY",
    "DATABASE_URL",
    "NATS_URL",
    "CELERY_BROKER_URL",
    "ALLOWED_HOSTS",
    "HEALIX_ENCRYPTION_KEYS",
)
if not DEBUG:
    missing = [name for name in REQUIRED_IN_PRODUCTION if not env.str(name, default="")]
    if missing:
        raise ImproperlyConfigured(
            "Missing required environment variable(s) with DEBUG off: "
            + ", ".join(missing)
            + ". Set them, or set DEBUG=true for local development."
        )
SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-do-not-use-in-production")
HEALIX_ENCRYPTION_KEYS = env.list("HEALIX_ENCRYPTION_KEYS", default=[])  # healix/encryption.py
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

if "DATABASE_URL" not in env:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. `make run` and `make test` start an embedded PostgreSQL and "
        "set it for you; otherwise point it at a PostgreSQL server "
        "(postgres://user:password@host:5432/name)."
    )
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
# A `SELECT 1` before each request's first query, so a kept connection the database dropped
# (a restart) is replaced unseen. The web process turns it off (Procfile): it is a large share
# of a REST request's round trips (docs/performance.md), and a dropped connection costs one 503
# with Retry-After instead.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=True)
# Lets the hot statements of healix/prepared.py be planned once per connection. Django's own
# cursors bind on the client and are never prepared, whatever this says.
if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5

# The bus. Used by the events and integrations apps.
NATS_URL = env.str("NATS_URL", default="nats://127.0.0.1:4222")

# Without a broker URL, Celery uses kombu's filesystem transport under var/: one machine,
# no server to run. Production names Redis or RabbitMQ.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
# The filesystem transport's folder; tests point it at a scratch directory of their own.
CELERY_FILESYSTEM_DIR = Path(env.str("CELERY_FILESYSTEM_DIR", default=str(VAR_DIR / "celery")))
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(CELERY_FILESYSTEM_DIR / "queue"),
        "data_folder_out": str(CELERY_FILESYSTEM_DIR / "queue"),
        "processed_folder": str(CELERY_FILESYSTEM_DIR / "processed"),
        # Exchange tables; kombu's default is control/ in the current directory.
        "control_folder": str(CELERY_FILESYSTEM_DIR / "control"),
        "store_processed": False,
        # Seconds between looks at the folder: the default 1 s would delay every task.
        "polling_interval": env.float("CELERY_FILESYSTEM_POLLING_SECONDS", default=0.1),
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# The name of this running Healix instance, stamped on every outgoing event.
HEALIX_BRANCH = env.str("HEALIX_BRANCH", default="master")

# Outgoing events (events/): the JetStream stream and the relay that fills it.
# The stream's name; subjects healix.*.* (exactly three tokens, so inbound ones never match).
HEALIX_EVENTS_STREAM = env.str("HEALIX_EVENTS_STREAM", default="HEALIX_EVENTS")
# How long the stream keeps events for late consumers (webhook fan-out, partners): a week.
HEALIX_EVENTS_MAX_AGE_SECONDS = env.int("HEALIX_EVENTS_MAX_AGE_SECONDS", default=7 * 24 * 3600)
# JetStream drops a re-publish of an eventId within this window: a relay that dies between
# the acks and the mark has its batch re-published by the next relay, within minutes at most.
HEALIX_EVENTS_DUPLICATE_WINDOW_SECONDS = env.int(
    "HEALIX_EVENTS_DUPLICATE_WINDOW_SECONDS", default=10 * 60
)
# Copies of the stream in a NATS cluster; 1 on a single server, 3 in production clusters.
HEALIX_EVENTS_REPLICAS = env.int("HEALIX_EVENTS_REPLICAS", default=1)
# Rows one relay claims and publishes at once: big enough to pipeline acks, small enough that
# a batch is published in well under a second.
HEALIX_EVENTS_RELAY_BATCH = env.int("HEALIX_EVENTS_RELAY_BATCH", default=500)
# Seconds between sweeps when no commit woke the relay (a lost NOTIFY; a standby relay checks
# whether the active one is gone at least this often).
HEALIX_EVENTS_RELAY_SWEEP_SECONDS = env.float("HEALIX_EVENTS_RELAY_SWEEP_SECONDS", default=5.0)

# /metrics (healix/observability/metrics_view.py, docs/operations.md). The folder where every
# process writes
# its Prometheus values (prometheus_client's multi-process mode; `make run` sets it under var/);
# empty: each process counts alone and /metrics shows the web process's own.
HEALIX_METRICS_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
# A bearer token /metrics requires; empty: only direct requests from loopback are answered.
HEALIX_METRICS_TOKEN = env.str("HEALIX_METRICS_TOKEN", default="")

INSTALLED_APPS = [
    "healix.apps.HealixAdminConfig",  # django.contrib.admin with the operations page
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "healix",
    "templates",
    "plans",
    "events",
    "integrations",
    "rules",
    "bus",
    "portal",
    # Development tooling, installed for its commands; no production module imports it.
    "dev",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # First, so everything a request causes (its events included) carries its trace id.
    "healix.observability.middleware.TraceIdMiddleware",
    # Every response's Content-Security-Policy, built once (healix/content_security.py).
    "healix.content_security.CSPMiddleware",
    # Before anything reads a request body: refuses one over the API's limit (413).
    "healix.api.middleware.ApiBodyLimitMiddleware",
    # Serves the admin's static files from gunicorn, so the Procfile needs no separate server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Browser*: Django's own, skipped under /api/ where keys authenticate (api/middleware.py).
    "healix.api.middleware.BrowserSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "healix.api.middleware.BrowserAuthenticationMiddleware",
    "healix.api.middleware.BrowserMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "healix.urls"
WSGI_APPLICATION = "healix.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "healix" / "templates"],  # first: its admin/base_site.html
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_USER_MODEL = "healix.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# In development whitenoise reads the apps' static folders directly: no collectstatic needed.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=DEBUG)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Template import refuses documents bigger than this: a template is a few hundred KiB at most,
# so anything larger is a mistake (or an attack) rather than a template.
HEALIX_TEMPLATE_IMPORT_MAX_BYTES = env.int(
    "HEALIX_TEMPLATE_IMPORT_MAX_BYTES", default=5 * 1024 * 1024
)

# Inbound integration events (integrations/): exactly the names of that module's __all__.
from healix.settings_inbound import *  # noqa: E402, F403
from healix.settings_portal import *  # noqa: E402, F403
from healix.settings_retention import *  # noqa: E402, F403

# Rules (rules/).
# How many evaluations one trigger may cause when rule actions change data that "on change"
# rows read again; the evaluation at the limit records that the chain stopped.
HEALIX_RULES_CHAIN_LIMIT = env.int("HEALIX_RULES_CHAIN_LIMIT", default=5)
# Seconds a process keeps a compiled decision table: an edit saved elsewhere reaches every
# worker within this time (the saving process forgets at once).
HEALIX_RULES_TABLE_TTL_SECONDS = env.float("HEALIX_RULES_TABLE_TTL_SECONDS", default=2.0)
# How often Celery beat looks for time-elapsed rows that came due (each fires once per due date).
HEALIX_RULES_TIME_TICK_SECONDS = env.float("HEALIX_RULES_TIME_TICK_SECONDS", default=60.0)
# beat keeps its last-run times here, not in the working directory.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Every host may run beat; one sends (healix/beat.py). The others try for the lock this often,
# which bounds a takeover after the active beat dies (docs/deploy.md, "Standby processes").
CELERY_BEAT_SCHEDULER = "healix.beat:SingleBeatScheduler"
HEALIX_BEAT_STANDBY_SECONDS = env.float("HEALIX_BEAT_STANDBY_SECONDS", default=5.0)

# Webhooks (integrations/: HTTP integrations, deliveries, attempts; docs/webhooks.md).
# The durable consumer on HEALIX_EVENTS that fans events out to HTTP integrations.
HEALIX_WEBHOOKS_CONSUMER = env.str("HEALIX_WEBHOOKS_CONSUMER", default="healix-webhooks")
# Events fetched and fanned out in one transaction (one commit per batch, as for inbound).
HEALIX_WEBHOOKS_BATCH = env.int("HEALIX_WEBHOOKS_BATCH", default=200)
# Seconds to wait before each retry: Svix's schedule, which partners already know (8 attempts
# over about 28 hours). Tests and benchmarks set a short one.
HEALIX_WEBHOOK_RETRY_SCHEDULE = env.list(
    "HEALIX_WEBHOOK_RETRY_SCHEDULE",
    cast=float,
    default=[5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600],
)
# Each retry waits its step times a random factor in [1 - j, 1 + j]: endpoints that failed
# together are not all retried in the same second.
HEALIX_WEBHOOK_RETRY_JITTER = env.float("HEALIX_WEBHOOK_RETRY_JITTER", default=0.1)
# Longest Retry-After (429 / 503) honoured; a longer one is cut to it.
HEALIX_WEBHOOK_MAX_RETRY_AFTER_SECONDS = env.float(
    "HEALIX_WEBHOOK_MAX_RETRY_AFTER_SECONDS", default=10 * 3600
)
# An integration whose every attempt failed for this long is disabled (Svix: 5 days).
HEALIX_WEBHOOK_DISABLE_AFTER_SECONDS = env.float(
    "HEALIX_WEBHOOK_DISABLE_AFTER_SECONDS", default=5 * 24 * 3600
)
# HTTP timeouts: connecting, and the whole request (response headers and body).
HEALIX_WEBHOOK_CONNECT_TIMEOUT_SECONDS = env.float(
    "HEALIX_WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=5.0
)
HEALIX_WEBHOOK_TOTAL_TIMEOUT_SECONDS = env.float(
    "HEALIX_WEBHOOK_TOTAL_TIMEOUT_SECONDS", default=15.0
)
# A worker holds a delivery this long while it sends; a lease that runs out means the worker
# died mid-attempt, and the sweep hands the delivery to another. Longer than the timeout.
HEALIX_WEBHOOK_LEASE_SECONDS = env.float("HEALIX_WEBHOOK_LEASE_SECONDS", default=60.0)
# Retries due within this many seconds get a countdown task; later ones are queued by beat's
# sweep when due (a worker would hold hours of countdown tasks in memory).
HEALIX_WEBHOOK_COUNTDOWN_MAX_SECONDS = env.float(
    "HEALIX_WEBHOOK_COUNTDOWN_MAX_SECONDS", default=60.0
)
# Seconds between beat's sweeps: due retries, and deliveries whose task was lost.
HEALIX_WEBHOOK_SWEEP_SECONDS = env.float("HEALIX_WEBHOOK_SWEEP_SECONDS", default=30.0)
# SSRF guard: networks a webhook may reach although private, loopback, link-local, ...
# Empty in production; `make run` and the tests allow loopback for their local receivers.
HEALIX_WEBHOOK_ALLOWED_NETWORKS = env.list("HEALIX_WEBHOOK_ALLOWED_NETWORKS", default=[])
# Plain http:// URLs are refused with DEBUG off unless this is set.
HEALIX_WEBHOOK_ALLOW_HTTP = env.bool("HEALIX_WEBHOOK_ALLOW_HTTP", default=False)
# The User-Agent of every delivery.
HEALIX_WEBHOOK_USER_AGENT = env.str("HEALIX_WEBHOOK_USER_AGENT", default="Healix-Webhooks/1.0")
# How long the previous secret keeps signing after a rotation (receivers switch meanwhile).
HEALIX_WEBHOOK_SECRET_OVERLAP_SECONDS = env.float(
    "HEALIX_WEBHOOK_SECRET_OVERLAP_SECONDS", default=24 * 3600
)

# Accepted inbound events the rules have not finished with this many seconds after they arrived
# (a lost hand-off task, a failed evaluation) are queued again; beat looks this often.
HEALIX_INBOUND_HANDOFF_SWEEP_SECONDS = env.float(
    "HEALIX_INBOUND_HANDOFF_SWEEP_SECONDS", default=60.0
)

CELERY_BEAT_SCHEDULE = {
    "sweep-inbound-events": {
        "task": "rules.sweep_inbound_events",
        "schedule": HEALIX_INBOUND_HANDOFF_SWEEP_SECONDS,
    },
    "rules-time-elapsed": {
        "task": "rules.evaluate_due_rules",
        "schedule": HEALIX_RULES_TIME_TICK_SECONDS,
    },
    "sweep-webhook-deliveries": {
        "task": "integrations.sweep_webhook_deliveries",
        "schedule": HEALIX_WEBHOOK_SWEEP_SECONDS,
    },
    "prune-records": {
        "task": "healix.prune_records",
        "schedule": HEALIX_RETENTION_SWEEP_SECONDS,  # noqa: F405 (healix/settings_retention.py)
    },
}

# Bus access with an API key (bus/callout.py, docs/bus-access.md). The account partners
# are placed in: not the streams' one, reached only through its exports (docs say why).
HEALIX_BUS_ACCOUNT = env.str("HEALIX_BUS_ACCOUNT", default="PARTNERS")
# Seconds between two sweeps of the partners' connections: the bound on how long a revoked
# key's connection stays open (its next connect is refused at once).
HEALIX_BUS_REVOCATION_CHECK_SECONDS = env.float("HEALIX_BUS_REVOCATION_CHECK_SECONDS", default=10)
# The callout service's own connection (a user of nats-server's auth_callout account).
HEALIX_BUS_AUTH_NATS_URL = env.str("HEALIX_BUS_AUTH_NATS_URL", default="")
# Seed (SA…) of the account nkey that signs partners' user JWTs; its public key is the
# `issuer` of nats-server's auth_callout block.
HEALIX_BUS_AUTH_ISSUER_SEED = env.str("HEALIX_BUS_AUTH_ISSUER_SEED", default="")
# A user of nats-server's system account: the sweep lists connections and closes them.
HEALIX_BUS_SYSTEM_NATS_URL = env.str("HEALIX_BUS_SYSTEM_NATS_URL", default="")
# The URL partners connect to (POST /api/v1/bus-credentials/); without it, NATS_URL's host.
HEALIX_BUS_PUBLIC_URL = env.str("HEALIX_BUS_PUBLIC_URL", default="")
# Per-key limits from HEALIX_BUS_MAX_* (bus/limits.py: each, and why that number).
HEALIX_BUS_LIMITS = bus_limits()

# The REST API: DRF, its limits per key and per request, the OpenAPI document.
from healix.settings_api import *  # noqa: E402, F403

# TLS behind a proxy, HSTS, secure cookies, the CSP: exactly the names of that module's __all__.
from healix.settings_headers import *  # noqa: E402, F403

# Logs: one JSON object a line (LOG_FORMAT=json, the default), or readable lines ending in
# key=value pairs (LOG_FORMAT=text, what `make run` uses). Every line about an event carries
# its traceId, orgId and event ids (healix/observability/logcontext.py, docs/logging.md).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
if LOG_FORMAT not in LOG_FORMATS:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")
LOGGING = logging_config(LOG_FORMAT, env.str("LOG_LEVEL", default="INFO"))
