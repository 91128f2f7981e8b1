from tests.rules.conftest import parsed
from ticketctl.engine.intake.rules import subject_tag


def test_participant_reply_with_a_valid_tag(view):
    view.add_ticket(1, log_id=1, customer="jane@customer.example")
    decision = subject_tag.check(parsed(frm="lead@example.com", subject="AW: RE[2]: [support #1-1] x"), view)
    assert (decision.disposition, decision.ticket_id, decision.rule) == ("reply", 1, "subject-tag")


def test_stranger_is_refused_and_bad_tags_are_not_trusted(view):
    view.add_ticket(1, log_id=1, customer="jane@customer.example")
    refused = subject_tag.check(parsed(frm="eve@evil.example", subject="Re: [Support #1-1] x"), view)
    assert refused.disposition == "rejected"
    assert "eve@evil.example is not a participant" in refused.reason
    assert subject_tag.check(parsed(subject="[Support #99-1] no such ticket"), view) is None
    assert subject_tag.check(parsed(subject="[Support #1-99] no such log"), view) is None
    assert subject_tag.check(parsed(subject="[Sales #1-1] another type's word"), view) is None
    assert subject_tag.check(parsed(subject="plain subject"), view) is None


def test_the_customer_with_plus_detail_and_capitals_is_a_participant(view):
    view.add_ticket(1, log_id=1, customer="jane@customer.example")
    decision = subject_tag.check(parsed(frm="Jane+lists@Customer.example", subject="Re: [Support #1-1] x"), view)
    assert decision.disposition == "reply"


def test_a_sender_whose_reply_to_is_a_participant_may_write(view):
    """A mailing list or a forwarding service may rewrite From; the Reply-To still names the customer."""
    view.add_ticket(1, log_id=1, customer="jane@customer.example")
    forwarded = parsed(frm="list@lists.example", subject="Re: [Support #1-1] x", reply_to="jane@customer.example")
    assert subject_tag.check(forwarded, view).disposition == "reply"
    stranger = parsed(frm="list@lists.example", subject="Re: [Support #1-1] x", reply_to="eve@evil.example")
    assert subject_tag.check(stranger, view).disposition == "rejected"
