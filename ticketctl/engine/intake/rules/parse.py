"""A message the parser could not read at all (it should always manage; this is the net under it)
becomes an error ticket, its raw bytes kept for staff."""

from __future__ import annotations

from ticketctl.engine.enums import Disposition
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail.message import ParsedMessage

NAME = "parse"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    if msg.parse_error is None:
        return None
    return Decision(Disposition.ERROR_TICKET, NAME, f"the message could not be read ({msg.parse_error})")
