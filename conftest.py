"""Fixture modules shared by every test folder (see tests/fixtures/)."""

pytest_plugins = [
    "tests.fixtures.domain",
    "tests.fixtures.events",
    "tests.fixtures.integrations",
    "tests.fixtures.logs",
    "tests.fixtures.nats",
    "tests.fixtures.broker",
    "tests.fixtures.bus",
    "tests.fixtures.webhooks",
    "tests.fixtures.web",
    "tests.fixtures.portal",
    "tests.fixtures.api",  # last: it imports the modules above
]
