from tests.rules.conftest import SECRET, parsed
from ticketctl.engine.intake.rules import loop
from ticketctl.engine.mail import msgid

OURS = msgid.installation_id(SECRET)
THEIRS = msgid.installation_id("another installation's secret")


def test_our_own_loop_header_is_refused(view):
    decision = loop.check(parsed(X_Ticketctl_Loop=OURS), view)
    assert decision.disposition == "rejected"
    assert OURS in decision.reason and "this installation sent it" in decision.reason


def test_another_installations_loop_header_is_mail_like_any_other(view):
    assert OURS != THEIRS
    assert loop.check(parsed(X_Ticketctl_Loop=THEIRS), view) is None
    assert loop.check(parsed(X_Ticketctl_Loop="abc"), view) is None
    assert loop.check(parsed(), view) is None


def test_ours_among_several_is_still_ours(view):
    from tests.pipeline.helpers import mail
    from ticketctl.engine.mail import message

    raw = mail(X_Ticketctl_Loop=THEIRS).replace(
        b"X-Ticketctl-Loop:", f"X-Ticketctl-Loop: {OURS}\nX-Ticketctl-Loop:".encode()
    )
    assert loop.check(message.parse(raw), view).disposition == "rejected"
