"""The docs' examples run against a live `make run` (issue 16, items 2, 4 and 6).

One stack for the module, launched as `make run` on a fresh var/; each doc is then followed
as written, block by block, in the order a reader meets them (tests/fixtures/docs.py says how
a block is run and checked). The README's walk-through comes first, on the fresh stack, then
docs/integrators.md: a fresh clone's `make run` followed through both works step by step.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from dev.servers import BASE_DIR, free_port
from tests.fixtures.docs import Block, Session, read_blocks, unmarked
from tests.fixtures.launcher import Stack, partners_port, scratch_stack
from tests.fixtures.waiting import wait_until
from tests.fixtures.webhooks import Receiver

pytestmark = pytest.mark.e2e

# Each doc with its examples, and the part of it that holds them (None: all of it).
DOCS: dict[str, str | None] = {
    "README.md": "Walk-through: publish an event, see the rule fire, receive the webhook",
    "docs/integrators.md": None,
    "docs/inbound.md": None,
    "docs/bus-access.md": None,
    "docs/webhooks.md": None,
}
# The sentence each doc carries, so that a reader knows its examples are run.
NOTE = "tests/docs/test_docs.py"


def blocks_of(doc: str) -> list[Block]:
    return read_blocks(BASE_DIR / doc, DOCS[doc])


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    # Free ports: the docs' 8000 and 14222 are a developer's own `make run`.
    with scratch_stack("test-docs-") as stack:
        stack.launch(HEALIX_NATS_PORT=str(stack.nats_port))
        yield stack


@pytest.fixture(scope="module")
def partner_endpoint() -> Iterator[Receiver]:
    """The webhook URL a partner registers in the docs (`https://hooks.acme.example/…`)."""
    server = Receiver()
    yield server
    server.close()


def follow(doc: str, stack: Stack, partner_endpoint: Receiver) -> Session:
    """Run every block of `doc` in order in a fresh session; the session, for more checks."""
    bus = partners_port(stack.current.output())
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    placeholders = {
        "127.0.0.1:8000": f"127.0.0.1:{stack.port}",
        "127.0.0.1:14222": f"127.0.0.1:{bus}",
        "nats://bus.example.com:4222": f"nats://127.0.0.1:{bus}",
        "https://hooks.acme.example/healix": partner_endpoint.url("/healix"),
        "8765": str(free_port()),
        "whsec_…": secret,
        "whsec_...": secret,
        # The sample key prefix of docs/bus-access.md: the prefix of the session's key.
        "AbCd1234": lambda variables: variables["KEY"].partition(".")[0],
    }
    folder = stack.scratch / Path(doc).stem
    session = Session(folder, stack.var_dir, placeholders)
    try:
        for block in blocks_of(doc):
            session.run(block)
    finally:
        session.finish()
    return session


def test_every_example_is_run_or_marked_and_each_doc_says_so() -> None:
    # given the docs with examples for integrators
    for doc in DOCS:
        # then each block is one the doc tests run, or says why not
        assert unmarked(blocks_of(doc)) == [], doc
        # and the doc tells its reader which test runs them
        assert NOTE in (BASE_DIR / doc).read_text(), f"{doc} does not name {NOTE}"


def test_readme_walk_through(stack: Stack, partner_endpoint: Receiver) -> None:
    follow("README.md", stack, partner_endpoint)


def test_integrators_walk_through(stack: Stack, partner_endpoint: Receiver) -> None:
    follow("docs/integrators.md", stack, partner_endpoint)


def test_inbound(stack: Stack, partner_endpoint: Receiver) -> None:
    follow("docs/inbound.md", stack, partner_endpoint)


def test_bus_access(stack: Stack, partner_endpoint: Receiver) -> None:
    session = follow("docs/bus-access.md", stack, partner_endpoint)
    # and its client is the one the endpoint hands out, word for word
    key = session.variables()["KEY"]
    served = requests.post(
        f"{stack.current.base_url}/api/v1/bus-credentials/",
        headers={"Authorization": f"Api-Key {key}"},
        timeout=10,
    ).json()["example"]
    shown = next(b for b in blocks_of("docs/bus-access.md") if b.language == "python")
    assert session.fill(shown.text) == served


def test_webhooks(stack: Stack, partner_endpoint: Receiver) -> None:
    follow("docs/webhooks.md", stack, partner_endpoint)
    # and the webhook it registered for the partner received the test event
    wait_until(lambda: any(b"webhookTest" in r.body for r in partner_endpoint.received), 60)
