"""Mail in a bounce-back mailbox that is no delivery report is ignored (kept in the ledger, never a
ticket): the mailbox takes bounces only, and nobody is told of what else lands there."""

from __future__ import annotations

from ticketctl.engine.enums import Disposition, Task
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail.message import ParsedMessage

NAME = "bounce-mailbox"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    addressed = view.type_for_recipients(msg.recipients)
    if addressed is not None and addressed.task == Task.BOUNCE_BACK:
        reason = f"not a delivery report, addressed to the bounce type '{addressed.name}'"
        return Decision(Disposition.IGNORED, NAME, reason)
    if addressed is None and view.bounce_mailbox:
        return Decision(Disposition.IGNORED, NAME, "not a delivery report, in a mailbox that takes only bounces")
    return None
