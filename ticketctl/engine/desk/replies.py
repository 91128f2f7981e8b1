"""Staff replies to a ticket: one outgoing log, its attachments and one queued mail to the customer, all
in one transaction, threaded to the last message the customer sent."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ticketctl.engine.admin import canned as canned_responses
from ticketctl.engine.admin import tickettypes
from ticketctl.engine.config import Config
from ticketctl.engine.errors import ConfigError, NotFound
from ticketctl.engine.mail import tags
from ticketctl.engine.outbound import outbox
from ticketctl.engine.store import blobs
from ticketctl.engine.store.connection import Store, utcnow

MAX_REFERENCES = 10


@dataclass(frozen=True)
class ReplyResult:
    ticket_id: int
    log_id: int
    queue_id: int
    message_id: str
    to_email: str
    subject: str
    attachments: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _File:
    filename: str
    content_type: str
    payload: bytes


def reply(
    store: Store,
    config: Config,
    ticket_id: int,
    text: str | None = None,
    canned: str | None = None,
    attachments: list[Path] | None = None,
) -> ReplyResult:
    """Answer ticket `ticket_id` with `text` or the canned response `canned`, attaching `attachments`.

    Everything that can fail (the template, the files) is checked before anything is written.
    """
    if (text is None) == (canned is None):
        raise ConfigError("Give the reply as text or as a canned response, not both and not neither.")
    ticket = store.one("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
    if ticket is None:
        raise NotFound(f"There is no ticket {ticket_id}; `ticketctl tickets list` shows the ids.")
    if ticket["type_id"] is None:
        raise ConfigError(
            f"Ticket {ticket_id} has no ticket type, so it has no address to answer from; reassign it first."
        )
    ttype = tickettypes.get_by_id(store, ticket["type_id"])
    contact = store.one("SELECT * FROM contacts WHERE id = ?", (ticket["contact_id"],))
    to_email = contact["email"] if contact else ticket["from_email"]
    to_name = (contact["name"] if contact else "") or ticket["from_name"]
    if not to_email:
        raise ConfigError(f"Ticket {ticket_id} has no customer address to reply to.")
    subject, body = ticket["subject"], text or ""
    if canned is not None:
        response = canned_responses.get(store, canned)
        rendered_subject, body = canned_responses.render(response, _context(ticket, contact, ttype))
        subject = rendered_subject or subject
    files = [_read(Path(p)) for p in attachments or []]
    _check_size(config, body, files)
    shas = [blobs.save_blob(config.data_dir, "attachments", f.payload) for f in files]
    return _record(store, config, ticket, ttype, to_email, to_name, subject, body, files, shas)


def _record(
    store: Store,
    config: Config,
    ticket: Any,
    ttype: tickettypes.TicketType,
    to_email: str,
    to_name: str,
    subject: str,
    body: str,
    files: list[_File],
    shas: list[str],
) -> ReplyResult:
    ticket_id = ticket["id"]
    address = ttype.email_to[0]
    parent, references = _thread(store, ticket_id)
    now = utcnow()
    with store.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO ticket_logs (ticket_id, direction, from_email, from_name, to_email, to_name,"
            " receiver_contact_id, body_text, in_reply_to, created_at)"
            " VALUES (?, 'out', ?, ?, ?, ?, ?, ?, ?, ?)",
            (ticket_id, address, ttype.name, to_email, to_name, ticket["contact_id"], body, parent, now),
        )
        log_id = int(cur.lastrowid or 0)
        tagged = tags.make_subject(ttype.workflow_tag, ticket_id, log_id, subject)
        conn.execute("UPDATE ticket_logs SET subject = ? WHERE id = ?", (tagged, log_id))
        attachment_ids = []
        for f, sha in zip(files, shas, strict=True):
            cur = conn.execute(
                "INSERT INTO attachments (log_id, filename, content_type, size, sha256) VALUES (?, ?, ?, ?, ?)",
                (log_id, f.filename, f.content_type, len(f.payload), sha),
            )
            attachment_ids.append(int(cur.lastrowid or 0))
        queue_id, message_id = outbox.enqueue(
            conn,
            purpose="reply",
            to_email=to_email,
            to_name=to_name,
            subject=tagged,
            body_text=body,
            from_email=address,
            from_name=ttype.name,
            reply_to=address,
            ticket_id=ticket_id,
            log_id=log_id,
            in_reply_to=parent,
            references=references,
            attachment_ids=attachment_ids,
            auto_submitted=False,
            fallback_bounce_address=config.outbox.from_address,
        )
        conn.execute("UPDATE tickets SET status = 'answered', updated_at = ? WHERE id = ?", (now, ticket_id))
    return ReplyResult(ticket_id, log_id, queue_id, message_id, to_email, tagged, [f.filename for f in files])


def _thread(store: Store, ticket_id: int) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References): the customer's last message, after the ticket's earlier ones."""
    rows = store.query(
        "SELECT direction, message_id FROM ticket_logs WHERE ticket_id = ? AND message_id IS NOT NULL ORDER BY id",
        (ticket_id,),
    )
    inbound = [r["message_id"] for r in rows if r["direction"] == "in"]
    parent = inbound[-1] if inbound else (rows[-1]["message_id"] if rows else None)
    chain = [r["message_id"] for r in rows if r["message_id"] != parent]
    references = list(dict.fromkeys(chain))[-(MAX_REFERENCES - 1) :] + ([parent] if parent else [])
    return parent, references


def _context(ticket: Any, contact: Any, ttype: tickettypes.TicketType) -> dict[str, Any]:
    return {
        "ticket": {k: ticket[k] for k in ("id", "subject", "status", "from_email", "from_name", "created_at")},
        "contact": {
            "email": contact["email"] if contact else ticket["from_email"],
            "name": (contact["name"] if contact else "") or ticket["from_name"],
            "role": contact["role"] if contact else "contact",
        },
        "type": {
            "name": ttype.name,
            "workflow_tag": ttype.workflow_tag,
            "task": ttype.task,
            "description": ttype.description,
        },
    }


def _read(path: Path) -> _File:
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read the attachment {path} ({exc.strerror}); check the path.") from exc
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return _File(path.name, content_type, payload)


def _check_size(config: Config, body: str, files: list[_File]) -> None:
    total = len(body.encode()) + sum(len(f.payload) for f in files) * 4 // 3
    if total > config.limits.max_message_bytes:
        raise ConfigError(
            f"The reply would be about {total // 1024} KiB, over the limit of "
            f"{config.limits.max_message_bytes // 1024} KiB (limits.max_message_bytes); attach less."
        )
