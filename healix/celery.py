"""The Celery app: `celery -A healix.celery worker` (the Procfile's worker).

Configured from the Django settings' CELERY_* names. Without CELERY_BROKER_URL the broker is
kombu's filesystem transport under var/celery (one machine, nothing to run); its folders are
made here, since the transport expects them to exist.
"""

import os
from pathlib import Path

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healix.settings")
# filesystem:// with an atomic put (healix/celery_filesystem.py): kombu's own lets a worker
# read a half-written message and die.
TRANSPORT_ALIASES["filesystem"] = "healix.celery_filesystem:Transport"

app = Celery("healix")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

__all__ = ["app"]


@app.on_after_configure.connect
def _make_filesystem_folders(sender: Celery, **_kwargs) -> None:
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
