"""/healthz (the process answers) and /readyz (what it depends on answers: PostgreSQL, NATS,
the Celery broker). A load balancer sends traffic only to a ready process; 503 names what is
down. Public and cheap: no key, no data."""

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from bus import client as bus_client
from healix.api.problems import problem_json
from healix.celery import app as celery_app
from healix.sql import PING_SQL

__all__ = ["healthz", "readyz"]

# Seconds each dependency gets to answer: a probe must answer well within a load balancer's
# own timeout (usually 5 s or more), even when two dependencies are down.
CHECK_TIMEOUT = 1.5


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute(PING_SQL)


async def _quiet(error: Exception) -> None:
    pass


async def _nats_round_trip() -> None:
    client = await bus_client.connect(
        settings.NATS_URL,
        connect_timeout=CHECK_TIMEOUT,
        # nats-py retries the first connection too; 0 would mean "forever". One retry, soon.
        max_reconnect_attempts=1,
        reconnect_time_wait=0.1,
        allow_reconnect=False,
        error_cb=_quiet,  # the answer names the failure; no traceback in the log per probe
    )
    try:
        await client.flush(timeout=CHECK_TIMEOUT)
    finally:
        await client.close()


def _nats() -> None:
    asyncio.run(asyncio.wait_for(_nats_round_trip(), CHECK_TIMEOUT * 2))


def _celery_broker() -> None:
    with celery_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT)
    # The filesystem transport "connects" to anything: its folder is what must be there.
    folder = (celery_app.conf.broker_transport_options or {}).get("data_folder_in")
    filesystem = celery_app.conf.broker_url.startswith("filesystem")
    if filesystem and folder and not os.access(folder, os.W_OK):
        raise OSError(f"the broker folder {folder} is not writable")


CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "nats": _nats,
    "celeryBroker": _celery_broker,
}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _run(check: Callable[[], None]) -> str:
    try:
        check()
    except Exception as error:  # any failure means "not ready", and says why
        return f"down: {type(error).__name__}: {error}"[:300]
    return "ok"


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    # The remote checks wait side by side, so two dependencies down cost one timeout, not two;
    # the database one stays in this thread (Django's connections are per thread).
    remote = {name: check for name, check in CHECKS.items() if name != "database"}
    with ThreadPoolExecutor(max_workers=len(remote)) as pool:
        pending = {name: pool.submit(_run, check) for name, check in remote.items()}
        checks = {"database": _run(_database)}
        checks |= {name: future.result() for name, future in pending.items()}
    down = [name for name, result in checks.items() if result != "ok"]
    if not down:
        return JsonResponse({"status": "ready", "checks": checks})
    detail = f"Down: {', '.join(down)}."
    return problem_json(503, "Not ready", detail, "not-ready", down=down, checks=checks)
