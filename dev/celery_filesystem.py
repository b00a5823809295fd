"""kombu's filesystem transport with an atomic put: the development broker of `make run`.

kombu writes a message by creating `<time>_<uuid>.<queue>.msg` and then writing into it; a
worker listing the folder in between moves the still-empty file away, fails to decode it
("Expecting value: line 1 column 1"), loses the message, and stops with an "Unrecoverable
error". Here the message is written under a name the reader ignores and renamed into place,
which is atomic on one filesystem: a reader sees a whole message or none. An exchange's table
of bindings, which kombu also creates empty before writing it, is read again until written.

It also names no host (a folder has none: kombu's default `localhost` made every connection
warn "No hostname was supplied"), and lets a stopping worker stop at once: Celery's loop for
this transport waits for messages 2 s at a time and only then sees a Ctrl-C.

healix/celery.py registers it under the `filesystem` scheme, so CELERY_BROKER_URL stays
`filesystem://`.
"""

import os
import uuid
from time import monotonic, sleep

from celery.worker import state as worker_state
from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

__all__ = ["Channel", "Transport"]

# Not `<queue>.msg`: kombu's reader skips every name whose part after the first dot differs.
PARTIAL_SUFFIX = ".partial"
# Seconds an idle worker waits for a message before it looks whether it was told to stop: short
# enough that a Ctrl-C stops it at once, long enough to cost nothing (a look at a flag).
STOP_CHECK_SECONDS = 0.2
# Seconds a producer waits for a binding table being written before it gives up.
TABLE_WRITE_PATIENCE_SECONDS = 5.0


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.rename(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def get_table(self, exchange: str) -> list:
        # kombu creates `<exchange>.exchange` empty, then locks and writes it: a producer
        # reading it in between failed to decode "" and lost its message. Empty is a table
        # being written: read again once the writer is through.
        deadline = monotonic() + TABLE_WRITE_PATIENCE_SECONDS
        while True:
            try:
                return super().get_table(exchange)
            except ValueError:
                if monotonic() >= deadline:
                    raise
                sleep(0.001)


def worker_stopping() -> bool:
    """True once this process is a Celery worker told to stop (warm or cold shutdown)."""
    flags = (worker_state.should_stop, worker_state.should_terminate)
    return any(flag is not None and flag is not False for flag in flags)


class Transport(filesystem.Transport):
    Channel = Channel

    @property
    def default_connection_params(self) -> dict:
        return {}  # a folder, not a server: no host, no port

    def drain_events(self, connection, timeout: float | None = None) -> None:
        """Wait up to `timeout` for a message as kombu does, in slices of STOP_CHECK_SECONDS,
        giving up early (as a timeout) once the worker was told to stop."""
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            left = STOP_CHECK_SECONDS if deadline is None else deadline - monotonic()
            wait = max(min(left, STOP_CHECK_SECONDS), 0.001)
            try:
                return super().drain_events(connection, timeout=wait)
            except TimeoutError:
                if worker_stopping() or (deadline is not None and monotonic() >= deadline):
                    raise
