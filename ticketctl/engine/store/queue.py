"""The `email_queue` table: every outgoing mail is first a row, written in the transaction of the ticket
log that caused it; delivery claims rows (pending → sending), then marks them sent or failed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from ticketctl.engine.enums import QueueStatus
from ticketctl.engine.store.connection import Store, utcnow


@dataclass(frozen=True)
class NewMail:
    """A complete queue row as the writer makes it (its id allocated with `next_id`)."""

    ticket_id: int | None
    log_id: int | None
    purpose: str
    from_email: str
    from_name: str
    to_email: str
    to_name: str
    cc: str
    reply_to: str | None
    subject: str
    body_text: str
    body_html: str | None
    message_id: str
    in_reply_to: str | None
    references: str
    envelope_from: str
    attachments: tuple[int, ...]
    auto_submitted: bool


@dataclass(frozen=True)
class QueueRow(NewMail):
    """A queued mail as stored, with how its delivery stands."""

    id: int
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    created_at: str
    sent_at: str | None

    @property
    def next_try(self) -> str | None:
        """When the next attempt is due, for rows that will be tried again."""
        return self.next_attempt_at if self.status in (QueueStatus.PENDING, QueueStatus.SENDING) else None

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["attachments"] = list(self.attachments)
        data["next_try"] = self.next_try
        return data


def _row(row: Any) -> QueueRow:
    data = dict(row)
    data["references"] = data.pop("references_") or ""
    data["envelope_from"] = data["envelope_from"] or ""
    data["attachments"] = tuple(json.loads(data["attachments"] or "[]"))
    data["auto_submitted"] = bool(data["auto_submitted"])
    return QueueRow(**data)


def next_id(store: Store) -> int:
    """The id the next row will get (only inside a write transaction: the VERP envelope names it)."""
    assert store.in_transaction, "queue ids are allocated inside the transaction that queues the mail"
    row = store.one("SELECT coalesce(max(id), 0) + 1 FROM email_queue")
    return int(row[0]) if row else 1


def add(store: Store, queue_id: int, mail: NewMail) -> None:
    now = utcnow()
    store.conn.execute(
        "INSERT INTO email_queue (id, ticket_id, log_id, purpose, from_email, from_name, to_email, to_name,"
        " cc, reply_to, subject, body_text, body_html, message_id, in_reply_to, references_, envelope_from,"
        " attachments, auto_submitted, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            queue_id,
            mail.ticket_id,
            mail.log_id,
            mail.purpose,
            mail.from_email,
            mail.from_name,
            mail.to_email,
            mail.to_name,
            mail.cc,
            mail.reply_to,
            mail.subject,
            mail.body_text,
            mail.body_html,
            mail.message_id,
            mail.in_reply_to,
            mail.references,
            mail.envelope_from,
            json.dumps(list(mail.attachments)),
            int(mail.auto_submitted),
            now,
            now,
        ),
    )


def get(store: Store, queue_id: int) -> QueueRow | None:
    row = store.one("SELECT * FROM email_queue WHERE id = ?", (queue_id,))
    return _row(row) if row else None


def with_message_id(store: Store, message_id: str) -> QueueRow | None:
    row = store.one("SELECT * FROM email_queue WHERE message_id = ?", (message_id,))
    return _row(row) if row else None


def rows(store: Store, status: str | None = None, limit: int | None = None, offset: int = 0) -> list[QueueRow]:
    """Rows newest first, optionally of one status, `offset` rows skipped."""
    sql = "SELECT * FROM email_queue"
    params: list[Any] = []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
    params += [limit or -1, offset]
    return [_row(r) for r in store.query(sql, params)]


def count_rows(store: Store, status: str | None, cap: int) -> int:
    """How many rows (of one status), counted up to `cap`."""
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    row = store.one(f"SELECT count(*) AS n FROM (SELECT 1 FROM email_queue {where} LIMIT ?)", [*params, cap])  # noqa: S608
    return int(row["n"]) if row else 0


def failed_ids(store: Store) -> list[int]:
    return [r["id"] for r in store.query("SELECT id FROM email_queue WHERE status = 'failed' ORDER BY id")]


def make_due(store: Store, queue_id: int, now: str) -> None:
    """Due now with a fresh count of attempts (never a row that was sent)."""
    store.conn.execute(
        "UPDATE email_queue SET status = 'pending', attempts = 0, next_attempt_at = ?"
        " WHERE id = ? AND status != 'sent'",
        (now, queue_id),
    )


# --- delivery --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A row to send, without its content (the content is read a claimed batch at a time)."""

    id: int
    status: str
    attempts: int
    next_attempt_at: str


def due(store: Store, now: str, limit: int | None = None) -> list[Due]:
    """Rows to send now: pending and due, or left `sending` by a run that died."""
    sql = (
        "SELECT id, status, attempts, next_attempt_at FROM email_queue"
        " WHERE status IN ('pending', 'sending') AND next_attempt_at <= ? ORDER BY next_attempt_at, id"
    )
    params: list[object] = [now]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [Due(**dict(r)) for r in store.query(sql, params)]


def claim(store: Store, rows: list[Due], stale_at: str) -> list[QueueRow]:
    """pending → sending for rows still as `due` saw them (another run may have taken some), with an
    attempt counted and `stale_at` as the time after which a crashed claim is due again. One commit;
    returns the claimed rows as they are now."""
    with store.transaction() as conn:
        taken = [
            row.id
            for row in rows
            if conn.execute(
                "UPDATE email_queue SET status = 'sending', attempts = attempts + 1, next_attempt_at = ?"
                " WHERE id = ? AND status = ? AND next_attempt_at = ?",
                (stale_at, row.id, row.status, row.next_attempt_at),
            ).rowcount
            == 1
        ]
    marks = ", ".join("?" * len(taken))
    return [_row(r) for r in store.query(f"SELECT * FROM email_queue WHERE id IN ({marks}) ORDER BY id", taken)]  # noqa: S608


def count_attempt(store: Store, row: Due) -> bool:
    """One more attempt on a row not claimed (the run stopped before it); False if another run has it."""
    with store.transaction() as conn:
        cur = conn.execute(
            "UPDATE email_queue SET attempts = attempts + 1 WHERE id = ? AND status = ? AND next_attempt_at = ?",
            (row.id, row.status, row.next_attempt_at),
        )
    return cur.rowcount == 1


def mark_sent(store: Store, queue_ids: list[int], at: str) -> None:
    with store.transaction() as conn:
        conn.executemany(
            "UPDATE email_queue SET status = 'sent', sent_at = ?, last_error = NULL WHERE id = ?",
            [(at, queue_id) for queue_id in queue_ids],
        )


def mark_failed(store: Store, queue_id: int, error: str, *, final: bool, next_attempt_at: str) -> None:
    """A failed attempt: `failed` for good when `final`, else pending again from `next_attempt_at`."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE email_queue SET status = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
            (QueueStatus.FAILED if final else QueueStatus.PENDING, error, next_attempt_at, queue_id),
        )


# --- health ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueCounts:
    by_status: dict[str, int]
    overdue: int  # pending and due before the moment asked about
    oldest_pending_at: str | None


def counts(store: Store, overdue_before: str) -> QueueCounts:
    by_status = {
        r["status"]: r["n"] for r in store.query("SELECT status, count(*) AS n FROM email_queue GROUP BY status")
    }
    overdue = store.one(
        "SELECT count(*) AS n FROM email_queue WHERE status = 'pending' AND next_attempt_at < ?", (overdue_before,)
    )
    oldest = store.one("SELECT min(created_at) AS at FROM email_queue WHERE status = 'pending'")
    return QueueCounts(by_status, overdue["n"] if overdue else 0, oldest["at"] if oldest else None)
