"""Mail a machine wrote: auto-replies, out-of-office and vacation notices, notifications, list mail.

This is a mark, not a rule: it never decides what becomes of a message (the chain does), it says why
the message is automatic (mail/automatic.py reads that from the message), and record.py writes what
that implies: on an existing ticket a note that is never passed on and moves nothing; a new ticket like
any other, except that nothing is ever sent to its automatic sender (outbound/writer.py `withheld`).
Nobody is dropped.
"""

from __future__ import annotations

from dataclasses import replace

from ticketctl.engine.enums import Disposition
from ticketctl.engine.intake.rules import Decision
from ticketctl.engine.mail import automatic
from ticketctl.engine.mail.message import ParsedMessage

NAME = "auto-reply"

# What the mark applies to: the dispositions that write the message onto a ticket.
MARKED = (Disposition.NEW_TICKET, Disposition.REPLY, Disposition.INVALID_TICKET)


def mark(msg: ParsedMessage, decision: Decision) -> Decision:
    """`decision`, carrying why `msg` is automatic when it is and the decision writes it onto a ticket."""
    if decision.disposition not in MARKED:
        return decision
    why = automatic.detect(msg)
    if why is None:
        return decision
    return replace(decision, automatic=why, reason=f"{decision.reason}; automatic ({why})")
