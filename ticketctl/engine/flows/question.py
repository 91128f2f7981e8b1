"""The question flow (task `simple_storage`): a relay between a customer and the type's admin.

A new ticket notifies the admin. The admin's (or the forward address's) reply goes to the customer,
Cc the people the customer copied, and the ticket is `answered`; anyone else's reply goes to the admin
and the ticket is `open`. Only the reply's new words travel (mail/quotes.py cuts the quoted history,
the signature and any copy of a mail we sent on the ticket; the log keeps the whole mail): the relay
names who wrote them, never a staff member's own address.
"""

from __future__ import annotations

from ticketctl.engine.enums import TicketStatus
from ticketctl.engine.flows import notices
from ticketctl.engine.flows.flow import FlowContext, Received
from ticketctl.engine.mail import addresses, quotes, tags
from ticketctl.engine.outbound import writer
from ticketctl.engine.outbound.contexts import Person, RelayMail, TicketFacts, TypeFacts
from ticketctl.engine.outbound.writer import MailSpec, Party
from ticketctl.engine.store import contacts, tickets
from ticketctl.engine.store.tickets import TicketRecord
from ticketctl.engine.store.types import TicketType

new_ticket = notices.new_ticket


def reply(ctx: FlowContext, ticket: TicketRecord, received: Received) -> TicketStatus:
    t, msg = ctx.ticket_type, received.msg
    author = msg.from_
    staff = {addresses.routing_key(a) for a in (t.admin_email, t.email_forward) if a}
    cc: tuple[str, ...] = ()
    if author is not None and addresses.routing_key(author.email) in staff:
        to = Party(ticket.from_email, ticket.from_name, ticket.contact_id)
        cc = notices.answer_cc(ctx.store, t, ticket)
        shown, status = Person(author.name or t.name, t.address), TicketStatus.ANSWERED
    else:
        admin = t.admin_email or t.address
        to = Party(admin, "", contacts.upsert(ctx.store, admin, role="admin"))
        shown = Person(author.name, author.email) if author else Person("", ticket.from_email)
        status = TicketStatus.OPEN
    tickets.set_receiver(ctx.store, received.log_id, to.email, to.name, to.contact_id)
    if ctx.notify:
        writer.write(
            ctx.store,
            ctx.config,
            MailSpec(
                ticket_id=ticket.id,
                tag=t.workflow_tag,
                to=to,
                sender=notices.type_party(t),
                reply_to=t.address,
                cc=cc,
                attachment_ids=received.attachment_ids,
                automatic=False,  # a person's words, passed on
            ),
            RelayMail(
                ticket=TicketFacts.of(ticket),
                type=TypeFacts.of(t),
                subject=tags.strip(msg.subject) or ticket.subject,
                body=quotes.new_text(msg.body_text, tickets.sent_texts(ctx.store, ticket.id), msg.history),
                sender=shown,
            ),
        )
    return status


def reassigned(ctx: FlowContext, ticket: TicketRecord, previous: TicketType | None, note: str) -> None:
    notices.reassigned(ctx, ticket, previous, note)
