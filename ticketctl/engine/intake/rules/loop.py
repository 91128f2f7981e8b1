"""Mail that carries our own loop header came from this engine: answering it would start a loop."""

from __future__ import annotations

from ticketctl.engine.enums import Disposition
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail.message import ParsedMessage

NAME = "mail-loop"
LOOP_HEADER = "X-Ticketctl-Loop"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    if msg.header(LOOP_HEADER) is None:
        return None
    return Decision(
        Disposition.REJECTED, NAME, f"the mail carries our {LOOP_HEADER} header: it came from ticketctl itself"
    )
