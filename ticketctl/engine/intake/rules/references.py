"""A reply whose subject lost the tag still joins its ticket through In-Reply-To / References:
the Message-IDs we sent are signed with the ticket and log ids, and every Message-ID we sent or
received is indexed on the ticket's logs."""

from __future__ import annotations

from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.intake.rules.subject_tag import participant_decision
from ticketctl.engine.mail.message import ParsedMessage
from ticketctl.engine.mail.msgid import verify_message_id
from ticketctl.engine.store.tickets import TicketRecord

NAME = "references"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    ticket = referenced(msg, view)
    if ticket is None:
        return None
    return participant_decision(msg, view, ticket.id, NAME, "In-Reply-To/References")


def referenced(msg: ParsedMessage, view: RuleView) -> TicketRecord | None:
    """The ticket that In-Reply-To/References point to, if any."""
    ids = list(dict.fromkeys([*msg.in_reply_to, *reversed(msg.references)]))
    if not ids:
        return None
    ticket_id = _signed(ids, view) or view.ticket_of_message_ids(ids)
    return view.ticket(ticket_id) if ticket_id is not None else None


def _signed(ids: list[str], view: RuleView) -> int | None:
    for message_id in ids:
        found = verify_message_id(view.secret, message_id)
        if found:
            return found[0]
    return None
