"""An admin mailing the type's own address from the admin address, with no ticket to join, would
only notify itself: refused, as the manual says ("an admin sent to himself/herself")."""

from __future__ import annotations

from ticketctl.engine.enums import Disposition
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail import addresses
from ticketctl.engine.mail.message import ParsedMessage

NAME = "admin-to-self"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    ticket_type = view.type_for_recipients(msg.recipients)
    if ticket_type is None or not ticket_type.admin_email or msg.from_ is None:
        return None
    if addresses.routing_key(msg.from_.email) != addresses.routing_key(ticket_type.admin_email):
        return None
    return Decision(
        Disposition.REJECTED,
        NAME,
        f"the admin {ticket_type.admin_email} mailed type '{ticket_type.name}' without a ticket tag",
        type_id=ticket_type.id,
    )
