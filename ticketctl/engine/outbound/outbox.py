"""The email queue: every outgoing mail is first a row, written in the same transaction as the
ticket log that caused it; `drain` (outbound/delivery.py) sends the rows that are due.

This module owns the rows: rendering a mail from a template, queueing it with a signed Message-ID and a
VERP envelope sender, listing, showing and pushing rows for a retry.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ticketctl.engine.errors import ConfigError, NotFound
from ticketctl.engine.mail import msgid
from ticketctl.engine.outbound.templating import Rendered, render_mail
from ticketctl.engine.store.connection import Store, utcnow

if TYPE_CHECKING:
    from datetime import datetime

    from ticketctl.engine.config import Config
    from ticketctl.engine.outbound.delivery import DrainReport

__all__ = ["Rendered", "render", "enqueue", "drain", "QueueRow", "list_rows", "get", "retry"]

STATUSES = ("pending", "sending", "sent", "failed")


def render(template: str, context: Mapping[str, Any], *, templates_dir: Path | None = None) -> Rendered:
    """Render one of the engine's own mails (templates/NAME.subject, .txt, .html; see templates/README.md).

    `templates_dir` (config.templates_dir) holds overrides by file name.
    """
    return render_mail(template, context, templates_dir)


def drain(
    store: Store, config: Config, now: datetime | None = None, limit: int | None = None, **options: Any
) -> DrainReport:
    """Send the rows that are due (see outbound/delivery.py); `ticketctl process` calls this after ingesting."""
    from ticketctl.engine.outbound import delivery

    return delivery.drain(store, config, now, limit, **options)


def installation_secret(conn: sqlite3.Connection) -> str:
    """The per-installation secret read through a connection (made on first use, inside the caller's
    transaction if there is one); same value as `Store.installation_secret()`."""
    row = conn.execute("SELECT value FROM settings WHERE key = 'installation_secret'").fetchone()
    if row is None:
        conn.execute(
            "INSERT OR IGNORE INTO settings (key, value) VALUES ('installation_secret', ?)",
            (secrets.token_hex(32),),
        )
        row = conn.execute("SELECT value FROM settings WHERE key = 'installation_secret'").fetchone()
    return str(row[0])


def bounce_address(conn: sqlite3.Connection) -> str | None:
    """The first address of the active bounce_back type: where VERP envelope senders point."""
    row = conn.execute(
        "SELECT email_to FROM ticket_types WHERE task = 'bounce_back' AND active = 1 ORDER BY id LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    addresses = json.loads(row[0])
    return addresses[0] if addresses else None


def enqueue(
    conn: sqlite3.Connection,
    *,
    purpose: str,
    to_email: str,
    subject: str,
    body_text: str,
    from_email: str,
    ticket_id: int | None = None,
    log_id: int | None = None,
    to_name: str = "",
    from_name: str = "",
    cc: str = "",
    reply_to: str | None = None,
    body_html: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    attachment_ids: list[int] | None = None,
    auto_submitted: bool = True,
    secret: str | None = None,
    fallback_bounce_address: str | None = None,
) -> tuple[int, str]:
    """Queue one mail inside the caller's transaction; returns (queue id, Message-ID without brackets).

    The Message-ID is fixed here (a resend after a crash is the same message), signed with the
    installation secret (read through `conn` unless given) and written on the ticket log `log_id` so
    that replies thread back. The envelope sender is a VERP address at the active bounce_back type's
    address, else at `fallback_bounce_address`, else at `from_email`.
    """
    secret = secret or installation_secret(conn)
    message_id = msgid.make_message_id(secret, ticket_id, log_id, msgid.domain_of(from_email))
    now = utcnow()
    cur = conn.execute(
        "INSERT INTO email_queue (ticket_id, log_id, purpose, from_email, from_name, to_email, to_name,"
        " cc, reply_to, subject, body_text, body_html, message_id, in_reply_to, references_,"
        " attachments, auto_submitted, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            ticket_id,
            log_id,
            purpose,
            from_email,
            from_name,
            to_email,
            to_name,
            cc,
            reply_to,
            subject,
            body_text,
            body_html,
            message_id,
            _bare(in_reply_to) if in_reply_to else None,
            " ".join(f"<{_bare(r)}>" for r in references or [] if r),
            json.dumps(attachment_ids or []),
            int(auto_submitted),
            now,
            now,
        ),
    )
    queue_id = int(cur.lastrowid or 0)
    base = bounce_address(conn) or fallback_bounce_address or from_email
    conn.execute(
        "UPDATE email_queue SET envelope_from = ? WHERE id = ?",
        (msgid.make_verp(secret, queue_id, base), queue_id),
    )
    if log_id is not None:
        conn.execute("UPDATE ticket_logs SET message_id = ? WHERE id = ?", (message_id, log_id))
    return queue_id, message_id


def _bare(mid: str) -> str:
    return mid.strip().strip("<>").strip()


@dataclass(frozen=True)
class QueueRow:
    id: int
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
    references_: str
    envelope_from: str | None
    attachments: tuple[int, ...]
    auto_submitted: bool
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    created_at: str
    sent_at: str | None

    @property
    def next_try(self) -> str | None:
        """When the next attempt is due, for rows that will be tried again."""
        return self.next_attempt_at if self.status in ("pending", "sending") else None

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["references"] = data.pop("references_")
        data["attachments"] = list(self.attachments)
        data["next_try"] = self.next_try
        return data


def from_row(row: Any) -> QueueRow:
    data = dict(row)
    data["attachments"] = tuple(json.loads(data["attachments"] or "[]"))
    data["auto_submitted"] = bool(data["auto_submitted"])
    return QueueRow(**data)


def list_rows(store: Store, status: str | None = None, limit: int | None = None) -> list[QueueRow]:
    """Queue rows, newest first, optionally of one status."""
    if status is not None and status not in STATUSES:
        raise ConfigError(f"'{status}' is not a queue status; expected one of: {', '.join(STATUSES)}.")
    sql = "SELECT * FROM email_queue"
    params: list[Any] = []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    sql += " ORDER BY id DESC"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return [from_row(r) for r in store.query(sql, params)]


def get(store: Store, queue_id: int) -> QueueRow:
    row = store.one("SELECT * FROM email_queue WHERE id = ?", (queue_id,))
    if row is None:
        raise NotFound(f"There is no queued mail {queue_id}; `ticketctl queue list` shows the ids.")
    return from_row(row)


def retry(store: Store, queue_id: int | None = None, *, all_failed: bool = False) -> list[int]:
    """Make a failed or waiting row (or every failed row) due now, with a fresh count of attempts.

    Returns the ids pushed. A sent row is refused: sending it again would deliver it twice.
    """
    if all_failed:
        ids = [r["id"] for r in store.query("SELECT id FROM email_queue WHERE status = 'failed' ORDER BY id")]
    elif queue_id is not None:
        row = get(store, queue_id)
        if row.status == "sent":
            raise ConfigError(f"Mail {queue_id} was already sent at {row.sent_at}; it is not sent twice.")
        ids = [row.id]
    else:
        raise ConfigError("Name a queue id to retry, or use --all-failed.")
    with store.transaction() as conn:
        for qid in ids:
            conn.execute(
                "UPDATE email_queue SET status = 'pending', attempts = 0, next_attempt_at = ?"
                " WHERE id = ? AND status != 'sent'",
                (utcnow(), qid),
            )
    return ids
