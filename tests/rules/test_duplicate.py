from tests.rules.conftest import parsed, recorded
from ticketctl.engine.intake.rules import duplicate


def test_a_second_copy_of_a_message_id_is_a_duplicate_of_the_first(view):
    view.taken["first@customer.example"] = recorded(7, ticket_id=3)
    decision = duplicate.check(parsed(message_id="<first@customer.example>"), view)
    assert (decision.disposition, decision.ticket_id) == ("duplicate", 3)
    assert "ledger #7" in decision.reason


def test_a_new_message_id_or_none_passes(view):
    view.taken["first@customer.example"] = recorded(7, ticket_id=3)
    assert duplicate.check(parsed(message_id="<second@customer.example>"), view) is None
    msg = parsed()
    msg.message_id = None
    assert duplicate.check(msg, view) is None
