"""Another copy of a message already taken from this mailbox (the same Message-ID, as a mail sent to two
of our addresses arrives twice) is a duplicate: recorded, and nothing else."""

from __future__ import annotations

from ticketctl.engine.enums import Disposition
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail.message import ParsedMessage

NAME = "duplicate"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    if not msg.message_id:
        return None
    earlier = view.taken_in(msg.message_id)
    if earlier is None:
        return None
    return Decision(
        Disposition.DUPLICATE,
        NAME,
        f"Message-ID <{msg.message_id}> was already taken in (ledger #{earlier.id})",
        ticket_id=earlier.ticket_id,
    )
