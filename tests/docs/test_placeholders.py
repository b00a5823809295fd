"""The docs' placeholders are filled in one pass: a value put in is never taken for another
placeholder (the CI run where the bus's free port was 38765 and the docs' 8765 replaced
part of it)."""

from tests.fixtures.docs import Session


def test_a_filled_value_holding_another_placeholder_is_left_alone(tmp_path):
    session = Session(
        tmp_path / "session",
        tmp_path,
        {"127.0.0.1:14222": "127.0.0.1:38765", "8765": "40001"},
    )
    text = session.fill('nats.connect("nats://127.0.0.1:14222"); serve(8765)')
    assert text == 'nats.connect("nats://127.0.0.1:38765"); serve(40001)'
