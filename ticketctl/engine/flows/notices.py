"""The mails the engine writes about a ticket, as ticket logs plus email queue rows.

`queue_new_ticket_notice` is what a new ticket of a type sends its admin; the pipeline calls it for a
new ticket and `tickets.reassign` for an invalid ticket given a type, so both send the same mail.
"""

from __future__ import annotations

import sqlite3

from ticketctl.engine.admin import tickettypes
from ticketctl.engine.config import Config
from ticketctl.engine.errors import ConfigError, NotFound
from ticketctl.engine.mail import tags
from ticketctl.engine.outbound import outbox
from ticketctl.engine.store.connection import Store, utcnow


def queue_new_ticket_notice(
    conn: sqlite3.Connection, store: Store, config: Config, ticket_id: int, purpose: str = "new_ticket"
) -> tuple[int, int]:
    """Inside the caller's transaction: write an outgoing log to the type's admin and queue the mail.

    The subject is `[Tag #ticket-log] original subject`, Reply-To is the type's first address (so the
    admin's answer comes back through the type's mailbox and threads into the ticket), the body is the
    original text, the original's attachments go along, and `email_forward` gets a copy (Cc).
    Returns (log id, queue id).
    """
    ticket = conn.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    if ticket is None:
        raise NotFound(f"There is no ticket {ticket_id}.")
    if ticket["type_id"] is None:
        raise ConfigError(f"Ticket {ticket_id} has no type, so there is nobody to notify about it.")
    ticket_type = tickettypes.get_by_id(store, ticket["type_id"])
    if not ticket_type.admin_email:
        raise ConfigError(
            f"Ticket type '{ticket_type.name}' has no admin email, so nobody can be told about ticket "
            f"{ticket_id}; set one with `ticketctl type edit '{ticket_type.name}' --admin-email ADDRESS`."
        )
    original = conn.execute(
        "SELECT * FROM ticket_logs WHERE ticket_id = ? AND direction = 'in' ORDER BY id LIMIT 1", (ticket_id,)
    ).fetchone()
    text = original["body_text"] if original else ""
    attachment_ids = (
        [r[0] for r in conn.execute("SELECT id FROM attachments WHERE log_id = ? ORDER BY id", (original["id"],))]
        if original
        else []
    )
    admin = conn.execute("SELECT id, name FROM contacts WHERE email = ?", (ticket_type.admin_email,)).fetchone()
    sender = config.outbox.from_address
    now = utcnow()
    log_id = int(
        conn.execute(
            "INSERT INTO ticket_logs (ticket_id, direction, from_email, to_email, to_name,"
            " receiver_contact_id, cc, created_at) VALUES (?, 'out', ?, ?, ?, ?, ?, ?)",
            (
                ticket_id,
                sender,
                ticket_type.admin_email,
                admin["name"] if admin else "",
                admin["id"] if admin else None,
                ticket_type.email_forward or "",
                now,
            ),
        ).lastrowid
        or 0
    )
    rendered = outbox.render(
        "new_ticket",
        {
            "subject": tags.make_subject(ticket_type.workflow_tag, ticket_id, log_id, ticket["subject"]),
            "body": text,
            "original_subject": ticket["subject"],
            "ticket_id": ticket_id,
            "log_id": log_id,
            "type": ticket_type.name,
            "workflow_tag": ticket_type.workflow_tag,
            "from_email": ticket["from_email"],
            "from_name": ticket["from_name"],
            "purpose": purpose,
        },
        templates_dir=config.templates_dir,
    )
    conn.execute(
        "UPDATE ticket_logs SET subject = ?, body_text = ?, body_html = ? WHERE id = ?",
        (rendered.subject, rendered.text, rendered.html, log_id),
    )
    queue_id, _ = outbox.enqueue(
        conn,
        purpose=purpose,
        to_email=ticket_type.admin_email,
        to_name=admin["name"] if admin else "",
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        from_email=sender,
        ticket_id=ticket_id,
        log_id=log_id,
        cc=ticket_type.email_forward or "",
        reply_to=ticket_type.email_to[0],
        attachment_ids=attachment_ids,
    )
    return log_id, queue_id
