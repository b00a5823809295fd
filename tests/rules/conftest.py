"""Fixtures of the rules tests: the demo template with the seed's example rule."""

import pytest

from dev.demo import create_demo_rules
from rules.tables import forget_all


@pytest.fixture(autouse=True)
def _fresh_compiled_tables():
    # A rolled-back test leaves no signal behind: start each test without compiled tables.
    forget_all()


@pytest.fixture
def demo_rules(template):
    """The demo template (fixture `template`) with the seed's example rule."""
    create_demo_rules(template)
    return template
