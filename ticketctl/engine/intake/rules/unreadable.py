"""Bytes that are not a mail message at all (no From, no recipients, no subject, no Message-ID, no
Date) cannot be routed or answered: they become an error ticket, raw bytes kept for staff."""

from __future__ import annotations

from ticketctl.engine.enums import Disposition
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail.message import ParsedMessage

NAME = "unreadable"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    if msg.from_ or msg.recipients or msg.subject or msg.message_id or msg.date:
        return None
    return Decision(
        Disposition.ERROR_TICKET,
        NAME,
        "the message has none of From, To, Subject, Message-ID or Date: it is not a readable mail",
    )
