"""The recipients (To, Cc, and Delivered-To / X-Original-To / Envelope-To, which reveal Bcc) pick
the ticket type; with no match the mail becomes an invalid ticket that staff reassign."""

from __future__ import annotations

from ticketctl.engine.intake.rules import Decision, StoreView
from ticketctl.engine.mail.message import ParsedMessage

NAME = "route"


def check(msg: ParsedMessage, view: StoreView) -> Decision | None:
    ticket_type = view.type_for_recipients(msg.recipients)
    if ticket_type is None:
        shown = ", ".join(dict.fromkeys(msg.recipients)) or "no recipients"
        return Decision("invalid_ticket", NAME, f"no active ticket type of this mailbox is addressed ({shown})")
    return Decision("new_ticket", NAME, f"addressed to type '{ticket_type.name}'", type_id=ticket_type.id)
