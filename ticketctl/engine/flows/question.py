"""The flows a ticket type's task selects: who receives what when a ticket opens or a reply arrives.

The question relay (`simple_storage`): a new ticket notifies the type's admin (flows/notices.py);
the admin's reply is relayed to the customer, the customer's reply to the admin.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ticketctl.engine.admin.tickettypes import TicketType
from ticketctl.engine.config import Config
from ticketctl.engine.mail import addresses, tags
from ticketctl.engine.mail.message import ParsedMessage
from ticketctl.engine.outbound import outbox
from ticketctl.engine.store import contacts, records


@dataclass(frozen=True)
class FlowContext:
    conn: sqlite3.Connection
    config: Config
    notify: bool  # False while taking in a backlog: tickets, but no mail


@dataclass(frozen=True)
class Receiver:
    email: str
    name: str
    contact_id: int | None


def type_address(ticket_type: TicketType) -> str:
    return ticket_type.email_to[0]


def relay_reply(
    ctx: FlowContext,
    ticket_type: TicketType,
    ticket_id: int,
    log_id: int,
    msg: ParsedMessage,
    customer: Receiver,
    attachment_ids: list[int],
) -> str:
    """Relay a reply to the other side of the conversation; returns the ticket's new status."""
    sender = addresses.routing_key(msg.from_.email) if msg.from_ else ""
    staff = {addresses.routing_key(a) for a in (ticket_type.admin_email, ticket_type.email_forward) if a}
    if sender in staff:
        receiver, status = customer, "answered"
    else:
        admin = ticket_type.admin_email or type_address(ticket_type)
        receiver, status = Receiver(admin, "", contacts.upsert(ctx.conn, admin, role="admin")), "open"
    records.set_receiver(ctx.conn, log_id, receiver.email, receiver.name, receiver.contact_id)
    _queue(
        ctx,
        ticket_type,
        ticket_id,
        log_id,
        receiver,
        "relay",
        msg.subject,
        msg.body_text,
        msg.from_.email if msg.from_ else "",
        msg.from_.name if msg.from_ else "",
        attachment_ids,
        auto_submitted=False,
    )
    return status


def _queue(
    ctx: FlowContext,
    ticket_type: TicketType,
    ticket_id: int,
    log_id: int,
    receiver: Receiver,
    purpose: str,
    subject: str,
    text: str,
    from_email: str,
    from_name: str,
    attachment_ids: list[int],
    auto_submitted: bool,
) -> int:
    if not ctx.notify:
        return 0
    tagged = tags.make_subject(ticket_type.workflow_tag, ticket_id, log_id, subject)
    rendered = outbox.render(
        purpose,
        {
            "subject": tagged,
            "body": text,
            "text": text,
            "ticket_id": ticket_id,
            "log_id": log_id,
            "type_name": ticket_type.name,
            "tag": ticket_type.workflow_tag,
            "original_subject": tags.strip(subject),
            "from_email": from_email,
            "from_name": from_name,
            "receiver_email": receiver.email,
        },
        templates_dir=ctx.config.templates_dir,
    )
    previous = ctx.conn.execute(
        "SELECT message_id FROM ticket_logs WHERE ticket_id = ? AND direction = 'out' AND to_email = ?"
        " AND message_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        (ticket_id, receiver.email.lower()),
    ).fetchone()
    out_log = records.add_log(
        ctx.conn,
        ticket_id=ticket_id,
        direction="out",
        from_email=type_address(ticket_type),
        from_name=ticket_type.name,
        to_email=receiver.email,
        to_name=receiver.name,
        receiver_contact_id=receiver.contact_id,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
    )
    queue_id, _ = outbox.enqueue(
        ctx.conn,
        purpose=purpose,
        to_email=receiver.email,
        to_name=receiver.name,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        from_email=type_address(ticket_type),
        from_name=ticket_type.name,
        reply_to=type_address(ticket_type),
        ticket_id=ticket_id,
        log_id=out_log,
        in_reply_to=previous[0] if previous else None,
        references=[previous[0]] if previous else None,
        attachment_ids=attachment_ids,
        auto_submitted=auto_submitted,
    )
    return queue_id
