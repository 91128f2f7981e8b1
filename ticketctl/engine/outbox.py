"""The email queue: every outgoing mail is first a row, written in the same transaction as the
ticket log that caused it; a sender drains the queue later.

(First version: queueing only. Rendering with Jinja2 templates and the senders come with the
outbound-mail work.)
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass

from ticketctl.engine.store import utcnow


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None = None


def render(template: str, context: dict[str, object]) -> Rendered:
    """Render one of the engine's own mails (placeholder until the Jinja2 templates land)."""
    subject = str(context.get("subject", ""))
    body = str(context.get("body", ""))
    return Rendered(subject=subject, text=body)


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
) -> tuple[int, str]:
    """Queue one mail inside the caller's transaction; returns (queue id, Message-ID).

    The Message-ID is fixed here, so a resend after a crash is the same message; it is also written
    on the ticket log `log_id` so that replies thread back.
    """
    message_id = f"{secrets.token_hex(8)}@ticketctl"
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
            in_reply_to,
            " ".join(f"<{r}>" for r in references or []),
            json.dumps(attachment_ids or []),
            int(auto_submitted),
            utcnow(),
            utcnow(),
        ),
    )
    if log_id is not None:
        conn.execute("UPDATE ticket_logs SET message_id = ? WHERE id = ?", (message_id, log_id))
    return int(cur.lastrowid or 0), message_id
