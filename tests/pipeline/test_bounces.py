"""`ticketctl process` takes delivery reports in, wherever they arrive, and matches each to the queued
mail, ticket and contact it is about: by the VERP address it was sent back to, else by the returned
Message-ID, else by the returned subject tag. What cannot be read or matched is still recorded; what
lands in the bounce mailbox and is no report is ignored, visible in the ledger, never a ticket."""

from __future__ import annotations

import itertools
import json

import pytest

from tests.pipeline.helpers import deliver, mail, setup_support
from ticketctl.engine.admin import mailboxes, tickettypes

BOUNCES = "bounces@example.com"


_ids = itertools.count(1)


def dsn(to: str, *recipients: tuple[str, str, str], returned: str = "", subject: str = "Undelivered Mail") -> bytes:
    """A Postfix-like DSN to `to` about `recipients` (address, action, status), returning `returned`
    (a header block) as text/rfc822-headers."""
    blocks = "".join(
        f"Final-Recipient: rfc822; {a}\nOriginal-Recipient: rfc822;{a}\nAction: {action}\nStatus: {status}\n"
        f"Diagnostic-Code: smtp; {status[0]}50 {status} refused (test)\n\n"
        for a, action, status in recipients
    )
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nTo: {to}\nSubject: {subject}\n"
        f"Message-ID: <dsn-{next(_ids)}@mx.example.net>\n"
        "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nYour message could not be delivered to one or more recipients.\n"
        "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
        f"{blocks}--b\nContent-Type: text/rfc822-headers\n\n{returned}\n--b--\n"
    ).encode()


@pytest.fixture
def desk(cli, store, workdir):
    """The Support desk on a Maildir, a bounce type on its own Maildir, and one ticket whose notice to
    the admin is queued (and 'sent' to the outbox directory)."""
    support, bounce_box = workdir / "mail", workdir / "bounces"
    setup_support(store, support)
    for sub in ("new", "cur", "tmp"):
        (bounce_box / sub).mkdir(parents=True)
    mailboxes.add(store, name="bounce-back", kind="maildir", maildir_path=str(bounce_box))
    tickettypes.add(
        store, name="Bounce Back", task="bounce_back", email_to=[BOUNCES], workflow_tag="Bounce", mailbox="bounce-back"
    )
    deliver(support, mail(subject="Printer on fire"))
    assert cli("process").exit_code == 0
    notice = dict(store.one("SELECT * FROM email_queue"))
    assert notice["envelope_from"].startswith("bounces+q") and notice["to_email"] == "lead@example.com"
    return {"support": support, "bounces": bounce_box, "notice": notice}


def run(cli):
    result = cli("process", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def rows(store):
    return [dict(r) for r in store.query("SELECT * FROM bounces ORDER BY id")]


def test_a_bounce_to_the_verp_address_names_the_mail_its_ticket_and_contact(cli, store, desk):
    notice = desk["notice"]
    deliver(desk["bounces"], dsn(notice["envelope_from"], ("lead@example.com", "failed", "5.1.1")))
    report = run(cli)
    assert report["mailboxes"][0]["mailbox"] == "bounce-back" and report["mailboxes"][0]["counts"] == {"bounce": 1}
    (row,) = rows(store)
    lead = store.one("SELECT id FROM contacts WHERE email = 'lead@example.com'")["id"]
    assert (row["queue_id"], row["ticket_id"], row["contact_id"], row["matched_by"]) == (
        notice["id"], notice["ticket_id"], lead, "verp"
    )  # fmt: skip
    assert (row["address"], row["kind"], row["status_code"], row["action"], row["resolved"]) == (
        "lead@example.com", "permanent", "5.1.1", "failed", 0
    )  # fmt: skip
    assert row["diagnostic"] == "smtp; 550 5.1.1 refused (test)"
    ledger = store.one("SELECT * FROM ledger WHERE id = ?", (row["ledger_id"],))
    assert (ledger["disposition"], ledger["rule"], ledger["ticket_id"]) == ("bounce", "bounce", notice["ticket_id"])
    assert store.one("SELECT count(*) FROM tickets")[0] == 1  # no ticket for the bounce
    shown = json.loads(cli("tickets", "show", str(notice["ticket_id"]), "--json").stdout)
    assert [b["address"] for b in shown["bounces"]] == ["lead@example.com"]


def test_one_report_several_recipients_each_with_its_own_status(cli, store, desk):
    recipients = [("lead@example.com", "failed", "5.1.1"), ("cc@example.com", "failed", "4.4.7"),
                  ("slow@example.com", "delayed", "4.4.1"), ("fine@example.com", "delivered", "2.0.0")]  # fmt: skip
    deliver(desk["bounces"], dsn(desk["notice"]["envelope_from"], *recipients))
    run(cli)
    found = [(r["address"], r["kind"], r["status_code"], r["resolved"]) for r in rows(store)]
    assert found == [
        ("lead@example.com", "permanent", "5.1.1", 0),
        ("cc@example.com", "temporary", "4.4.7", 0),
        ("slow@example.com", "delayed", "4.4.1", 1),  # a delay needs nobody: recorded resolved
    ]


def test_matched_by_the_returned_message_id_or_subject_tag(cli, store, desk):
    notice = desk["notice"]
    by_id = dsn(BOUNCES, ("lead@example.com", "failed", "5.1.1"), returned=f"Message-ID: <{notice['message_id']}>")
    by_tag = dsn(BOUNCES, ("lead@example.com", "failed", "5.2.2"), returned=f"Subject: Re: {notice['subject']}")
    deliver(desk["bounces"], by_id, by_tag)
    run(cli)
    first, second = rows(store)
    assert (first["queue_id"], first["ticket_id"], first["matched_by"]) == (
        notice["id"],
        notice["ticket_id"],
        "message-id",
    )
    assert (second["queue_id"], second["ticket_id"], second["matched_by"]) == (None, notice["ticket_id"], "tag")


def test_a_forged_verp_address_matches_nothing(cli, store, desk):
    forged = desk["notice"]["envelope_from"].rsplit("-", 1)[0] + "-000000000000@example.com"
    deliver(desk["bounces"], dsn(forged, ("lead@example.com", "failed", "5.1.1")))
    run(cli)
    (row,) = rows(store)
    assert (row["queue_id"], row["ticket_id"], row["matched_by"]) == (None, None, None)


def test_an_unreadable_report_is_kept_without_an_address(cli, store, desk):
    text = (
        "From: MAILER-DAEMON@old.example\nTo: bounces@example.com\nSubject: failure notice\nReturn-Path: <>\n\n"
        "Sorry, something went wrong with your mail.\n"
    )
    deliver(desk["bounces"], text.encode())
    report = run(cli)
    assert report["mailboxes"][0]["counts"] == {"bounce": 1}
    (row,) = rows(store)
    assert (row["address"], row["queue_id"], row["resolved"]) == (None, None, 0)
    assert "could not be read" in row["report"]
    assert "(unread)" in cli("bounces", "list").stdout


def test_an_unreadable_report_about_our_mail_blames_its_one_recipient(cli, store, desk):
    text = f"From: MAILER-DAEMON@old.example\nTo: {desk['notice']['envelope_from']}\nSubject: failure notice\n\nNo.\n"
    deliver(desk["bounces"], text.encode())
    run(cli)
    (row,) = rows(store)
    assert (row["address"], row["queue_id"], row["matched_by"]) == ("lead@example.com", desk["notice"]["id"], "verp")


def test_a_bounce_in_an_ordinary_mailbox_is_recognised_there(cli, store, desk):
    deliver(desk["support"], dsn("support@example.com", ("lead@example.com", "failed", "5.1.1"),
                                 returned=f"Message-ID: <{desk['notice']['message_id']}>"))  # fmt: skip
    report = run(cli)
    assert {m["mailbox"]: m["counts"] for m in report["mailboxes"]}["local"] == {"bounce": 1}
    (row,) = rows(store)
    assert row["queue_id"] == desk["notice"]["id"]
    assert store.one("SELECT count(*) FROM tickets")[0] == 1


def test_other_mail_in_the_bounce_mailbox_is_ignored_and_visible(cli, store, desk):
    deliver(desk["bounces"], mail(to=BOUNCES, subject="Can you help?"), mail(to="someone@else.example", subject="Hi"))
    report = run(cli)
    assert report["mailboxes"][0]["counts"] == {"ignored": 2}
    ledger = store.query("SELECT rule, reason, ticket_id FROM ledger WHERE disposition = 'ignored' ORDER BY id")
    assert [(r["rule"], r["ticket_id"]) for r in ledger] == [("bounce-mailbox", None), ("bounce-mailbox", None)]
    assert "not a delivery report" in ledger[0]["reason"]
    assert store.one("SELECT count(*) FROM tickets")[0] == 1 and rows(store) == []


def test_a_delivered_notice_is_ignored(cli, store, desk):
    deliver(desk["bounces"], dsn(desk["notice"]["envelope_from"], ("lead@example.com", "relayed", "2.0.0")))
    report = run(cli)
    assert report["mailboxes"][0]["counts"] == {"ignored": 1} and rows(store) == []
    reason = store.one("SELECT rule, reason FROM ledger WHERE disposition = 'ignored'")
    assert reason["rule"] == "bounce" and "delivered" in reason["reason"]


def test_a_report_is_recorded_once_though_read_twice(cli, store, desk):
    raw = dsn(desk["notice"]["envelope_from"], ("lead@example.com", "failed", "5.1.1"))
    deliver(desk["bounces"], raw)
    run(cli)
    deliver(desk["bounces"], raw)  # a second copy of it
    assert run(cli)["mailboxes"][0]["counts"] == {"duplicate": 1}
    assert len(rows(store)) == 1
