"""When tickets change status: recorded by every writer of statuses (the pipeline, `tickets reply`,
`tickets status`/`resolve`), backfilled for tickets resolved before the history existed, and read back
by `ticketctl report` as the engine wrote it."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.pipeline.helpers import deliver, mail, setup_support
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.schema import MIGRATIONS


@pytest.fixture
def maildir(workdir, store):
    path = workdir / "mail"
    setup_support(store, path)
    return path


def process(cli):
    result = cli("process", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr


def changes(store):
    return [
        (r["old_status"], r["new_status"], r["estimated"])
        for r in store.query("SELECT * FROM ticket_status_changes ORDER BY id")
    ]


def shift_back(store, seconds):
    """Let time pass: everything written so far happened `seconds` earlier."""

    def back(column):
        return f"{column} = strftime('%Y-%m-%dT%H:%M:%SZ', {column}, '-{seconds} seconds')"

    with store.transaction() as conn:
        conn.execute(f"UPDATE tickets SET {back('created_at')}, {back('updated_at')}")
        conn.execute(f"UPDATE ticket_logs SET {back('created_at')}")
        conn.execute(f"UPDATE ticket_status_changes SET {back('changed_at')}")


def epoch(stamp):
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())


def test_the_report_times_the_answer_the_customer_got_and_the_resolution(cli, store, maildir):
    deliver(maildir, mail())  # a question: a new ticket, its notice to the admin (not an answer)
    process(cli)
    shift_back(store, 7200)
    subject = store.one("SELECT subject FROM email_queue ORDER BY id DESC")["subject"]
    deliver(maildir, mail(frm="Lead <lead@example.com>", subject="Re: " + subject, body="Unplug it."))
    process(cli)  # the admin's answer, relayed to the customer: the first answer
    deliver(maildir, mail(subject="Re: " + subject, body="It works, thanks"))
    process(cli)  # the customer again: relayed to the admin, the ticket open
    assert cli("tickets", "resolve", "1").exit_code == 0
    assert cli("tickets", "resolve", "1").exit_code == 0  # the same status again: no change to record
    assert changes(store) == [("new", "answered", 0), ("answered", "open", 0), ("open", "resolved", 0)]

    ticket = store.one("SELECT created_at FROM tickets")
    answer = store.one(
        "SELECT l.created_at FROM ticket_logs l JOIN email_queue q ON q.log_id = l.id"
        " WHERE q.purpose = 'relay' AND q.to_email = 'jane@customer.example'"
    )
    resolved = store.one("SELECT changed_at FROM ticket_status_changes WHERE new_status = 'resolved'")
    today = date.today()
    window = ("--since", (today - timedelta(days=1)).isoformat(), "--until", today.isoformat(), "--by", "day")
    data = json.loads(cli("report", *window, "--json").stdout)
    support = data["speed"][0]
    assert support["type"] == "Support" and len(data["speed"]) == 1
    answered, resolution = support["first_answer"], support["resolution"]
    assert answered["median_seconds"] == epoch(answer["created_at"]) - epoch(ticket["created_at"])
    assert 7200 <= answered["median_seconds"] < 7300  # not the notice, sent at once
    assert resolution["median_seconds"] == epoch(resolved["changed_at"]) - epoch(ticket["created_at"])
    assert (answered["count"], resolution["count"], support["resolution_estimated"]) == (1, 1, 0)
    assert sum(p["opened"] for p in data["volume"]) == 1
    assert data["mail_in"] == {"new_ticket": 1, "reply": 2}
    assert data["notes"] == []


def test_staff_reply_and_status_commands_record_their_changes(cli, store, maildir):
    deliver(maildir, mail())
    process(cli)
    assert cli("tickets", "reply", "1", "--message", "Try turning it off.").exit_code == 0
    assert cli("tickets", "status", "1", "waiting").exit_code == 0
    assert cli("tickets", "status", "1", "closed").exit_code == 0
    assert changes(store) == [("new", "answered", 0), ("answered", "waiting", 0), ("waiting", "closed", 0)]


def test_tickets_resolved_before_the_history_get_an_estimated_time(workdir, bare_cli):
    """A database made before the status history is migrated: each resolved or closed ticket
    gets one row at its last update, marked estimated; the report counts it and says so."""
    history = next(i for i, m in enumerate(MIGRATIONS) if "CREATE TABLE ticket_status_changes" in m)
    path = workdir / "ticketctl.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:history]:
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {history}")
    rows = [
        ("resolved", "2026-03-01T10:00:00Z", "2026-03-03T10:00:00Z"),  # 2 days
        ("closed", "2026-03-02T10:00:00Z", "2026-03-02T16:00:00Z"),  # 6 hours
        ("open", "2026-03-02T11:00:00Z", "2026-03-04T11:00:00Z"),
    ]
    conn.executemany("INSERT INTO tickets (status, created_at, updated_at) VALUES (?, ?, ?)", rows)
    conn.commit()
    conn.close()
    store = Store(path, workdir / "ticketctl-data")
    try:
        backfilled = store.query(
            "SELECT ticket_id, old_status, new_status, changed_at, estimated FROM ticket_status_changes"
            " ORDER BY ticket_id"
        )
        assert [tuple(r) for r in backfilled] == [
            (1, None, "resolved", "2026-03-03T10:00:00Z", 1),
            (2, None, "closed", "2026-03-02T16:00:00Z", 1),
        ]
    finally:
        store.close()
    result = bare_cli("report", "--since", "2026-03-01", "--until", "2026-03-07", "--json")
    every = json.loads(result.stdout)["speed"][-1]
    assert (every["resolution"]["count"], every["resolution_estimated"]) == (2, 2)
    assert every["resolution"]["median_seconds"] == (2 * 86400 + 6 * 3600) / 2
    text = bare_cli("report", "--since", "2026-03-01", "--until", "2026-03-07").stdout
    assert "2 resolution time(s) are estimated" in " ".join(text.split())


def test_default_window_is_eight_weeks_to_today(cli, store):
    data = json.loads(cli("report", "--json").stdout)
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday())
    assert data["window"]["until"] == today.isoformat()
    assert data["window"]["since"] == (monday - timedelta(weeks=7)).isoformat()
    assert [p["label"] for p in data["volume"]] == [(monday - timedelta(weeks=7 - i)).isoformat() for i in range(8)]
    months = json.loads(cli("report", "--by", "month", "--until", "2026-03-15", "--json").stdout)["volume"]
    assert [m["label"] for m in months][:3] == ["2025-04", "2025-05", "2025-06"] and len(months) == 12
    assert months[-1]["start"] == "2026-03-01" and months[-1]["end"] == "2026-03-15"
