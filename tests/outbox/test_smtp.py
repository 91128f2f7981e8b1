"""What arrives at a real SMTP server (aiosmtpd with STARTTLS and AUTH) when the queue is drained."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.outbox.conftest import SMTP_USER, make_ticket, parse, queue_mail
from tests.servers.smtp import free_port
from ticketctl.engine.mail import msgid, tags
from ticketctl.engine.outbound import claims, delivery, outbox
from ticketctl.engine.outbound.mailbuild import LOOP_HEADER
from ticketctl.engine.store import queue, settings

# aiosmtpd's own warning about AUTH on its implicit-TLS listener (where every byte is TLS anyway)
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _queue_show(cli, queue_id: int) -> dict:
    result = cli("queue", "show", str(queue_id), "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_reply_arrives_with_every_header_threading_and_attachments(cli, store, smtp, write_config, workdir):
    write_config(smtp.port)
    ticket = make_ticket(store)
    pdf = workdir / "invoice.pdf"
    pdf.write_bytes(os.urandom(3000) + b"\r\n\x00end")
    notes = workdir / "notes.txt"
    notes.write_bytes(b"line one\nline two without CR\r\n")

    replied = cli(
        "tickets", "reply", str(ticket.id), "--message", "Unplug it, please.",
        "--attach", str(pdf), "--attach", str(notes),
    )  # fmt: skip
    assert replied.exit_code == 0, replied.stderr
    sent = cli("queue", "send")
    assert sent.exit_code == 0, sent.stderr
    assert "Sent 1" in sent.stdout

    (arrived,) = smtp.messages
    row = store.one("SELECT * FROM email_queue")
    assert arrived["rcpt_tos"] == ["carla@example.org"]
    assert arrived["auth_login"] == SMTP_USER.encode()
    # VERP at the bounce type's address, naming this queue row
    assert arrived["mail_from"].startswith("bounces+q")
    assert arrived["mail_from"].endswith("@example.com")
    assert msgid.parse_verp(settings.installation_secret(store), arrived["mail_from"]) == row["id"]

    mail = parse(arrived["data"])
    log = store.one("SELECT * FROM ticket_logs WHERE direction = 'out'")
    assert mail["From"] == "support <support@example.com>"
    assert mail["To"] == "Carla Customer <carla@example.org>"
    assert mail["Reply-To"] == "support@example.com"
    assert mail["Subject"] == f"[Support #{ticket.id}-{log['id']}] Printer on fire"
    assert tags.find(mail["Subject"]) == [tags.Tag("Support", ticket.id, log["id"])]
    assert mail["Message-ID"] == f"<{log['message_id']}>"
    assert msgid.verify_message_id(settings.installation_secret(store), mail["Message-ID"]) == (ticket.id, log["id"])
    assert mail["In-Reply-To"] == "<carla-1@example.org>"
    assert mail["References"] == "<carla-1@example.org>"
    assert mail["Date"]
    assert mail[LOOP_HEADER] == msgid.installation_id(settings.installation_secret(store))
    assert mail["Auto-Submitted"] is None  # a person wrote this reply
    assert mail.get_body(("plain",)).get_content().strip() == "Unplug it, please."
    parts = {p.get_filename(): p for p in mail.iter_attachments()}
    assert parts["invoice.pdf"].get_payload(decode=True) == pdf.read_bytes()
    assert parts["invoice.pdf"].get_content_type() == "application/pdf"
    assert parts["notes.txt"].get_payload(decode=True) == notes.read_bytes()
    assert _queue_show(cli, row["id"])["status"] == "sent"


def test_notification_has_auto_headers_cc_and_html_alternative(store, smtp, write_config):
    config = write_config(smtp.port)
    ticket = make_ticket(store)
    queue_id, message_id = queue_mail(
        store, config, ticket, to="admin@example.com", cc=("Deputy <deputy@example.com>",), body="It is <on> fire.",
        notice=True,
    )  # fmt: skip
    report = delivery.drain(store, config)
    assert report.sent == [queue_id] and report.error is None

    (arrived,) = smtp.messages
    assert sorted(arrived["rcpt_tos"]) == ["admin@example.com", "deputy@example.com"]
    mail = parse(arrived["data"])
    log = store.one("SELECT id FROM ticket_logs WHERE direction = 'out'")
    assert mail["Cc"] == "Deputy <deputy@example.com>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["Message-ID"] == f"<{message_id}>"
    assert mail["Subject"] == f"[Support #{ticket.id}-{log['id']}] Printer on fire"
    assert mail.get_content_type() == "multipart/alternative"
    assert "It is <on> fire." in mail.get_body(("plain",)).get_content()
    assert "It is &lt;on&gt; fire." in mail.get_body(("html",)).get_content()


def test_certificate_is_verified_by_default(cli, store, smtp, write_config):
    write_config(smtp.port, ca_file=None)  # the self-signed certificate is trusted by nobody
    ticket = make_ticket(store)
    assert cli("tickets", "reply", str(ticket.id), "-m", "hello").exit_code == 0
    result = cli("queue", "send")
    assert result.exit_code == 1
    assert "cannot be verified" in result.stderr and "ca_file" in result.stderr
    assert smtp.messages == []


def test_wrong_password_is_one_sentence_and_keeps_the_mail(cli, store, smtp, write_config, monkeypatch):
    write_config(smtp.port)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "not-the-password")
    ticket = make_ticket(store)
    cli("tickets", "reply", str(ticket.id), "-m", "first")
    cli("tickets", "reply", str(ticket.id), "-m", "second")
    result = cli("queue", "send")
    assert result.exit_code == 1
    error = " ".join(result.stderr.split())
    assert error.startswith("Error: The mail server 127.0.0.1:")
    assert f"refused the login for {SMTP_USER}" in error
    assert error.count(". ") == 0 and "Traceback" not in result.stderr and "not-the-password" not in error
    rows = store.query("SELECT status, attempts, last_error FROM email_queue")
    assert [(r["status"], r["attempts"]) for r in rows] == [("pending", 1), ("pending", 1)]
    assert smtp.messages == []


def test_server_down_then_back(cli, store, start_smtp, write_config):
    port = free_port()
    config = write_config(port)
    ticket = make_ticket(store)
    cli("tickets", "reply", str(ticket.id), "-m", "Are you there?")
    queue_id = store.one("SELECT id FROM email_queue")["id"]

    down = cli("queue", "send")
    assert down.exit_code == 1
    said = " ".join(down.stderr.split())
    assert "Cannot reach the mail server" in said and "queued mail is tried again later" in said
    assert "security" not in said, "a server that is down is not a configuration mistake"
    shown = _queue_show(cli, queue_id)
    assert shown["status"] == "pending"
    assert shown["attempts"] == 1
    assert "Cannot reach the mail server" in shown["last_error"]
    next_try = datetime.fromisoformat(shown["next_try"].replace("Z", "+00:00"))
    assert timedelta(seconds=50) < next_try - datetime.now(UTC) <= timedelta(seconds=60)
    table = cli("queue", "show", str(queue_id))
    assert "attempts" in table.stdout and shown["next_try"] in table.stdout

    assert cli("queue", "send").stdout.startswith("Sent 0")  # not due yet: no second attempt
    assert _queue_show(cli, queue_id)["attempts"] == 1

    server = start_smtp(port=port)
    report = delivery.drain(store, config, now=next_try + timedelta(seconds=1))
    assert report.sent == [queue_id]
    assert len(server.messages) == 1
    after = _queue_show(cli, queue_id)
    assert after["status"] == "sent" and after["attempts"] == 2 and after["last_error"] is None


def test_implicit_tls_against_a_starttls_port_names_the_security_setting(cli, store, smtp, write_config):
    write_config(smtp.port, security="ssl")
    ticket = make_ticket(store)
    cli("tickets", "reply", str(ticket.id), "-m", "hello")
    result = cli("queue", "send")
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    assert "answered, but the connection failed" in said and "check outbox.smtp.security" in said
    assert store.one("SELECT status FROM email_queue")["status"] == "pending"


def test_backoff_doubles_then_failed_then_retry(cli, store, write_config):
    config = write_config(free_port(), max_attempts=2)
    ticket = make_ticket(store)
    cli("tickets", "reply", str(ticket.id), "-m", "hello")
    queue_id = store.one("SELECT id FROM email_queue")["id"]
    start = datetime(2030, 1, 1, tzinfo=UTC)
    delivery.drain(store, config, now=start)
    assert _queue_show(cli, queue_id)["next_try"] == "2030-01-01T00:01:00Z"
    report = delivery.drain(store, config, now=start + timedelta(minutes=1))
    assert report.failed == [queue_id]
    failed = cli("queue", "list", "--status", "failed", "--json")
    assert [r["id"] for r in json.loads(failed.stdout)["rows"]] == [queue_id]
    assert _queue_show(cli, queue_id)["next_try"] is None

    assert cli("queue", "retry", "--all-failed").exit_code == 0
    row = _queue_show(cli, queue_id)
    assert (row["status"], row["attempts"]) == ("pending", 0)


def test_refused_recipient_fails_only_its_row(store, smtp, write_config):
    config = write_config(smtp.port)
    ticket = make_ticket(store, bounce_type=False)
    bad, _ = queue_mail(store, config, ticket, to="nobody@refused.invalid")
    good, _ = queue_mail(store, config, ticket, to="ok@example.org")
    report = delivery.drain(store, config)
    assert report.failed == [bad] and report.sent == [good] and report.error is None
    row = outbox.get(store, bad)
    assert row.status == "failed" and "550" in (row.last_error or "")
    assert [m["rcpt_tos"] for m in smtp.messages] == [["ok@example.org"]]
    # no bounce type here: the VERP address falls back to outbox.from_address
    assert smtp.messages[0]["mail_from"].startswith("ticketctl+q")


CRASHING_DRAIN = """
import os, sys
from ticketctl.engine.config import load_config
from ticketctl.engine.outbound import claims, delivery
from ticketctl.engine.store import queue, settings
from ticketctl.engine.store.connection import Store, utcnow
from ticketctl.engine.mail import msgid

config = load_config()
store = Store(config.database, config.data_dir)
(row,) = queue.claim(store, queue.due(store, utcnow()), claims.this_process(), utcnow())
secret = settings.installation_secret(store)
with delivery.make_sender(store, config) as sender:
    delivery._send_one(store, config, sender, row, queue.due_recipients(store, row.id, utcnow()), secret,
                       msgid.installation_id(secret))
os._exit(9)  # killed after the server took the mail, before it was recorded
"""


def test_a_claim_of_a_process_that_died_is_taken_back_at_once_and_the_resend_is_byte_identical(
    cli, store, smtp, write_config, workdir
):
    config = write_config(smtp.port)
    queue_id, message_id = queue_mail(
        store, config, make_ticket(store), to="admin@example.com", cc=("deputy@example.com",), notice=True
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    died = subprocess.run([sys.executable, "-c", CRASHING_DRAIN], cwd=workdir, env=env, capture_output=True)
    assert died.returncode == 9, died.stderr.decode()
    assert len(smtp.messages) == 1
    claimed = _queue_show(cli, queue_id)
    assert claimed["status"] == "sending" and claimed["attempts"] == 0, "a claim is not an attempt"

    report = delivery.drain(store, config)  # at once: the claim's process is gone
    assert report.sent == [queue_id]
    first, again = smtp.messages
    assert again["data"] == first["data"], "the resend is the same bytes (MIME boundaries included)"
    assert parse(again["data"])["Message-ID"] == f"<{message_id}>"
    assert parse(again["data"]).get_content_type() == "multipart/alternative"
    shown = _queue_show(cli, queue_id)
    assert (shown["status"], shown["attempts"]) == ("sent", 1)


def test_a_claim_of_a_process_still_at_work_is_left_alone(store, smtp, write_config):
    config = write_config(smtp.port)
    queue_id, _ = queue_mail(store, config, make_ticket(store))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert queue.claim(store, queue.due(store, now), claims.this_process(), now)
    assert delivery.drain(store, config).attempted == 0
    assert smtp.messages == [] and outbox.get(store, queue_id).status == "sending"


def test_missing_password_variable_is_one_sentence(cli, store, smtp, write_config, monkeypatch):
    write_config(smtp.port)
    monkeypatch.delenv("TEST_SMTP_PASSWORD")
    ticket = make_ticket(store)
    cli("tickets", "reply", str(ticket.id), "-m", "hello")
    result = cli("queue", "send")
    assert result.exit_code == 1
    assert "$TEST_SMTP_PASSWORD is empty" in result.stderr


def test_a_large_attachment_is_streamed_with_dots_stuffed(cli, store, smtp, write_config, workdir):
    write_config(smtp.port)
    ticket = make_ticket(store)
    archive = workdir / "archive.bin"
    archive.write_bytes(os.urandom(3 * 1024 * 1024))
    text = "First line.\n.a line starting with a dot\n..two dots\n.\nLast line."
    replied = cli("tickets", "reply", str(ticket.id), "--message", text, "--attach", str(archive))
    assert replied.exit_code == 0, replied.stderr
    sent = cli("queue", "send")
    assert sent.exit_code == 0, sent.stderr

    (arrived,) = smtp.messages
    mail = parse(arrived["data"])
    assert mail.get_body(("plain",)).get_content().replace("\r\n", "\n").strip() == text
    (part,) = mail.iter_attachments()
    assert part.get_payload(decode=True) == archive.read_bytes()
    assert arrived["data"].endswith(b"--\r\n")
