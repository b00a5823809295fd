"""Eight publishers sending the same 1,000 payloads at once, four over NATS and four over REST
(the Procfile's gunicorn): each payload is accepted once, every other copy is counted, and each
causes one event, published once and delivered."""

import threading

import pytest
import requests

from tests.e2e.faults.conftest import PLANS, SETTLE_TIMEOUT
from tests.fixtures.partner import SUBJECT, payload_stream
from tests.fixtures.waiting import PATIENCE

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

PAYLOADS = 1000
PUBLISHERS_PER_TRANSPORT = 4


def post_all(url: str, key: str, bodies: list[bytes], go: threading.Event, statuses: list):
    session = requests.Session()
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    go.wait()
    for body in bodies:
        statuses.append(session.post(url, data=body, headers=headers, timeout=PATIENCE).status_code)


def test_eight_publishers_send_the_same_payloads_over_nats_and_rest(stack):
    # given every process, the web included, and 1,000 distinct payloads
    port = stack.start_web()
    stack.start("worker", "beat", "relay", "bus")
    bodies = payload_stream(stack.world["plans"], PAYLOADS, duplicate_every=PAYLOADS + 1)
    url = f"http://127.0.0.1:{port}/api/v1/inbound/{SUBJECT}/"
    go = threading.Event()
    statuses: list[int] = []
    posters = [
        threading.Thread(target=post_all, args=(url, stack.world["key"], bodies, go, statuses))
        for _ in range(PUBLISHERS_PER_TRANSPORT)
    ]
    for poster in posters:
        poster.start()

    # when four publish them over NATS and four POST them, all at once
    go.set()
    publishers = [stack.publisher(bodies, rate=10**6) for _ in range(PUBLISHERS_PER_TRANSPORT)]
    for poster in posters:
        poster.join(SETTLE_TIMEOUT)
    for publisher in publishers:
        publisher.finish()

    # then every request was answered 202, and each payload went through exactly once
    assert statuses == [202] * (PAYLOADS * PUBLISHERS_PER_TRANSPORT)
    tally = stack.wait_until_settled(PAYLOADS, PLANS, SETTLE_TIMEOUT)
    copies = PAYLOADS * (2 * PUBLISHERS_PER_TRANSPORT - 1)
    stack.check_exactly_once(tally, PAYLOADS, copies, PLANS)
    assert tally.duplicates_counted == copies  # no redelivery here: every copy counted once
