"""Fixtures of the rules tests: the demo template with the seed's example rule."""

import pytest

from healix.demo import create_demo_rules


@pytest.fixture
def demo_rules(template):
    """The demo template (fixture `template`) with the seed's example rule."""
    create_demo_rules(template)
    return template
