from tests.rules.conftest import parsed
from ticketctl.engine.intake.rules import unreadable
from ticketctl.engine.mail import message


def test_bytes_that_are_not_mail(view):
    assert unreadable.check(message.parse(b"\x00\x01 garbage \xff"), view).disposition == "error_ticket"
    assert unreadable.check(parsed(), view) is None
