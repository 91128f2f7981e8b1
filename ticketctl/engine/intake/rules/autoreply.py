"""Auto-replies and out-of-office notices are ignored: they never get an answer, never open a ticket."""

from __future__ import annotations

from ticketctl.engine.enums import Disposition
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail import automatic
from ticketctl.engine.mail.message import ParsedMessage

NAME = "auto-reply"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    reason = automatic.why(msg)
    return Decision(Disposition.IGNORED, NAME, reason) if reason else None
