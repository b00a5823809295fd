"""The rules' batcher of inbound events: committed event ids reach the broker in batches, each
exactly once, from a thread of its own in every process (gunicorn and Celery fork theirs)."""

import os
import uuid

from rules.inbound_batching import BATCH_MAX_EVENTS, EvaluationBatcher


def collecting() -> tuple[EvaluationBatcher, list[list[uuid.UUID]]]:
    batches: list[list[uuid.UUID]] = []
    return EvaluationBatcher(batches.append), batches


def test_every_id_is_delivered_once_and_ids_sent_together_share_a_task():
    # Given a batcher and 200 commits in quick succession, one id each
    batcher, batches = collecting()
    sent = [uuid.uuid4() for _ in range(200)]
    for event_id in sent:
        batcher.send([event_id])
    # When the process stops
    batcher.flush()
    # Then each id was delivered once, in the order sent, in fewer tasks than commits
    delivered = [event_id for batch in batches for event_id in batch]
    assert delivered == sent
    assert len(batches) < len(sent)
    assert all(len(batch) <= BATCH_MAX_EVENTS for batch in batches)


def test_flush_delivers_what_is_queued_and_the_courier_starts_again_after():
    batcher, batches = collecting()
    first = [uuid.uuid4() for _ in range(3)]
    batcher.send(first)
    batcher.flush()
    assert [i for batch in batches for i in batch] == first
    assert not batcher._thread.is_alive()
    # A later send (a process that goes on after a flush) starts a new thread
    later = [uuid.uuid4()]
    batcher.send(later)
    batcher.flush()
    assert [i for batch in batches for i in batch] == first + later


def test_a_forked_child_delivers_through_a_thread_of_its_own():
    # Given a batcher already running in this process (its thread does not survive a fork)
    read_end, write_end = os.pipe()
    batcher = EvaluationBatcher(lambda ids: os.write(write_end, b"".join(i.bytes for i in ids)))
    batcher.send([uuid.uuid4()])
    assert len(os.read(read_end, 16)) == 16
    child_ids = [uuid.uuid4(), uuid.uuid4()]
    # When a forked child (a gunicorn worker) hands over events and exits
    pid = os.fork()
    if pid == 0:  # the child
        try:
            batcher.send(child_ids)
            batcher.flush()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    os.close(write_end)
    # Then the child's ids were delivered, from the child
    received = b""
    while chunk := os.read(read_end, 4096):
        received += chunk
    os.close(read_end)
    assert received == b"".join(i.bytes for i in child_ids)
    batcher.flush()
