"""Only its student and its tutor write into an assignment ticket (before the assignment exists: only
the student who sent it). Anyone else whose mail names the ticket by its tag or its references — the
admin who was sent a copy, someone in Cc, a stranger with a copied tag — is refused with the reason and
the ticket is left untouched, as the manual says: "an admin sent to himself/herself", "someone tries
replying to an email that is NOT sent to him/her"."""

from __future__ import annotations

from ticketctl.engine.enums import Disposition, Task
from ticketctl.engine.intake.rules import Decision, RuleView, references, subject_tag
from ticketctl.engine.mail import addresses
from ticketctl.engine.mail.message import ParsedMessage

NAME = "assignment-writer"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    found = subject_tag.tagged(msg, view)
    ticket = found[0] if found else references.referenced(msg, view)
    ticket_type = view.type_by_id(ticket.type_id) if ticket and ticket.type_id else None
    if ticket is None or ticket_type is None or ticket_type.task != Task.ASSIGNMENT:
        return None
    sender = addresses.routing_key(msg.from_.email) if msg.from_ else ""
    parties = view.assignment_parties(ticket.id)
    writers = (parties.student, parties.tutor) if parties else (ticket.from_email,)
    if sender and sender in {addresses.routing_key(w) for w in writers if w}:
        return None
    admin = ticket_type.admin_email and addresses.routing_key(ticket_type.admin_email) == sender
    who = f"the admin {sender} of type '{ticket_type.name}'" if admin else f"the sender {sender or '(none)'}"
    if parties is None:
        reason = (
            f"{who} wrote into ticket #{ticket.id}, which holds no assignment yet; only its student "
            f"{writers[0]} writes into it"
        )
    else:
        reason = (
            f"{who} is neither the student {parties.student} nor the tutor {parties.tutor or '(none)'} of "
            f"assignment {parties.assignment_id} (ticket #{ticket.id}); only they write into it"
        )
    return Decision(Disposition.REJECTED, NAME, reason, ticket_id=ticket.id)
