from tests.rules.conftest import SECRET, parsed
from ticketctl.engine.intake.rules import references
from ticketctl.engine.mail import msgid


def test_in_reply_to_our_signed_message_id_finds_the_ticket(view):
    view.add_ticket(1, log_id=1, customer="jane@customer.example")
    ours = msgid.make_message_id(SECRET, 1, 2, "example.com")
    decision = references.check(parsed(frm="lead@example.com", subject="Re: x", In_Reply_To=f"<{ours}>"), view)
    assert (decision.disposition, decision.ticket_id) == ("reply", 1)


def test_a_message_id_on_the_ticket_found_in_references(view):
    view.add_ticket(1, log_id=1, customer="jane@customer.example")
    view.message_ids["orig@customer.example"] = 1
    decision = references.check(parsed(subject="Re: x", References="<unknown@a.example> <orig@customer.example>"), view)
    assert (decision.disposition, decision.ticket_id) == ("reply", 1)


def test_a_forged_signature_or_unknown_ids_pass(view):
    view.add_ticket(1, log_id=1, customer="jane@customer.example")
    forged = msgid.make_message_id("another-installation", 1, 2, "example.com")
    assert references.check(parsed(In_Reply_To=f"<{forged}>"), view) is None
    assert references.check(parsed(In_Reply_To="<nobody@nowhere.example>"), view) is None
    assert references.check(parsed(), view) is None


def test_a_stranger_naming_the_ticket_is_refused(view):
    view.add_ticket(1, log_id=1, customer="jane@customer.example")
    ours = msgid.make_message_id(SECRET, 1, 2, "example.com")
    decision = references.check(parsed(frm="eve@evil.example", In_Reply_To=f"<{ours}>"), view)
    assert decision.disposition == "rejected"
