"""A reply carrying a valid `[Tag #T-L]` joins ticket T — if its sender takes part in that ticket.

A tag is trusted only when ticket T exists, log L belongs to it, and the tag word is the ticket
type's; a guessed or copied tag from a stranger is refused, so nobody can write into someone
else's conversation.
"""

from __future__ import annotations

from ticketctl.engine.enums import Disposition
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail import addresses, tags
from ticketctl.engine.mail.message import ParsedMessage
from ticketctl.engine.store.tickets import TicketRecord

NAME = "subject-tag"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    found = tagged(msg, view)
    if found is None:
        return None
    ticket, tag = found
    return participant_decision(msg, view, ticket.id, NAME, f"subject tag {tag}")


def tagged(msg: ParsedMessage, view: RuleView) -> tuple[TicketRecord, tags.Tag] | None:
    """The ticket the first trusted tag of the subject names, with that tag."""
    for tag in tags.find(msg.subject):
        ticket = view.ticket(tag.ticket_id)
        if ticket is None or view.ticket_of_log(tag.log_id) != ticket.id:
            continue
        ticket_type = view.type_by_id(ticket.type_id) if ticket.type_id else None
        if ticket_type is not None and ticket_type.workflow_tag.lower() != tag.workflow_tag.lower():
            continue
        return ticket, tag
    return None


def participant_decision(msg: ParsedMessage, view: RuleView, ticket_id: int, rule: str, how: str) -> Decision:
    """A reply into `ticket_id` when the sender (its From, or an address its Reply-To names) takes part in
    it, else a refusal."""
    sender = addresses.routing_key(msg.from_.email) if msg.from_ else ""
    writers = {addresses.routing_key(a.email) for a in msg.reply_to} | ({sender} if sender else set())
    if writers & view.participants(ticket_id):
        return Decision(Disposition.REPLY, rule, f"{how} names ticket #{ticket_id}", ticket_id=ticket_id)
    return Decision(
        Disposition.REJECTED,
        rule,
        f"{how} names ticket #{ticket_id}, but the sender {sender or '(none)'} is not a participant of it",
        ticket_id=ticket_id,
    )
