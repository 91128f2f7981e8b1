from tests.rules.conftest import parsed
from ticketctl.engine.intake.rules import parse


def test_a_message_that_could_not_be_read_is_an_error_ticket_saying_why(view):
    msg = parsed()
    msg.parse_error = "RecursionError: too deep"
    decision = parse.check(msg, view)
    assert decision.disposition == "error_ticket"
    assert "could not be read (RecursionError: too deep)" in decision.reason


def test_a_parsed_message_passes(view):
    assert parse.check(parsed(), view) is None
