"""`ticketctl tickets reply` and canned responses: what is logged and queued, and what is refused."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.outbox.conftest import make_ticket
from ticketctl.engine.mail import msgid, tags
from ticketctl.engine.store import settings

ESCAPE = "{{ ''.__class__.__mro__ }}"


def _counts(store) -> tuple[int, int, int]:
    return tuple(store.one(f"SELECT count(*) FROM {t}")[0] for t in ("email_queue", "ticket_logs", "attachments"))


def test_reply_logs_and_queues_with_tag_and_threading(cli, store):
    ticket = make_ticket(store, subject="Re: Printer on fire")
    result = cli("tickets", "reply", str(ticket.id), "--message", "Unplug it.")
    assert result.exit_code == 0, result.stderr

    log = store.one("SELECT * FROM ticket_logs WHERE direction = 'out'")
    row = store.one("SELECT * FROM email_queue")
    expected_subject = f"[Support #{ticket.id}-{log['id']}] Printer on fire"
    assert result.stdout.strip() == f"Queued reply {row['id']} to carla@example.org: {expected_subject}"
    assert (log["ticket_id"], log["to_email"], log["body_text"]) == (
        ticket.id,
        "carla@example.org",
        "Unplug it.",
    )
    assert log["subject"] == row["subject"] == expected_subject
    assert log["message_id"] == row["message_id"]
    assert msgid.verify_message_id(settings.installation_secret(store), row["message_id"]) == (ticket.id, log["id"])
    assert row["in_reply_to"] == log["in_reply_to"] == ticket.inbound_message_id
    assert row["references_"] == f"<{ticket.inbound_message_id}>"
    assert (row["from_email"], row["reply_to"], row["to_email"]) == (
        "support@example.com",
        "support@example.com",
        "carla@example.org",
    )
    assert row["status"] == "pending" and row["auto_submitted"] == 0
    assert store.one("SELECT status FROM tickets WHERE id = ?", (ticket.id,))["status"] == "answered"


def test_second_reply_references_the_whole_thread(cli, store):
    ticket = make_ticket(store)
    cli("tickets", "reply", str(ticket.id), "-m", "one")
    first = store.one("SELECT message_id FROM ticket_logs WHERE direction = 'out'")["message_id"]
    cli("tickets", "reply", str(ticket.id), "-m", "two")
    second = store.one("SELECT * FROM email_queue ORDER BY id DESC LIMIT 1")
    assert second["in_reply_to"] == ticket.inbound_message_id
    assert second["references_"] == f"<{first}> <{ticket.inbound_message_id}>"


def test_reply_with_canned_response_and_attachment(cli, store, workdir):
    ticket = make_ticket(store)
    added = cli(
        "canned", "add", "fire", "--subject", "About: {{ ticket.subject }}",
        "--body", "Hello {{ contact.name }}, {{ type.workflow_tag }} here.",
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    photo = workdir / "photo.png"
    photo.write_bytes(b"\x89PNG fake")
    result = cli("tickets", "reply", str(ticket.id), "--canned", "fire", "--attach", str(photo))
    assert result.exit_code == 0, result.stderr
    assert "with 1 attachment(s)" in result.stdout
    row = store.one("SELECT * FROM email_queue")
    assert row["body_text"] == "Hello Carla Customer, Support here."
    assert tags.strip(row["subject"]) == "About: Printer on fire"
    (attachment,) = store.query("SELECT * FROM attachments")
    assert json.loads(row["attachments"]) == [attachment["id"]]
    assert (attachment["filename"], attachment["content_type"], attachment["size"]) == (
        "photo.png",
        "image/png",
        len(photo.read_bytes()),
    )
    stored = workdir / "ticketctl-data" / "attachments" / attachment["sha256"][:2] / attachment["sha256"]
    assert stored.read_bytes() == photo.read_bytes()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Hello {{ contact.name }", "has a template error at line 1"),
        (ESCAPE, "tries to reach outside the template sandbox"),
        ("{{ ''|attr('__class__') }}", "tries to reach outside the template sandbox"),
        ("Hello {{ customer.name }}", "uses something that is not defined"),
    ],
)
def test_canned_add_refuses_bad_templates(cli, store, body, expected):
    result = cli("canned", "add", "bad", "--body", body)
    assert result.exit_code == 1
    assert expected in " ".join(result.stderr.split())
    assert store.one("SELECT count(*) FROM canned_responses")[0] == 0


@pytest.mark.parametrize("body", [ESCAPE, "{% if %}", "{{ ticket.id / 0 }}"])
def test_reply_with_a_bad_canned_response_queues_nothing(cli, store, body):
    """A canned response that got past `canned add` (written into the database directly) is refused too."""
    ticket = make_ticket(store)
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO canned_responses (name, body, created_at, updated_at) VALUES ('sneaky', ?, 'x', 'x')",
            (body,),
        )
    before = _counts(store)
    result = cli("tickets", "reply", str(ticket.id), "--canned", "sneaky")
    assert result.exit_code == 1
    assert "canned response 'sneaky'" in result.stderr
    assert _counts(store) == before
    assert store.one("SELECT status FROM tickets WHERE id = ?", (ticket.id,))["status"] == "open"


def test_canned_list_show_edit_remove(cli, store):
    assert cli("canned", "add", "thanks", "--body", "Thanks, {{ contact.name }}!").exit_code == 0
    listed = json.loads(cli("canned", "list", "--json").stdout)
    assert [c["name"] for c in listed] == ["thanks"]
    edited = cli("canned", "edit", "thanks", "--name", "thank-you", "--subject", "Thanks")
    assert edited.exit_code == 0, edited.stderr
    shown = json.loads(cli("canned", "show", "thank-you", "--json").stdout)
    assert (shown["subject"], shown["body"]) == ("Thanks", "Thanks, {{ contact.name }}!")
    refused = cli("canned", "edit", "thank-you", "--body", ESCAPE)
    assert refused.exit_code == 1
    assert json.loads(cli("canned", "show", "thank-you", "--json").stdout)["body"] == shown["body"]
    assert cli("canned", "remove", "thank-you").exit_code == 0
    missing = cli("canned", "show", "thank-you")
    assert missing.exit_code == 1 and "no canned response named 'thank-you'" in missing.stderr


def _editor(folder: Path, text: str) -> str:
    script = folder / "fake-editor.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s" "{text}" > "$1"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_editor_supplies_reply_and_canned_body(cli, store, workdir):
    ticket = make_ticket(store)
    env = {"EDITOR": _editor(workdir, "Written in the editor."), "VISUAL": ""}
    assert cli("canned", "add", "edited", env=env).exit_code == 0
    assert json.loads(cli("canned", "show", "edited", "--json").stdout)["body"] == "Written in the editor."
    result = cli("tickets", "reply", str(ticket.id), env=env)
    assert result.exit_code == 0, result.stderr
    assert store.one("SELECT body_text FROM email_queue")["body_text"] == "Written in the editor."


def test_reply_refusals_are_sentences(cli, store, workdir):
    ticket = make_ticket(store)
    missing = cli("tickets", "reply", "999", "-m", "x")
    assert missing.exit_code == 1 and "There is no ticket 999" in missing.stderr
    no_file = cli("tickets", "reply", str(ticket.id), "-m", "x", "--attach", str(workdir / "nope.pdf"))
    assert no_file.exit_code == 1 and "Cannot read the attachment" in no_file.stderr
    assert _counts(store) == (0, 1, 0)
