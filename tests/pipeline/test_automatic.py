"""What an automatic mail becomes, over a Maildir: a note on its ticket, never passed on and moving
nothing; or a ticket of its own whose sender is never written to."""

import json

import pytest

from tests.pipeline.helpers import deliver, mail, setup_support
from tests.pipeline.test_process import counts, process, queue, tag_of
from ticketctl.engine.enums import Task
from ticketctl.engine.flows import question, tasks

GERMAN_EXCHANGE_OOF = {"X_Auto_Response_Suppress": "All", "Thread_Topic": "Printer on fire"}  # no Auto-Submitted


@pytest.fixture
def maildir(workdir, store):
    path = workdir / "mail"
    setup_support(store, path)
    return path


def show(cli, ticket_id=1):
    result = cli("tickets", "show", str(ticket_id), "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_an_auto_reply_on_a_ticket_is_a_note_that_is_never_passed_on(cli, store, maildir):
    deliver(maildir, mail())
    process(cli)
    notice_subject, notice_id = tag_of(store)
    deliver(
        maildir,
        mail(frm="Lena Lead <lead@example.com>", subject="Automatische Antwort: " + notice_subject,
             body="Ich bin bis Montag nicht im Büro.\n", In_Reply_To=f"<{notice_id}>", **GERMAN_EXCHANGE_OOF),
    )  # fmt: skip
    _, report = process(cli)

    assert counts(report) == {"reply": 1}
    assert len(queue(store)) == 1, "the out-of-office must not be relayed to the customer"
    shown = show(cli)
    assert shown["status"] == "new", "an automatic note moves no status"
    note = shown["logs"][-1]
    assert note["from_email"] == "lead@example.com"
    assert note["automatic"].startswith("its subject begins 'automatische antwort:' and X-Auto-Response-Suppress")
    assert shown["logs"][0]["automatic"] is None
    ledger = store.one("SELECT reason, rule FROM ledger ORDER BY id DESC")
    assert ledger["rule"] == "subject-tag" and "automatic (its subject begins" in ledger["reason"]

    screen = cli("tickets", "show", "1").stdout
    assert "Automatic: its subject begins 'automatische antwort:'" in screen
    assert "Ich bin bis Montag nicht im Büro." in screen


def test_the_flow_is_not_asked_about_an_automatic_mail(cli, store, maildir, monkeypatch):
    calls = []

    class Recording:
        new_ticket = staticmethod(question.new_ticket)
        reassigned = staticmethod(question.reassigned)

        @staticmethod
        def reply(ctx, ticket, received):
            calls.append(received.msg.subject)
            return question.reply(ctx, ticket, received)

    monkeypatch.setitem(tasks.FLOWS, Task.QUESTION, Recording)
    deliver(maildir, mail())
    process(cli)
    subject, _ = tag_of(store)
    deliver(maildir, mail(subject="Automatic reply: " + subject, Auto_Submitted="auto-replied"))
    process(cli)
    assert calls == [], "the flow (relays, assignments) must never see an automatic mail"
    deliver(maildir, mail(subject="Re: " + subject, body="It still smokes."))
    process(cli)
    assert calls == ["Re: " + subject], "a person's reply goes through the flow as before"


def test_a_new_automatic_mail_is_a_ticket_and_its_sender_is_never_written_to(cli, store, maildir):
    deliver(
        maildir,
        mail(frm="IT <noreply@service-now.example>", subject="Incident INC0042 assigned to you",
             Auto_Submitted="auto-generated", Precedence="bulk"),
    )  # fmt: skip
    _, report = process(cli)
    assert counts(report) == {"new_ticket": 1}
    (notice,) = queue(store)
    assert notice["to_email"] == "lead@example.com", "the admin hears of the new ticket"
    assert show(cli)["automatic_sender"] == {
        "email": "noreply@service-now.example",
        "why": "Auto-Submitted: auto-generated",
    }

    # the admin answers the notice by mail: kept on the ticket, not relayed to the machine, no error
    deliver(maildir, mail(frm="lead@example.com", subject="Re: " + notice["subject"], body="Looking at it."))
    _, report = process(cli)
    assert counts(report) == {"reply": 1}
    assert [q["to_email"] for q in queue(store)] == ["lead@example.com"]

    refused = cli("tickets", "reply", "1", "--message", "Thanks")
    assert refused.exit_code == 1
    assert (
        "Ticket 1 was opened by an automatic mail from noreply@service-now.example (Auto-Submitted: auto-generated), "
        "and ticketctl sends nothing to an automatic sender." in refused.stderr
    )
    assert "--to-automatic" in refused.stderr and "Traceback" not in refused.stderr
    assert len(queue(store)) == 1
    sent = cli("tickets", "reply", "1", "--message", "Thanks", "--to-automatic")
    assert sent.exit_code == 0, sent.stderr
    assert queue(store)[-1]["to_email"] == "noreply@service-now.example"
    assert "Automatic: opened by a machine's mail: nothing is sent to noreply@service-now.example" in (
        cli("tickets", "show", "1").stdout
    )


def test_once_a_person_writes_from_that_address_they_are_answered(cli, store, maildir):
    deliver(maildir, mail(subject="Automatic reply: Printer", X_Autoreply="yes"))
    process(cli)
    notice = queue(store)[-1]
    deliver(maildir, mail(subject="Re: " + notice["subject"], body="Sorry, that was my out-of-office. Help!"))
    process(cli)
    assert queue(store)[-1]["to_email"] == "lead@example.com", "a person's reply is relayed to the admin"
    assert show(cli)["automatic_sender"] is None
    subject = queue(store)[-1]["subject"]
    deliver(maildir, mail(frm="lead@example.com", subject="Re: " + subject, body="Unplug it."))
    process(cli)
    assert queue(store)[-1]["to_email"] == "jane@customer.example"


def test_a_mark_that_fails_makes_an_error_ticket_and_the_run_goes_on(cli, store, maildir, monkeypatch):
    from ticketctl.engine.mail import automatic

    def broken(msg):
        raise ValueError("no idea")

    monkeypatch.setattr(automatic, "detect", broken)
    deliver(maildir, mail())
    _, report = process(cli)
    assert counts(report) == {"error_ticket": 1}
    assert "rule 'auto-reply' failed unexpectedly: ValueError: no idea" in store.one("SELECT reason FROM ledger")[0]
    assert queue(store) == []
