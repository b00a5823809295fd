"""SIGKILL of each process that moves events, in the middle of the issue's stream: 5,000
inbound events (one in ten a copy) over NATS, each distinct one causing a planUpdated event and
its webhook. Whatever was in flight is picked up again (a redelivery, a sweep, the next
relay): nothing is lost and nothing is processed twice. The worker's is struck on both Celery
brokers: kombu's filesystem transport (the sweep re-queues the lost task) and RabbitMQ (the
killed worker's unacknowledged tasks are redelivered to its successor: acks late)."""

import pytest

from tests.e2e.faults.conftest import DISTINCT, PLANS, run_stream_with_fault
from tests.fixtures.broker import task_ids, unfinished_task_ids
from tests.fixtures.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


def kill_and_restart(name: str):
    def strike(stack) -> None:
        stack.kill(name)
        stack.start(name)

    return strike


def test_consume_bus_killed_mid_stream(stack):
    # given the stream arriving, when consume_bus is killed after a third of it was accepted
    at_strike, _publisher = run_stream_with_fault(
        stack, lambda tally: tally.accepted >= DISTINCT // 3, kill_and_restart("bus")
    )
    # then (run_stream_with_fault checked every promise) the kill was mid-stream
    assert at_strike.accepted < DISTINCT


def test_celery_worker_killed_mid_stream(stack):
    # when the worker (its pool processes too) is killed after a third was evaluated
    at_strike, _publisher = run_stream_with_fault(
        stack, lambda tally: tally.evaluations >= DISTINCT // 3, kill_and_restart("worker")
    )
    assert at_strike.evaluations < DISTINCT


@pytest.mark.parametrize("stack_settings", [{"broker": "amqp"}])
def test_celery_worker_killed_mid_stream_on_rabbitmq(stack):
    lost: set[str] = set()

    def kill_while_it_holds_tasks(stack) -> None:
        killed = stack.processes["worker"].log
        # A task received and not finished is one RabbitMQ has not had an ack for.
        wait_until(lambda: unfinished_task_ids(killed))
        stack.kill("worker")
        lost.update(unfinished_task_ids(killed))
        stack.start("worker")

    # when the worker (its pool processes too) is killed after a third was evaluated, on
    # RabbitMQ, while it holds tasks
    at_strike, _publisher = run_stream_with_fault(
        stack, lambda tally: tally.evaluations >= DISTINCT // 3, kill_while_it_holds_tasks
    )
    assert at_strike.evaluations < DISTINCT
    # then (every promise checked) the tasks it held were redelivered to its successor and
    # run there: acks late, not the sweep (which queues new tasks, under new ids)
    successor = stack.processes["worker"].log
    assert lost
    assert lost <= set(task_ids(successor, "celery.app.trace"))


def test_relay_killed_mid_stream(stack):
    # when the relay is killed after a third of the events were published
    at_strike, _publisher = run_stream_with_fault(
        stack, lambda tally: tally.published >= PLANS // 3, kill_and_restart("relay")
    )
    assert at_strike.published < PLANS
