"""Delivery failure reports (DSNs and the non-standard reports of many MTAs) are bounces."""

from __future__ import annotations

import re

from ticketctl.engine.enums import Disposition
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail.message import ParsedMessage

NAME = "bounce"

_SENDER = re.compile(
    r"^(mailer-daemon|postmaster|mail-daemon|mdaemon|mail delivery (subsystem|system)|system administrator)", re.I
)
_SUBJECT = re.compile(
    r"(undeliver|delivery (status notification|failure|has failed|report|warning)|returned mail|failure notice|"
    r"mail delivery failed|could not be delivered|non[- ]?delivery|delivery problem|nondeliverable|"
    r"warning: could not send|mail system error|failed mail|not (yet )?(been )?delivered|mail failed|"
    r"failure delivery|delayed|user unknown|non remis)",
    re.I,
)


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    content_type = (msg.header("Content-Type") or "").lower()
    if "multipart/report" in content_type and "disposition-notification" not in content_type:
        return Decision(Disposition.BOUNCE, NAME, "a delivery status notification (multipart/report)")
    sender = msg.from_.email if msg.from_ else (msg.header("From") or "").strip(' <>"')
    name = msg.from_.name if msg.from_ else ""
    return_path = (msg.header("Return-Path") or "").strip()
    from_daemon = bool(_SENDER.match(sender) or _SENDER.match(name)) or return_path == "<>"
    if from_daemon and _SUBJECT.search(msg.subject or ""):
        return Decision(Disposition.BOUNCE, NAME, f"a delivery failure report from {sender or 'the mail system'}")
    return None
