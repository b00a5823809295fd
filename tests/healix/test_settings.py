"""Settings come from the environment; production refuses to start without what it needs."""

import os
import secrets
import subprocess
import sys

from healix.settings import BASE_DIR

LOAD_SETTINGS = "import django; django.setup(); print('started')"
# A Fernet key, for these tests only.
PRODUCTION_KEY = "mL3S8Lk1rDxQJz2nB7mB2TtXqX0b7mGq9yZb3P4qkFk="


def start_django(**environment: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "healix.settings", **environment}
    return subprocess.run(
        [sys.executable, "-c", LOAD_SETTINGS],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_required_variables_names_them():
    # Given DEBUG off and nothing else set
    result = start_django()
    # Then start-up fails with one clear message naming every missing variable
    assert result.returncode != 0
    assert (
        "Missing required environment variable(s) with DEBUG off: "
        "SECRET_KEY, DATABASE_URL, NATS_URL, CELERY_BROKER_URL, ALLOWED_HOSTS, "
        "HEALIX_ENCRYPTION_KEYS" in result.stderr
    )


PRODUCTION = {
    "DATABASE_URL": "postgres://healix:pw@db.internal:5432/healix",
    "NATS_URL": "nats://nats.internal:4222",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "ALLOWED_HOSTS": "healix.example.org",
    "HEALIX_BRANCH": "production",
    "HEALIX_ENCRYPTION_KEYS": PRODUCTION_KEY,
}


def test_production_with_everything_set_starts():
    result = start_django(SECRET_KEY="a-real-secret", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"


def test_production_settings_pass_the_deployment_checklist():
    # Given DEBUG off and every required variable set (a key as long as Django asks for)
    env = {"PATH": os.environ["PATH"], "SECRET_KEY": secrets.token_urlsafe(64), **PRODUCTION}
    # When Django's deployment checklist runs, warnings counting as failures
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Then it finds nothing: HSTS, the TLS redirect and secure cookies are production's defaults
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_a_malformed_encryption_key_stops_start_up():
    # Given every variable set, but an encryption key that is no Fernet key
    result = start_django(
        SECRET_KEY="a-real-secret",
        **{**PRODUCTION, "HEALIX_ENCRYPTION_KEYS": f"{PRODUCTION_KEY},not-a-key"},
    )
    # Then the process refuses to start, naming the variable
    assert result.returncode != 0
    assert "HEALIX_ENCRYPTION_KEYS holds a value that is not a Fernet key" in result.stderr


def test_development_still_needs_a_database():
    result = start_django(DEBUG="true")
    assert result.returncode != 0
    assert "DATABASE_URL is not set" in result.stderr


def development_settings(expression: str, **environment: str) -> str:
    """What `print(<expression>)` prints, `s` being the settings of a development process
    with `environment` (and a DATABASE_URL) set."""
    result = subprocess.run(
        [sys.executable, "-c", f"from django.conf import settings as s; print({expression})"],
        cwd=BASE_DIR,
        env={
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "healix.settings",
            "DEBUG": "true",
            "DATABASE_URL": "postgres://u:p@db.example:5432/healix",
            **environment,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_values_are_read_from_the_environment():
    # Given a development environment naming a branch and a broker
    printed = development_settings(
        "s.HEALIX_BRANCH, s.CELERY_BROKER_URL, s.DATABASES['default']['HOST'], s.DEBUG",
        HEALIX_BRANCH="staging",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )
    # Then settings carry exactly those values
    assert printed.split() == ["staging", "redis://127.0.0.1:6379/0", "db.example", "True"]


def test_prepared_statements_can_be_turned_off():
    threshold = "s.DATABASES['default'].get('OPTIONS', {}).get('prepare_threshold')"
    # By default the hot statements may be prepared; turned off, psycopg prepares nothing
    assert development_settings(threshold) == "5"
    assert development_settings(threshold, DATABASE_PREPARED_STATEMENTS="false") == "None"


def production_settings(expression: str, **environment: str) -> str:
    """The same for a production process: DEBUG off, every required variable set."""
    production = {**PRODUCTION, "SECRET_KEY": "a-real-secret", **environment}
    return development_settings(expression, DEBUG="false", **production)


TLS_SETTINGS = (
    "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, "
    "s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER"
)


def test_development_on_plain_http_turns_off_only_what_needs_tls():
    # Given DEBUG on, as `make run` and `make test` run (http://127.0.0.1)
    # Then nothing is redirected to https, no HSTS, cookies may travel on plain HTTP
    assert development_settings(TLS_SETTINGS).split() == ["False", "0", "False", "False", "None"]
    # and the Content-Security-Policy is production's, so a page that breaks it shows up
    policy = "s.CONTENT_SECURITY_POLICY['DIRECTIVES']"
    assert development_settings(policy) == production_settings(policy)


def test_production_insists_on_tls_behind_its_proxy():
    printed = production_settings(TLS_SETTINGS)
    assert printed == "True 31536000 True True ('HTTP_X_FORWARDED_PROTO', 'https')"


def test_without_a_tls_proxy_no_forwarded_header_is_believed():
    # Given gunicorn ending TLS itself: a client's X-Forwarded-Proto must not make a plain
    # HTTP request look secure
    printed = production_settings("s.SECURE_PROXY_SSL_HEADER", HEALIX_BEHIND_TLS_PROXY="false")
    assert printed == "None"


def test_retention_periods_are_read_and_a_hash_cannot_go_before_its_payload():
    printed = development_settings(
        "s.HEALIX_RETENTION_INBOUND_PAYLOAD_DAYS, s.HEALIX_RETENTION_INBOUND_HASH_DAYS",
        HEALIX_RETENTION_INBOUND_PAYLOAD_DAYS="7",
        HEALIX_RETENTION_INBOUND_HASH_DAYS="14.5",
    )
    assert printed == "7.0 14.5"
    # A horizon shorter than the payload's period would break first message only early
    result = start_django(
        DEBUG="true",
        DATABASE_URL="postgres://u:p@db.example:5432/healix",
        HEALIX_RETENTION_INBOUND_PAYLOAD_DAYS="30",
        HEALIX_RETENTION_INBOUND_HASH_DAYS="10",
    )
    assert result.returncode != 0
    assert "HEALIX_RETENTION_INBOUND_HASH_DAYS must be at least" in result.stderr
    result = start_django(
        DEBUG="true",
        DATABASE_URL="postgres://u:p@db.example:5432/healix",
        HEALIX_RETENTION_IDEMPOTENCY_HOURS="0",
    )
    assert result.returncode != 0
    assert "HEALIX_RETENTION_IDEMPOTENCY_HOURS must be above 0" in result.stderr
