from tests.rules.conftest import parsed
from ticketctl.engine.intake.rules import route


def test_to_cc_and_envelope_pick_the_type(view):
    assert route.check(parsed(to="SUPPORT+urgent@Example.com"), view).disposition == "new_ticket"
    assert route.check(parsed(to="x@y.example", Cc="support@example.com"), view).disposition == "new_ticket"
    assert route.check(parsed(to="x@y.example", X_Original_To="support@example.com"), view).disposition == "new_ticket"


def test_no_match_is_an_invalid_ticket(view):
    decision = route.check(parsed(to="sales@example.com"), view)
    assert decision.disposition == "invalid_ticket"
    assert "sales@example.com" in decision.reason
