"""`ticketctl process` over a Maildir: every disposition, what is written, what is queued, what is left."""

import json
import os
import re

import pytest

from tests.pipeline.helpers import add_question_type, deliver, mail, setup_support, waiting


@pytest.fixture
def maildir(workdir, store):
    path = workdir / "mail"
    setup_support(store, path)
    return path


def process(cli, *args):
    result = cli("process", "--json", *args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result, json.loads(result.stdout)


def counts(report):
    return report["mailboxes"][0]["counts"]


def queue(store):
    return [dict(r) for r in store.query("SELECT * FROM email_queue ORDER BY id")]


def test_new_ticket_notifies_admin_with_tag(cli, store, maildir):
    deliver(maildir, mail(attachments=[("photo.jpg", b"\xff\xd8jpeg")]))
    result, report = process(cli)
    assert result.exit_code == 0
    assert counts(report) == {"new_ticket": 1}
    ticket = store.one("SELECT * FROM tickets")
    assert (ticket["kind"], ticket["status"], ticket["from_email"], ticket["subject"]) == (
        "normal",
        "new",
        "jane@customer.example",
        "Printer on fire",
    )
    inbound = store.one("SELECT * FROM ticket_logs WHERE direction = 'in'")
    assert (inbound["to_email"], inbound["from_name"]) == ("lead@example.com", "Jane Customer")
    (queued,) = queue(store)
    assert queued["to_email"] == "lead@example.com"
    notice = store.one("SELECT * FROM ticket_logs WHERE direction = 'out'")
    assert queued["subject"] == f"[Support #{ticket['id']}-{notice['id']}] Printer on fire"
    assert notice["message_id"] == queued["message_id"]
    assert queued["reply_to"] == "support@example.com"
    assert len(json.loads(queued["attachments"])) == 1
    attachment = store.one("SELECT * FROM attachments")
    assert (attachment["filename"], attachment["size"]) == ("photo.jpg", 6)
    ledger = store.one("SELECT * FROM ledger")
    assert (ledger["disposition"], ledger["rule"], ledger["ticket_id"]) == ("new_ticket", "route", ticket["id"])
    (kept,) = store.query("SELECT data FROM raw_messages WHERE id = ?", (ledger["raw_id"],))
    assert bytes(kept["data"]).startswith(b"From: Jane")
    assert waiting(maildir) == []


def tag_of(store, ticket_id=1):
    queued = store.one("SELECT subject, message_id FROM email_queue WHERE ticket_id = ? ORDER BY id DESC", (ticket_id,))
    return queued["subject"], queued["message_id"]


def test_relay_between_customer_and_admin(cli, store, maildir):
    deliver(maildir, mail())
    process(cli)
    subject, _ = tag_of(store)
    deliver(maildir, mail(frm="Lead <lead@example.com>", subject="Re: " + subject, body="Unplug it."))
    _, report = process(cli)
    assert counts(report) == {"reply": 1}
    relay = queue(store)[-1]
    assert relay["to_email"] == "jane@customer.example"
    assert relay["body_text"].startswith("Unplug it.")
    assert store.one("SELECT status FROM tickets")["status"] == "answered"
    subject, _ = tag_of(store)
    deliver(maildir, mail(subject="RE: " + subject, body="Done, thanks", to="Support <SUPPORT+x@example.com>"))
    _, report = process(cli)
    assert counts(report) == {"reply": 1}
    assert queue(store)[-1]["to_email"] == "lead@example.com"
    assert store.one("SELECT status FROM tickets")["status"] == "open"
    assert store.one("SELECT count(*) FROM tickets")[0] == 1
    assert store.one("SELECT count(*) FROM ticket_logs WHERE direction = 'in'")[0] == 3


def test_reply_by_in_reply_to_only(cli, store, maildir):
    deliver(maildir, mail())
    process(cli)
    _, message_id = tag_of(store)
    deliver(maildir, mail(frm="lead@example.com", subject="Re: Printer on fire", In_Reply_To=f"<{message_id}>"))
    _, report = process(cli)
    assert counts(report) == {"reply": 1}
    assert store.one("SELECT rule FROM ledger ORDER BY id DESC")["rule"] == "references"
    assert store.one("SELECT count(*) FROM tickets")[0] == 1


def test_invalid_ticket_has_no_type_and_sends_nothing(cli, store, maildir):
    deliver(maildir, mail(to="sales@example.com"))
    _, report = process(cli)
    assert counts(report) == {"invalid_ticket": 1}
    ticket = store.one("SELECT * FROM tickets")
    assert (ticket["kind"], ticket["type_id"]) == ("invalid", None)
    assert queue(store) == []
    assert waiting(maildir) == []


def test_bcc_is_routed_by_envelope_headers(cli, store, maildir):
    deliver(maildir, mail(to="someone@else.example", Delivered_To="support@example.com"))
    _, report = process(cli)
    assert counts(report) == {"new_ticket": 1}


def test_error_tickets_broken_and_oversized(cli, store, maildir, workdir):
    (workdir / "ticketctl.yaml").write_text("limits:\n  max_message_bytes: 5000\n")
    deliver(maildir, b"\x00\x01\x02 this is not mail at all \xff\xfe")
    big = mail(body="x" * 10000 + "\n", subject="Huge")
    deliver(maildir, big)
    result, report = process(cli)
    assert result.exit_code == 0
    assert counts(report) == {"error_ticket": 2}
    tickets = store.query("SELECT * FROM tickets ORDER BY id")
    assert [t["kind"] for t in tickets] == ["error", "error"]
    assert all(t["contact_id"] is None for t in tickets)
    assert "not a readable mail" in tickets[0]["error_reason"]
    assert "over the limit of 5,000" in tickets[1]["error_reason"]
    assert tickets[1]["subject"] == "Huge"
    oversized = store.one("SELECT * FROM ledger WHERE ticket_id = ?", (tickets[1]["id"],))
    assert oversized["raw_path"] is None and oversized["raw_id"] is None
    assert len(waiting(maildir)) == 1, "the oversized message stays on the server"
    assert queue(store) == []
    _, again = process(cli)
    assert counts(again) == {"error_ticket": 1}
    assert store.one("SELECT count(*) FROM tickets")[0] == 2, "no second error ticket for the same message"


def test_duplicate_copy_of_a_message(cli, store, maildir):
    raw = mail(message_id="<same@customer.example>")
    deliver(maildir, raw)
    deliver(maildir, raw.replace(b"From:", b"Delivered-To: support@example.com\nFrom:", 1))
    _, report = process(cli)
    assert counts(report) == {"new_ticket": 1, "duplicate": 1}
    assert store.one("SELECT count(*) FROM tickets")[0] == 1
    assert len(queue(store)) == 1
    assert waiting(maildir) == []


def test_admin_to_self_is_refused(cli, store, maildir):
    deliver(maildir, mail(frm="lead@example.com", subject="Note to self"))
    _, report = process(cli)
    assert counts(report) == {"rejected": 1}
    assert store.one("SELECT count(*) FROM tickets")[0] == 0
    assert "admin lead@example.com mailed" in store.one("SELECT reason FROM ledger")["reason"]


def test_stranger_with_a_copied_tag_is_refused(cli, store, maildir):
    deliver(maildir, mail())
    process(cli)
    subject, message_id = tag_of(store)
    deliver(maildir, mail(frm="mallory@evil.example", subject="Re: " + subject, In_Reply_To=f"<{message_id}>"))
    _, report = process(cli)
    assert counts(report) == {"rejected": 1}
    assert (
        "mallory@evil.example is not a participant" in store.one("SELECT reason FROM ledger ORDER BY id DESC")["reason"]
    )
    assert store.one("SELECT count(*) FROM ticket_logs WHERE direction = 'in'")[0] == 1
    assert len(queue(store)) == 1


def test_forged_tag_of_another_ticket_log_is_not_trusted(cli, store, maildir):
    deliver(maildir, mail(), mail(frm="bob@customer.example", subject="Second"))
    process(cli)
    # log 1 belongs to ticket 1; a tag pairing ticket 2 with log 1 is not ours
    deliver(maildir, mail(frm="bob@customer.example", subject="[Support #2-1] forged"))
    _, report = process(cli)
    assert counts(report) == {"new_ticket": 1}


def test_save_table(cli, store, maildir):
    from ticketctl.engine.admin import tickettypes

    tickettypes.edit(
        store,
        "Support",
        save_table="enquiries",
        save_from_column="sender",
        save_subject_column="title",
        save_body_column="message",
    )
    deliver(maildir, mail())
    process(cli)
    row = store.one("SELECT * FROM enquiries")
    assert (row["sender"], row["title"], row["ticket_id"]) == ("jane@customer.example", "Printer on fire", 1)
    assert row["message"].startswith("Help, my printer")


def test_backlog_takes_tickets_without_mail(cli, store, maildir):
    deliver(maildir, *(mail(frm=f"c{i}@customer.example") for i in range(5)))
    _, report = process(cli, "--backlog")
    assert counts(report) == {"new_ticket": 5}
    assert queue(store) == []


def test_dry_run_writes_and_deletes_nothing(cli, store, maildir):
    deliver(maildir, mail(), mail(to="sales@example.com"))
    _, report = process(cli, "--dry-run")
    assert counts(report) == {"new_ticket": 1, "invalid_ticket": 1}
    assert store.one("SELECT count(*) FROM ledger")[0] == 0
    assert store.one("SELECT count(*) FROM tickets")[0] == 0
    assert len(waiting(maildir)) == 2


def test_a_rule_that_fails_makes_an_error_ticket_and_the_run_goes_on(cli, store, maildir, monkeypatch):
    from ticketctl.engine.intake.rules import route

    real = route.check

    def flaky(msg, view):
        if "poison" in msg.subject:
            raise ValueError("boom")
        return real(msg, view)

    monkeypatch.setattr(route, "check", flaky)
    deliver(maildir, mail(subject="poison pill"), mail(frm="ok@customer.example", subject="fine"))
    _, report = process(cli)
    assert counts(report) == {"error_ticket": 1, "new_ticket": 1}
    error = store.one("SELECT * FROM tickets WHERE kind = 'error'")
    assert "rule 'route' failed unexpectedly: ValueError: boom" in error["error_reason"]
    assert waiting(maildir) == []


def test_a_second_run_while_one_holds_the_lock_exits_cleanly(cli, store, maildir):
    from ticketctl.engine.config import load_config
    from ticketctl.engine.intake.lock import run_lock

    deliver(maildir, mail())
    with run_lock(load_config().lock_path):
        result = cli("process", "--wait", "0.2")
    assert result.exit_code == 0
    assert "Another ticketctl run is busy" in result.stdout
    assert len(waiting(maildir)) == 1


def test_cron_output_is_one_line_per_mailbox_each_with_the_time(cli, store, maildir, workdir):
    deliver(maildir, mail(), mail(to="sales@example.com"))
    result = cli("process")
    assert result.exit_code == 0
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2, lines
    assert re.fullmatch(stamp + "local: 2 message[(]s[)]: 1 invalid_ticket, 1 new_ticket", lines[0]), lines[0]
    outbox = re.escape(str(workdir / "ticketctl-data" / "outbox"))
    went = f"queue: 1 written to {outbox} [(]the directory outbox: nothing was sent[)], 0 to retry or failed"
    assert re.fullmatch(stamp + went, lines[1]), lines[1]


def test_a_failing_mailbox_is_reported_and_others_go_on(cli, store, maildir, workdir):
    from ticketctl.engine.admin import mailboxes

    mailboxes.add(store, name="gone", kind="maildir", maildir_path=str(workdir / "nowhere"))
    add_question_type(store, "gone", name="Sales")
    deliver(maildir, mail())
    result, report = process(cli)
    assert result.exit_code == 1
    by_name = {m["mailbox"]: m for m in report["mailboxes"]}
    assert "is not a Maildir" in by_name["gone"]["error"]
    assert by_name["local"]["counts"] == {"new_ticket": 1}
    assert store.one("SELECT failed_runs FROM mailboxes WHERE name = 'gone'")[0] == 1


def test_batches_hold_small_messages_and_leave_big_ones_alone():
    from ticketctl.engine.intake.pipeline import BATCH_BYTES, batches
    from ticketctl.engine.intake.sources import Waiting

    small = [Waiting(f"s{i}", 1000) for i in range(5)]
    big = Waiting("big", BATCH_BYTES + 1)
    over = Waiting("over", 3000)
    got = [[w.uid for w in b] for b in batches([*small[:3], big, *small[3:], over], max_bytes=2000, most=2)]
    assert got == [["s0", "s1"], ["s2"], ["big"], ["s3", "s4"], ["over"]]
    halves = [Waiting(f"h{i}", BATCH_BYTES // 2) for i in range(3)]
    assert [len(b) for b in batches(halves, max_bytes=BATCH_BYTES, most=100)] == [2, 1]


def test_the_original_bytes_are_kept_in_the_database_or_as_a_file_when_big(cli, store, maildir):
    from ticketctl.engine.desk import tickets
    from ticketctl.engine.store import rawstore

    small = mail(frm="a@customer.example", subject="Small")
    big = mail(frm="b@customer.example", subject="Big", attachments=[("scan.bin", os.urandom(rawstore.INLINE_MAX))])
    deliver(maildir, small, big)
    assert counts(process(cli)[1]) == {"new_ticket": 2}
    rows = {
        r["subject"]: r
        for r in store.query(
            "SELECT t.id AS ticket_id, l.id AS log_id, t.subject, g.raw_id, g.raw_path FROM ledger g"
            " JOIN tickets t ON t.id = g.ticket_id JOIN ticket_logs l ON l.id = g.log_id"
        )
    }
    assert rows["Small"]["raw_id"] is not None and rows["Small"]["raw_path"] is None
    assert rows["Big"]["raw_id"] is None and (store.data_dir / rows["Big"]["raw_path"]).is_file()
    for subject, raw in (("Small", small), ("Big", big)):
        assert tickets.raw_message(store, rows[subject]["ticket_id"], rows[subject]["log_id"]) == raw


def test_statistics_are_taken_once_the_tickets_table_is_large_and_again_when_it_grew_tenfold(
    cli, store, maildir, monkeypatch
):
    from ticketctl.engine.store import settings
    from ticketctl.engine.store import tickets as ticket_table

    monkeypatch.setattr(ticket_table, "ANALYZE_MIN", 3)

    def analysed() -> list[str]:
        return [r["stat"] for r in store.query("SELECT stat FROM sqlite_stat1 WHERE tbl = 'tickets' ORDER BY idx")]

    deliver(maildir, *(mail(frm=f"c{i}@customer.example", subject=f"Q {i}") for i in range(2)))
    process(cli)
    assert store.one("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'") is None
    deliver(maildir, mail(frm="c3@customer.example", subject="Q 3"))
    process(cli)
    first = analysed()
    assert first and settings.get(store, "tickets_analyzed_at") == "3"
    deliver(maildir, *(mail(frm=f"d{i}@customer.example", subject=f"R {i}") for i in range(5)))
    process(cli)
    assert analysed() == first, "8 tickets is not ten times 3: no new statistics"
    deliver(maildir, *(mail(frm=f"e{i}@customer.example", subject=f"S {i}") for i in range(22)))
    process(cli)
    assert settings.get(store, "tickets_analyzed_at") == "30" and analysed() != first
