"""The development broker (filesystem://) never hands a worker a half-written message."""

import threading
import time

import pytest
from celery.worker import state as worker_state
from kombu import Connection
from kombu.transport import filesystem

from dev import celery_filesystem
from dev.celery_filesystem import Transport
from healix.celery import app


def folders(tmp_path) -> dict[str, str]:
    """Transport options that keep every file in `tmp_path` (kombu's exchange tables too,
    which otherwise land in control/ of the current directory)."""
    return {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "control_folder": str(tmp_path),
    }


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
    options = folders(tmp_path)
    count, writers = 10, 3

    def write() -> None:
        with Connection("filesystem://", transport_options=options) as connection:
            queue = connection.SimpleQueue("race")
            for n in range(count):
                queue.put({"n": n})

    # (the queue bound first: kombu's in-process state lets a second thread skip the binding
    # and find no table yet, a race of kombu's own that this test is not about)
    with Connection("filesystem://", transport_options=options) as connection:
        connection.SimpleQueue("race")
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


def test_a_producer_waits_for_a_binding_table_being_written(tmp_path):
    # Given a queue's binding table as kombu leaves it while another process writes it: the
    # file created, still empty
    options = folders(tmp_path)
    with Connection("filesystem://", transport_options=options) as connection:
        connection.SimpleQueue("table").put({"n": 0})  # binds: this process knows the queue
    table = tmp_path / "table.exchange"
    written = table.read_text()
    table.write_text("")

    def finish_writing() -> None:
        time.sleep(0.2)
        table.write_text(written)

    writer = threading.Thread(target=finish_writing)
    writer.start()
    # When a producer of another connection puts a message meanwhile
    with Connection("filesystem://", transport_options=options) as connection:
        queue = connection.SimpleQueue("table")
        queue.put({"n": 1})
        writer.join()
        # Then it waited for the table (kombu failed to decode "") and the message is queued
        received = sorted(queue.get(timeout=5).payload["n"] for _ in range(2))
    assert received == [0, 1]


def test_a_connection_logs_no_hostname_warning(tmp_path, caplog):
    # Given the development broker, which is a folder and has no host
    options = folders(tmp_path)
    # When a producer connects and sends, as every process of `make run` does
    with Connection("filesystem://", transport_options=options) as connection:
        connection.SimpleQueue("quiet").put({"n": 1})
        connection.clone().close()  # Celery's producer pools clone their connection
    # Then kombu logged no warning (it used to say "No hostname was supplied" each time)
    assert [record.getMessage() for record in caplog.records if record.levelname == "WARNING"] == []


def test_an_idle_worker_told_to_stop_stops_waiting_at_once(tmp_path, monkeypatch):
    # Given a consumer waiting on an empty queue for as long as Celery's loop asks (2 s)
    with Connection("filesystem://", transport_options=folders(tmp_path)) as connection:
        connection.SimpleQueue("idle").consumer.consume()
        waits: list[float] = []
        real_drain = filesystem.Transport.drain_events

        def drain(self, connection, timeout=None):
            waits.append(timeout)
            # When the worker is told to stop (a Ctrl-C: Celery sets this flag) while it waits
            monkeypatch.setattr(worker_state, "should_stop", 0)
            return real_drain(self, connection, timeout=timeout)

        monkeypatch.setattr(filesystem.Transport, "drain_events", drain)
        with pytest.raises(TimeoutError):
            connection.drain_events(timeout=2.0)
    # Then it gave up after one short slice of the wait, not the whole 2 s
    assert len(waits) == 1 and waits[0] < 2.0 / 4, waits


def test_a_consumer_not_told_to_stop_waits_its_whole_timeout(tmp_path):
    # Given a consumer waiting up to 10 s on an empty queue, in a process not stopping
    with Connection("filesystem://", transport_options=folders(tmp_path)) as connection:
        queue = connection.SimpleQueue("later")
        # When a message arrives only after several of the transport's slices of waiting
        sender = threading.Timer(1.0, queue.put, args=({"n": 1},))
        sender.start()
        # Then the consumer still receives it, within its own timeout
        message = queue.get(timeout=10)
        sender.join()
    assert message.payload == {"n": 1}
