"""Mail that carries our own loop header came from this installation: answering it would start a loop.

The header's value is this installation's public id (`msgid.installation_id`, written by
outbound/mailbuild.py). Another installation's mail carries its own id and is handled like any other
mail: its Auto-Submitted, if any, marks it automatic (autoreply.py), so nothing is sent back to it.
"""

from __future__ import annotations

from ticketctl.engine.enums import Disposition
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail import msgid
from ticketctl.engine.mail.message import ParsedMessage
from ticketctl.engine.outbound.mailbuild import LOOP_HEADER

NAME = "mail-loop"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    ours = msgid.installation_id(view.secret)
    if ours not in (value.strip() for value in msg.headers.get(LOOP_HEADER.lower(), [])):
        return None
    return Decision(
        Disposition.REJECTED,
        NAME,
        f"it carries our {LOOP_HEADER} header ({ours}): this installation sent it, so answering it would loop",
    )
