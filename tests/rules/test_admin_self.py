from tests.rules.conftest import parsed
from ticketctl.engine.intake.rules import admin_self


def test_admin_mailing_its_own_type(view):
    decision = admin_self.check(parsed(frm="Lead <LEAD@example.com>"), view)
    assert decision.disposition == "rejected"
    assert admin_self.check(parsed(), view) is None
    assert admin_self.check(parsed(frm="lead@example.com", to="other@example.com"), view) is None
