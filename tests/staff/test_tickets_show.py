"""`ticketctl tickets show` (thread, attachments, assignment, bounces; --json; --raw LOG) and
`tickets attachment`."""

from __future__ import annotations

import json

import pytest

from tests.staff import builders as b
from ticketctl.engine.desk import tickets

RAW = b"From: Alice <alice@example.com>\r\nSubject: Printer on fire\r\n\r\nIt is burning.\r\n"
PDF = b"%PDF-1.4 pretend"


@pytest.fixture
def thread(store):
    box = b.mailbox(store, "alpha")
    questions = b.ticket_type(store, "Questions", "Support", box)
    alice = b.contact(store, "alice@example.com", "Alice", "student")
    tutor = b.contact(store, "tom@example.org", "Tom", "tutor")
    ticket = b.ticket(store, type_id=questions, mailbox_id=box, contact_id=alice, status="open")
    first = b.log(store, ticket, raw=RAW, mailbox_id=box)
    b.attachment(store, first, "photo.pdf", PDF)
    answer = b.log(
        store,
        ticket,
        "out",
        "[Support #1-2] Printer on fire",
        "Use the extinguisher.",
        to_email="alice@example.com",
        to_name="Alice",
    )
    b.queued(store, status="sent", ticket_id=ticket, log_id=answer)
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO assignments (ticket_id, student_id, tutor_id, status, submissions, created_at,"
            " updated_at) VALUES (?, ?, ?, 'resubmitted', 2, ?, ?)",
            (ticket, alice, tutor, b.T0, b.T0),
        )
    b.bounce(store, "alice@example.com", ticket_id=ticket, contact_id=alice)
    return {"ticket": ticket, "first": first, "answer": answer}


def test_show_renders_the_whole_ticket(cli, thread):
    result = cli("tickets", "show", str(thread["ticket"]))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Ticket 1" in out
    assert "Status: open (can become: answered, waiting, resolved, closed)" in out
    assert "Type: Questions" in out
    assert "Contact: Alice <alice@example.com> (student)" in out
    assert f"Log {thread['first']} received" in out and "original kept (--raw)" in out
    assert f"Log {thread['answer']} sent {b.T0}, sent" in out
    assert "Attachment: photo.pdf (16 bytes, application/pdf)" in out
    assert "It is burning." in out and "Use the extinguisher." in out
    assert "Assignment: 1, resubmitted, 2 attempt(s)" in out and "tutor tom@example.org" in out
    assert "alice@example.com permanent, unresolved" in out and "5.1.1 no such user" in out


def test_show_json(cli, thread):
    result = cli("tickets", "show", str(thread["ticket"]), "--json")
    data = json.loads(result.stdout)
    assert data["contact"]["email"] == "alice@example.com"
    assert [log["direction"] for log in data["logs"]] == ["in", "out"]
    assert data["logs"][0]["attachments"][0] == {
        "id": 1,
        "log_id": thread["first"],
        "filename": "photo.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": data["logs"][0]["attachments"][0]["sha256"],
        "inline": False,
    }
    assert data["logs"][1]["delivery"] == "sent"
    assert data["assignment"]["submissions"] == 2
    assert data["bounces"][0]["resolved"] is False


def test_show_raw_prints_the_stored_original(cli, thread):
    result = cli("tickets", "show", str(thread["ticket"]), "--raw", str(thread["first"]))
    assert result.exit_code == 0
    # the runner's text output turns CRLF into LF; the bytes themselves are checked below
    assert result.stdout.encode() == RAW.replace(b"\r\n", b"\n")


def test_raw_message_is_byte_for_byte(store, thread):
    assert tickets.raw_message(store, thread["ticket"], thread["first"]) == RAW


@pytest.mark.parametrize(
    ("log", "message"),
    [
        ("answer", "is a mail ticketctl wrote, not one it received"),
        (99, "Ticket 1 has no log 99"),
    ],
)
def test_show_raw_refusals(cli, thread, log, message):
    log_id = thread[log] if isinstance(log, str) else log
    result = cli("tickets", "show", str(thread["ticket"]), "--raw", str(log_id))
    assert result.exit_code == 1
    assert message in result.stderr


def test_show_unknown_ticket(cli, thread):
    result = cli("tickets", "show", "42")
    assert result.exit_code == 1
    assert "There is no ticket 42; `ticketctl tickets list` shows the tickets." in result.stderr


def test_attachment_saved_to_a_file(cli, thread, workdir):
    result = cli("tickets", "attachment", "1", "photo.pdf", "--out", "copy.pdf")
    assert result.exit_code == 0, result.stderr
    assert (workdir / "copy.pdf").read_bytes() == PDF
    assert "Saved 'photo.pdf' of ticket 1 to copy.pdf." in result.stdout


def test_attachment_into_a_directory_and_by_id(cli, thread, workdir):
    (workdir / "out").mkdir()
    assert cli("tickets", "attachment", "1", "1", "--out", "out").exit_code == 0
    assert (workdir / "out" / "photo.pdf").read_bytes() == PDF


def test_attachment_refuses_to_overwrite_unless_forced(cli, thread, workdir):
    (workdir / "copy.pdf").write_bytes(b"mine")
    result = cli("tickets", "attachment", "1", "photo.pdf", "--out", "copy.pdf")
    assert result.exit_code == 1
    assert "copy.pdf already exists; choose another --out path or add --force." in result.stderr
    assert (workdir / "copy.pdf").read_bytes() == b"mine"
    assert cli("tickets", "attachment", "1", "photo.pdf", "--out", "copy.pdf", "--force").exit_code == 0
    assert (workdir / "copy.pdf").read_bytes() == PDF


def test_attachment_path_name_stays_in_the_directory(cli, store, workdir):
    ticket = b.ticket(store)
    b.attachment(store, b.log(store, ticket), "../../etc/evil.sh", b"#!/bin/sh")
    (workdir / "out").mkdir()
    assert cli("tickets", "attachment", str(ticket), "../../etc/evil.sh", "--out", "out").exit_code == 0
    assert (workdir / "out" / "evil.sh").read_bytes() == b"#!/bin/sh"


def test_attachment_unknown_name(cli, thread):
    result = cli("tickets", "attachment", "1", "nope.txt", "--out", "x")
    assert result.exit_code == 1
    assert "Ticket 1 has no attachment named 'nope.txt'" in result.stderr


def test_attachment_never_writes_through_a_planted_link(cli, store, workdir):
    """The mail chooses the name: a dangling link of that name in --out must not be followed."""
    ticket = b.ticket(store)
    b.attachment(store, b.log(store, ticket), "passwd", b"root::0:0::/:/bin/sh\n")
    (workdir / "out").mkdir()
    victim = workdir / "victim"  # where the link points; it does not exist yet
    (workdir / "out" / "passwd").symlink_to(victim)
    result = cli("tickets", "attachment", str(ticket), "passwd", "--out", "out")
    assert result.exit_code == 1
    assert "already exists; choose another --out path or add --force." in result.stderr
    assert not victim.exists()
    victim.write_text("mine\n")  # a link to an existing file is refused the same way
    assert cli("tickets", "attachment", str(ticket), "passwd", "--out", "out/passwd").exit_code == 1
    assert victim.read_text() == "mine\n"
    # --force replaces the link itself with a new file; what it pointed to stays as it was
    assert cli("tickets", "attachment", str(ticket), "passwd", "--out", "out", "--force").exit_code == 0
    assert victim.read_text() == "mine\n"
    assert not (workdir / "out" / "passwd").is_symlink()
    assert (workdir / "out" / "passwd").read_bytes() == b"root::0:0::/:/bin/sh\n"


def test_attachment_files_are_private_unless_asked(cli, thread, workdir):
    assert cli("tickets", "attachment", "1", "photo.pdf", "--out", "private.pdf").exit_code == 0
    assert (workdir / "private.pdf").stat().st_mode & 0o777 == 0o600
    assert cli("tickets", "attachment", "1", "photo.pdf", "--out", "shared.pdf", "--world-readable").exit_code == 0
    assert (workdir / "shared.pdf").stat().st_mode & 0o777 == 0o644
    assert cli("tickets", "attachment", "1", "photo.pdf", "--out", "private.pdf", "--force").exit_code == 0
    assert (workdir / "private.pdf").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in workdir.iterdir() if p.name.startswith(".ticketctl-")] == []
