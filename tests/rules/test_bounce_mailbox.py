from tests.rules.conftest import SUPPORT, FakeView, parsed
from ticketctl.engine.enums import Task
from ticketctl.engine.intake.rules import bounce_mailbox
from ticketctl.engine.store.types import TicketType

BOUNCE = TicketType(
    id=3, name="Bounce Back", task=Task.BOUNCE_BACK, email_to=("bounces@example.com",), workflow_tag="Bounce",
    mailbox_id=1, mailbox="local", admin_email=None,
)  # fmt: skip


def test_mail_to_the_bounce_type_is_ignored():
    view = FakeView(all_types=[SUPPORT, BOUNCE])
    decision = bounce_mailbox.check(parsed(to="Bounces+q7-abc@example.com"), view)
    assert decision.disposition == "ignored" and "bounce type 'Bounce Back'" in decision.reason


def test_anything_in_a_bounce_only_mailbox_is_ignored():
    view = FakeView(all_types=[BOUNCE])
    decision = bounce_mailbox.check(parsed(to="someone@else.example"), view)
    assert decision.disposition == "ignored" and "takes only bounces" in decision.reason


def test_mail_for_a_question_type_in_a_shared_mailbox_goes_on():
    view = FakeView(all_types=[SUPPORT, BOUNCE])
    assert bounce_mailbox.check(parsed(to="support@example.com"), view) is None
    assert bounce_mailbox.check(parsed(to="someone@else.example"), view) is None  # route makes it invalid, for staff
