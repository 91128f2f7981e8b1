from tests.pipeline.helpers import deliver, mail
from tests.rules.conftest import parsed
from ticketctl.engine.intake.rules import references


def test_in_reply_to_our_mail_finds_the_ticket(cli, workdir, store, view):
    deliver(workdir / "mail", mail(message_id="<orig@customer.example>"))
    cli("process")
    sent = store.one("SELECT message_id FROM email_queue")["message_id"]
    decision = references.check(parsed(frm="lead@example.com", subject="Re: x", In_Reply_To=f"<{sent}>"), view)
    assert (decision.disposition, decision.ticket_id) == ("reply", 1)
    by_references = references.check(
        parsed(subject="Re: x", References="<unknown@a.example> <orig@customer.example>"), view
    )
    assert (by_references.disposition, by_references.ticket_id) == ("reply", 1)


def test_unknown_ids_pass(view):
    assert references.check(parsed(In_Reply_To="<nobody@nowhere.example>"), view) is None
    assert references.check(parsed(), view) is None
