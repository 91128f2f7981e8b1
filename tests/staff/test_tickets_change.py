"""`tickets status`, `tickets resolve` and `tickets reassign`, with their refusals."""

from __future__ import annotations

import pytest

from tests.staff import builders as b
from ticketctl.engine.mail import tags


@pytest.fixture
def ticket(store):
    return b.ticket(store, type_id=b.ticket_type(store), status="new")


def status_of(store, ticket_id):
    return store.one("SELECT status FROM tickets WHERE id = ?", (ticket_id,))["status"]


def test_status_follows_allowed_transitions(cli, store, ticket):
    for status in ("open", "waiting", "answered", "resolved", "closed", "open"):
        result = cli("tickets", "status", str(ticket), status)
        assert result.exit_code == 0, result.stderr
        assert f"Ticket {ticket} is {status}." in result.stdout
        assert status_of(store, ticket) == status


def test_status_refuses_a_transition_not_allowed(cli, store, ticket):
    cli("tickets", "resolve", str(ticket))
    result = cli("tickets", "status", str(ticket), "waiting")
    assert result.exit_code == 1
    assert (
        f"Ticket {ticket} is resolved and cannot become waiting; from resolved it can become: open, closed."
        in result.stderr
    )
    assert status_of(store, ticket) == "resolved"


def test_nothing_goes_back_to_new(cli, ticket):
    cli("tickets", "status", str(ticket), "open")
    result = cli("tickets", "status", str(ticket), "new")
    assert result.exit_code == 1
    assert "cannot become new" in result.stderr


def test_same_status_again_is_fine(cli, ticket):
    assert cli("tickets", "status", str(ticket), "new").exit_code == 0


def test_status_refuses_an_unknown_status_and_ticket(cli, ticket):
    bad = cli("tickets", "status", str(ticket), "done")
    assert bad.exit_code == 1
    assert "Status 'done' is not valid; use one of: new, open, answered, waiting, resolved, closed." in bad.stderr
    missing = cli("tickets", "status", "99", "open")
    assert missing.exit_code == 1
    assert "There is no ticket 99" in missing.stderr


def test_resolve(cli, store, ticket):
    result = cli("tickets", "resolve", str(ticket))
    assert result.exit_code == 0
    assert f"Ticket {ticket} is resolved." in result.stdout
    assert status_of(store, ticket) == "resolved"
    assert cli("tickets", "resolve", "99").exit_code == 1


@pytest.fixture
def invalid(store):
    box = b.mailbox(store, "alpha")
    b.ticket_type(
        store,
        "Questions",
        "Support",
        box,
        admin_email="admin@example.org",
        email_to=("help@example.org", "support@example.org"),
        email_forward="boss@example.org",
    )
    ticket = b.ticket(store, "Where is my order?", mailbox_id=box, kind="invalid")
    log = b.log(store, ticket, subject="Where is my order?", body="Order 1234 never came.")
    b.attachment(store, log, "receipt.pdf", b"%PDF receipt")
    return ticket


def test_reassign_types_the_ticket_and_queues_the_notice(cli, store, invalid):
    result = cli("tickets", "reassign", str(invalid), "--type", "Questions")
    assert result.exit_code == 0, result.stderr
    assert f"Ticket {invalid} is now of type 'Questions'; a notice to admin@example.org is queued." in result.stdout
    row = store.one("SELECT t.kind, ty.name FROM tickets t JOIN ticket_types ty ON ty.id = t.type_id")
    assert (row["kind"], row["name"]) == ("normal", "Questions")
    mail = store.one("SELECT * FROM email_queue")
    log = store.one("SELECT * FROM ticket_logs WHERE direction = 'out'")
    assert mail["to_email"] == "admin@example.org"
    assert mail["cc"] == "boss@example.org"
    assert mail["reply_to"] == "help@example.org"
    assert mail["subject"] == f"[Support #{invalid}-{log['id']}] Reassigned: Where is my order?"
    assert f"Ticket #{invalid} has been reassigned to Questions" in mail["body_text"]
    assert tags.find(mail["subject"]) == [tags.Tag("Support", invalid, log["id"])]
    assert "Order 1234 never came." in mail["body_text"]
    assert mail["status"] == "pending" and mail["purpose"] == "reassigned"
    assert mail["attachments"] == "[1]"
    assert (log["to_email"], log["message_id"]) == ("admin@example.org", mail["message_id"])


def test_reassign_refuses_a_ticket_that_has_a_type(cli, store, invalid):
    assert cli("tickets", "reassign", str(invalid), "--type", "Questions").exit_code == 0
    again = cli("tickets", "reassign", str(invalid), "--type", "Questions")
    assert again.exit_code == 1
    assert (
        f"Ticket {invalid} has the type 'Questions'; only an invalid ticket (one no type matched) "
        "can be reassigned." in again.stderr
    )
    assert store.one("SELECT count(*) AS n FROM email_queue")["n"] == 1


def test_reassign_refuses_unknown_type_and_ticket(cli, store, invalid):
    unknown_type = cli("tickets", "reassign", str(invalid), "--type", "Nope")
    assert unknown_type.exit_code == 1
    assert "There is no ticket type named 'Nope'" in unknown_type.stderr
    unknown_ticket = cli("tickets", "reassign", "99", "--type", "Questions")
    assert unknown_ticket.exit_code == 1
    assert "There is no ticket 99" in unknown_ticket.stderr
    assert store.one("SELECT kind FROM tickets WHERE id = ?", (invalid,))["kind"] == "invalid"


def test_reassign_to_a_type_without_admin_changes_nothing(cli, store, invalid):
    b.ticket_type(store, "Homework", "Hw", admin_email=None, task="bounce_back")
    result = cli("tickets", "reassign", str(invalid), "--type", "Homework")
    assert result.exit_code == 1
    assert "Ticket type 'Homework' has no admin email" in result.stderr
    assert store.one("SELECT kind FROM tickets WHERE id = ?", (invalid,))["kind"] == "invalid"
    assert store.one("SELECT count(*) AS n FROM ticket_logs")["n"] == 1
