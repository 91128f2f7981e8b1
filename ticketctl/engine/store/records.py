"""Writing tickets, their logs and attachments, inside the caller's transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ticketctl.engine.mail.message import Attachment
from ticketctl.engine.store import blobs
from ticketctl.engine.store.connection import utcnow


def new_ticket(
    conn: sqlite3.Connection,
    *,
    type_id: int | None,
    mailbox_id: int | None,
    contact_id: int | None,
    kind: str,
    subject: str,
    from_email: str,
    from_name: str,
    error_reason: str | None = None,
) -> int:
    now = utcnow()
    cur = conn.execute(
        "INSERT INTO tickets (type_id, mailbox_id, contact_id, kind, status, subject, from_email, from_name,"
        " error_reason, created_at, updated_at) VALUES (?, ?, ?, ?, 'new', ?, ?, ?, ?, ?, ?)",
        (
            type_id,
            mailbox_id,
            contact_id,
            kind,
            subject,
            from_email.lower(),
            from_name,
            error_reason,
            now,
            now,
        ),
    )
    return int(cur.lastrowid or 0)


def add_log(
    conn: sqlite3.Connection,
    *,
    ticket_id: int,
    direction: str,
    from_email: str = "",
    from_name: str = "",
    to_email: str = "",
    to_name: str = "",
    receiver_contact_id: int | None = None,
    cc: str = "",
    subject: str = "",
    body_text: str = "",
    body_html: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    ledger_id: int | None = None,
) -> int:
    cur = conn.execute(
        "INSERT INTO ticket_logs (ticket_id, direction, from_email, from_name, to_email, to_name,"
        " receiver_contact_id, cc, subject, body_text, body_html, message_id, in_reply_to, ledger_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            ticket_id,
            direction,
            from_email.lower(),
            from_name,
            to_email.lower(),
            to_name,
            receiver_contact_id,
            cc,
            subject,
            body_text,
            body_html,
            message_id,
            in_reply_to,
            ledger_id,
            utcnow(),
        ),
    )
    return int(cur.lastrowid or 0)


def set_receiver(conn: sqlite3.Connection, log_id: int, email: str, name: str, contact_id: int | None) -> None:
    conn.execute(
        "UPDATE ticket_logs SET to_email = ?, to_name = ?, receiver_contact_id = ? WHERE id = ?",
        (email.lower(), name, contact_id, log_id),
    )


def add_attachments(conn: sqlite3.Connection, data_dir: Path, log_id: int, attachments: list[Attachment]) -> list[int]:
    ids = []
    for attachment in attachments:
        if attachment.file is not None:  # decoded to a scratch file while parsing: linked into place
            sha = attachment.file.sha256
            blobs.save_blob_file(data_dir, "attachments", attachment.file.path, sha, attachment.file.size)
        else:
            sha = blobs.save_blob(data_dir, "attachments", attachment.payload)
        cur = conn.execute(
            "INSERT INTO attachments (log_id, filename, content_type, size, sha256, content_id, inline)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                log_id,
                attachment.filename,
                attachment.content_type,
                attachment.size,
                sha,
                attachment.content_id,
                int(attachment.inline),
            ),
        )
        ids.append(int(cur.lastrowid or 0))
    return ids


def touch_ticket(conn: sqlite3.Connection, ticket_id: int, status: str | None = None) -> None:
    if status:
        conn.execute("UPDATE tickets SET status = ?, updated_at = ? WHERE id = ?", (status, utcnow(), ticket_id))
    else:
        conn.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", (utcnow(), ticket_id))
