"""The recipients (To, Cc, and Delivered-To / X-Original-To / Envelope-To, which reveal Bcc) pick
the ticket type; with no match the mail becomes an invalid ticket that staff reassign."""

from __future__ import annotations

from ticketctl.engine.enums import Disposition
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail.message import ParsedMessage

NAME = "route"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    ticket_type = view.type_for_recipients(msg.recipients)
    if ticket_type is None:
        shown = ", ".join(dict.fromkeys(msg.recipients)) or "no recipients"
        return Decision(
            Disposition.INVALID_TICKET, NAME, f"no active ticket type of this mailbox is addressed ({shown})"
        )
    return Decision(Disposition.NEW_TICKET, NAME, f"addressed to type '{ticket_type.name}'", type_id=ticket_type.id)
