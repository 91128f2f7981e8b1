from tests.rules.conftest import parsed
from ticketctl.engine.intake.rules import loop


def test_our_loop_header_is_refused(view):
    assert loop.check(parsed(X_Ticketctl_Loop="abc"), view).disposition == "rejected"
    assert loop.check(parsed(), view) is None
