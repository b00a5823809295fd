"""The development broker (filesystem://) never hands a worker a half-written message."""

import threading
import time

from kombu import Connection

from healix import celery_filesystem
from healix.celery import app
from healix.celery_filesystem import Transport


def test_the_filesystem_scheme_is_the_atomic_transport():
    with app.connection_for_write() as connection:
        assert isinstance(connection.transport, Transport)


def test_a_reader_never_sees_a_message_being_written(tmp_path, monkeypatch):
    # Given writers that take a while between creating a message and finishing it (kombu's
    # own transport creates `<queue>.msg` first: a reader then took the empty file and died)
    encode = celery_filesystem.dumps

    def slow_dumps(payload):
        time.sleep(0.05)
        return encode(payload)

    monkeypatch.setattr(celery_filesystem, "dumps", slow_dumps)
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    count, writers = 10, 3

    def write() -> None:
        with Connection("filesystem://", transport_options=options) as connection:
            queue = connection.SimpleQueue("race")
            for n in range(count):
                queue.put({"n": n})

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    # When a reader polls the folder without pause meanwhile
    received = []
    with Connection(
        "filesystem://", transport_options={**options, "polling_interval": 0}
    ) as connection:
        queue = connection.SimpleQueue("race")
        while len(received) < count * writers:
            message = queue.get(timeout=30)
            received.append(message.payload["n"])
            message.ack()
    for thread in threads:
        thread.join()
    # Then every message arrived whole
    assert sorted(received) == sorted(list(range(count)) * writers)
