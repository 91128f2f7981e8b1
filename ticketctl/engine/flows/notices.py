"""What a flow tells a ticket type's admin: a new ticket, a reassigned one; and who gets a ticket's
answers in Cc. Flows (and staff replies) share these.

A notice quotes at most NOTICE_TEXT characters of the question, and leaves out the file that holds the
whole of a long text (mail/mimespool.py): the rest is one command away, `ticketctl tickets show`.
"""

from __future__ import annotations

from email.utils import formataddr

from ticketctl.engine.enums import ParticipantRole
from ticketctl.engine.flows.flow import FlowContext, Received
from ticketctl.engine.mail import addresses
from ticketctl.engine.outbound import writer
from ticketctl.engine.outbound.contexts import NewTicketMail, Person, ReassignedMail, TicketFacts, TypeFacts
from ticketctl.engine.outbound.writer import MailSpec, Party
from ticketctl.engine.store import contacts, participants, tickets
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.tickets import TicketRecord
from ticketctl.engine.store.types import TicketType

NOTICE_TEXT = 64 * 1024


def type_party(ticket_type: TicketType) -> Party:
    """The type as a sender: its own address under its name."""
    return Party(ticket_type.address, ticket_type.name)


def answer_cc(store: Store, ticket_type: TicketType, ticket: TicketRecord) -> tuple[str, ...]:
    """Who gets the answers to the ticket's customer in Cc: the people the customer copied, while the
    type lets them take part."""
    if not ticket_type.cc_participants:
        return ()
    customer = addresses.routing_key(ticket.from_email)
    return tuple(
        formataddr((p.name, p.email))
        for p in participants.of_ticket(store, ticket.id)
        if p.role == ParticipantRole.CC and addresses.routing_key(p.email) != customer
    )


def admin_party(ctx: FlowContext) -> Party | None:
    admin = ctx.ticket_type.admin_email
    return Party(admin, "", contacts.upsert(ctx.store, admin, role="admin")) if admin else None


def notice_spec(ctx: FlowContext, ticket: TicketRecord, to: Party, attachment_ids: tuple[int, ...]) -> MailSpec:
    """A mail to the admin about a ticket: Reply-To the type (their answer comes back and threads into
    the ticket), the forward address in Cc, the ticket's attachments along."""
    t = ctx.ticket_type
    return MailSpec(
        ticket_id=ticket.id,
        tag=t.workflow_tag,
        to=to,
        sender=type_party(t),
        reply_to=t.address,
        cc=(t.email_forward,) if t.email_forward else (),
        attachment_ids=attachment_ids,
    )


def new_ticket(ctx: FlowContext, ticket: TicketRecord, received: Received) -> None:
    """Tell the admin (if the type has one) that a ticket arrived, from whom (its customer), with the
    question and its attachments."""
    admin = admin_party(ctx)
    if admin is None:
        return
    tickets.set_receiver(ctx.store, received.log_id, admin.email, admin.name, admin.contact_id)
    if not ctx.notify:
        return
    files = zip(received.attachment_ids, received.msg.attachments, strict=True)
    attached = tuple(i for i, attachment in files if not attachment.whole_text)
    writer.write(
        ctx.store,
        ctx.config,
        notice_spec(ctx, ticket, admin, attached),
        NewTicketMail(
            ticket=TicketFacts.of(ticket),
            type=TypeFacts.of(ctx.ticket_type),
            subject=ticket.subject,
            body=quoted(received.msg.body_text, ticket.id),
            sender=Person(ticket.from_name, ticket.from_email),  # the customer: a web form's Reply-To
        ),
    )


def reassigned(ctx: FlowContext, ticket: TicketRecord, previous: TicketType | None, note: str) -> None:
    """Tell the admin of the ticket's new type, with the original question and its attachments."""
    admin = admin_party(ctx)
    if admin is None:
        return
    first = tickets.first_message(ctx.store, ticket.id)
    writer.write(
        ctx.store,
        ctx.config,
        notice_spec(ctx, ticket, admin, first.attachment_ids if first else ()),
        ReassignedMail(
            ticket=TicketFacts.of(ticket),
            type=TypeFacts.of(ctx.ticket_type),
            subject=ticket.subject,
            body=quoted(first.body_text, ticket.id) if first else "",
            sender=Person(ticket.from_name, ticket.from_email),
            previous_type=TypeFacts.of(previous) if previous else None,
            note=note,
        ),
    )


def quoted(text: str, ticket_id: int) -> str:
    """The question as a notice quotes it: whole, or its first NOTICE_TEXT characters (cut at a line
    end when there is one near) and where the rest is."""
    if len(text) <= NOTICE_TEXT:
        return text
    cut = text.rfind("\n", NOTICE_TEXT // 2, NOTICE_TEXT)
    shown = text[: cut if cut > 0 else NOTICE_TEXT].rstrip()
    rest = len(text) - len(shown)
    return f"{shown}\n\n[... {rest:,} more characters: `ticketctl tickets show {ticket_id}` shows the whole text.]\n"
