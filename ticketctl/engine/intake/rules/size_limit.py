"""A message over `limits.max_message_bytes` was not downloaded: only its header block was read. It
becomes an error ticket from its headers, and stays on the server (or moves to the processed folder)."""

from __future__ import annotations

from ticketctl.engine.enums import Disposition
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail.message import ParsedMessage

NAME = "size-limit"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    if not msg.headers_only:
        return None
    return Decision(
        Disposition.ERROR_TICKET,
        NAME,
        f"the message is {msg.size:,} bytes, over the limit of {view.max_message_bytes:,}; it was left on the "
        "server (or moved to the processed folder) and only its headers were read",
    )
