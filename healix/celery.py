"""The Celery app: `celery -A healix.celery worker` (the Procfile's worker).

Configured from the Django settings' CELERY_* names. Without CELERY_BROKER_URL the broker is
kombu's filesystem transport under var/celery (one machine, nothing to run); its folders are
made here, since the transport expects them to exist.
"""

import logging.config
import os
from contextlib import AbstractContextManager
from pathlib import Path

from celery import Celery, bootsteps
from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healix.settings")
# filesystem:// with an atomic put (dev/celery_filesystem.py): kombu's own lets a worker
# read a half-written message and die.
TRANSPORT_ALIASES["filesystem"] = "dev.celery_filesystem:Transport"

app = Celery("healix")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Seconds between looks at the worker's stop flag while it waits for a broker's messages.
STOP_CHECK_SECONDS = 0.5


class _NoticeStop(bootsteps.StartStopStep):
    """On a broker with an event loop (RabbitMQ, Redis), a worker told to stop (SIGTERM) only
    looks at its flag when the loop wakes: at the next message or timer, up to 10 s later when
    idle. A timer that does nothing wakes it often enough to stop at once (kombu's filesystem
    transport has its own, dev/celery_filesystem.py)."""

    requires = ("celery.worker.components:Hub",)

    def start(self, worker) -> None:
        if worker.hub is not None:
            worker.hub.call_repeatedly(STOP_CHECK_SECONDS, _nothing)


def _nothing() -> None:
    pass


app.steps["worker"].add(_NoticeStop)

__all__ = ["app"]


@app.on_after_configure.connect
def _make_filesystem_folders(sender: Celery, **_kwargs) -> None:
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@setup_logging.connect
def _django_logging(loglevel: int | str | None = None, **_kwargs) -> None:
    """Celery's own lines too go through settings.LOGGING (JSON, with the log context); the
    command's --loglevel, when given, is the process's level."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


# A task carries the log context of whoever queued it (trace id, organization, event ids) in a
# message header; the worker binds it while the task runs, Celery's own lines about it included.
_running: dict[str, AbstractContextManager] = {}


@before_task_publish.connect
def _carry_log_context(headers: dict | None = None, **_kwargs) -> None:
    from healix.observability.logcontext import CELERY_HEADER, to_header

    context = to_header()
    if context and headers is not None:
        headers[CELERY_HEADER] = context


@task_prerun.connect
def _bind_log_context(task_id: str | None = None, task=None, **_kwargs) -> None:
    from healix.observability.logcontext import CELERY_HEADER, from_header

    context = from_header(getattr(task.request, CELERY_HEADER, None))
    context.__enter__()
    _running[task_id] = context


@task_postrun.connect
def _unbind_log_context(task_id: str | None = None, **_kwargs) -> None:
    context = _running.pop(task_id, None)
    if context is not None:
        context.__exit__(None, None, None)
