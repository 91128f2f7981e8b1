"""Delivery per recipient, against a real SMTP server that refuses one of two recipients: a 4xx is tried
again for that recipient only, a 5xx fails that recipient only, and nobody who accepted the mail gets it
twice (issue 19: a notice To an admin and Cc a deputy)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.outbox.conftest import make_ticket, parse, queue_mail
from ticketctl.engine.outbound import delivery

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

ADMIN, DEPUTY = "admin@example.com", "deputy@example.com"


def _notice(store, config) -> tuple[int, str]:
    return queue_mail(store, config, make_ticket(store), to=ADMIN, cc=(f"Deputy <{DEPUTY}>",), notice=True)


def _show(cli, queue_id: int) -> dict:
    result = cli("queue", "show", str(queue_id), "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _copies(smtp) -> Counter[str]:
    """How many copies each address received."""
    return Counter(address for m in smtp.messages for address in m["rcpt_tos"])


def test_a_451_for_the_deputy_sends_to_the_admin_now_and_to_the_deputy_later_once_each(cli, store, smtp, write_config):
    config = write_config(smtp.port)
    queue_id, message_id = _notice(store, config)
    smtp.handler.refuse[DEPUTY] = "451 4.2.1 Mailbox busy, try again later"

    sent = cli("queue", "send")
    assert sent.exit_code == 0, sent.stderr
    assert sent.stdout.strip() == "Sent 1 through 127.0.0.1, will retry 1, failed 0."
    assert _copies(smtp) == {ADMIN: 1}
    shown = _show(cli, queue_id)
    assert shown["status"] == "pending" and shown["state"] == "pending (1/2 sent)"
    admin, deputy = shown["recipients"]
    assert (admin["address"], admin["role"], admin["status"]) == (ADMIN, "to", "sent")
    assert (deputy["address"], deputy["role"], deputy["status"], deputy["attempts"]) == (DEPUTY, "cc", "pending", 1)
    assert deputy["last_code"] == 451 and "tried again later" in deputy["last_error"]
    assert "check the address" not in deputy["last_error"]
    listed = cli("queue", "list")
    assert "pending (1/2 sent)" in listed.stdout
    table = cli("queue", "show", str(queue_id))
    assert DEPUTY in table.stdout and "451" in table.stdout

    assert cli("queue", "send").stdout.strip() == "Sent 0 through 127.0.0.1, will retry 0, failed 0."  # not due yet
    del smtp.handler.refuse[DEPUTY]
    later = datetime.now(UTC) + timedelta(minutes=2)
    report = delivery.drain(store, config, now=later)
    assert report.sent == [queue_id] and report.retry == []
    assert _copies(smtp) == {ADMIN: 1, DEPUTY: 1}
    first, second = smtp.messages
    assert second["rcpt_tos"] == [DEPUTY]
    assert second["data"] == first["data"], "the deputy gets the very mail the admin got"
    assert parse(second["data"])["Cc"] == f"Deputy <{DEPUTY}>"
    assert parse(second["data"])["Message-ID"] == f"<{message_id}>"
    done = _show(cli, queue_id)
    assert (done["status"], done["state"], done["last_error"]) == ("sent", "sent", None)
    assert [r["status"] for r in done["recipients"]] == ["sent", "sent"]

    assert delivery.drain(store, config, now=later + timedelta(hours=1)).attempted == 0
    refused = cli("queue", "retry", str(queue_id))
    assert refused.exit_code == 1 and "already sent" in refused.stderr
    assert _copies(smtp) == {ADMIN: 1, DEPUTY: 1}


def test_a_550_for_the_deputy_fails_the_deputy_only_and_a_retry_never_reaches_the_admin_again(
    cli, store, smtp, write_config
):
    config = write_config(smtp.port)
    queue_id, _ = _notice(store, config)
    smtp.handler.refuse[DEPUTY] = "550 5.1.1 No such user here"

    sent = cli("queue", "send")
    assert sent.stdout.strip() == "Sent 1 through 127.0.0.1, will retry 0, failed 1."
    assert _copies(smtp) == {ADMIN: 1}
    shown = _show(cli, queue_id)
    assert shown["state"] == "failed (1/2 sent)"
    admin, deputy = shown["recipients"]
    assert admin["status"] == "sent"
    assert deputy["status"] == "failed" and deputy["last_code"] == 550 and "check the address" in deputy["last_error"]
    assert DEPUTY in shown["last_error"]
    status = cli("status")
    assert status.exit_code == 1 and "1 outgoing mail(s) failed for good" in status.stdout

    del smtp.handler.refuse[DEPUTY]  # the deputy's mailbox exists now
    assert cli("queue", "retry", "--all-failed").exit_code == 0
    retried = _show(cli, queue_id)
    assert [(r["status"], r["attempts"]) for r in retried["recipients"]] == [("sent", 1), ("pending", 0)]
    assert cli("queue", "send").stdout.strip() == "Sent 1 through 127.0.0.1, will retry 0, failed 0."
    assert _copies(smtp) == {ADMIN: 1, DEPUTY: 1}
    assert _show(cli, queue_id)["status"] == "sent"


def test_both_recipients_refused_for_now_are_both_tried_again(cli, store, smtp, write_config):
    config = write_config(smtp.port)
    queue_id, _ = _notice(store, config)
    smtp.handler.refuse.update({ADMIN: "452 4.2.2 Over quota", DEPUTY: "451 4.2.1 Busy"})
    report = delivery.drain(store, config)
    assert (report.sent, report.retry, report.failed) == ([], [queue_id], [])
    assert smtp.messages == []
    shown = _show(cli, queue_id)
    assert shown["state"] == "pending" and [r["last_code"] for r in shown["recipients"]] == [452, 451]
    smtp.handler.refuse.clear()
    delivery.drain(store, config, now=datetime.now(UTC) + timedelta(minutes=2))
    assert [sorted(m["rcpt_tos"]) for m in smtp.messages] == [[ADMIN, DEPUTY]]  # one transaction for both


def test_mail_sent_before_recipients_were_tracked_shows_every_address_as_sent(cli, store):
    from tests.staff import builders

    queue_id = builders.queued(
        store, status="sent", to_email=ADMIN, cc=f"Deputy <{DEPUTY}>", sent_at="2026-01-02T00:00:00Z"
    )
    shown = _show(cli, queue_id)
    assert [(r["address"], r["role"], r["status"], r["sent_at"]) for r in shown["recipients"]] == [
        (ADMIN, "to", "sent", "2026-01-02T00:00:00Z"),
        (DEPUTY, "cc", "sent", "2026-01-02T00:00:00Z"),
    ]


def test_tickets_show_says_a_mail_reached_one_of_its_two_recipients(cli, store, smtp, write_config):
    config = write_config(smtp.port)
    ticket = make_ticket(store)
    queue_mail(store, config, ticket, to=ADMIN, cc=(f"Deputy <{DEPUTY}>",), notice=True)
    smtp.handler.refuse[DEPUTY] = "550 5.1.1 No such user here"
    try:
        assert cli("queue", "send").exit_code == 0
    finally:
        del smtp.handler.refuse[DEPUTY]  # the server is shared by the tests that follow

    shown = cli("tickets", "show", str(ticket.id))
    assert shown.exit_code == 0, shown.stderr
    (line,) = [line for line in shown.stdout.splitlines() if line.startswith("Log ") and " sent " in line]
    assert line.endswith("failed (1/2 sent)"), line
    data = json.loads(cli("tickets", "show", str(ticket.id), "--json").stdout)
    assert [log["delivery"] for log in data["logs"]] == [None, "failed (1/2 sent)"]
