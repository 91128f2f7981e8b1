"""Delivery reports are bounces: DSNs, the non-standard reports of many MTAs, delay warnings (read by
mail/bouncereport.py); one that says the mail was delivered is ignored, as nothing failed."""

from __future__ import annotations

from ticketctl.engine.enums import Disposition
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail import bouncereport
from ticketctl.engine.mail.message import ParsedMessage

NAME = "bounce"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    report = bouncereport.read(msg)
    if report is None:
        return None
    if report.kind == bouncereport.SUCCESS:
        return Decision(Disposition.IGNORED, NAME, f"{report.how}: nothing failed")
    if report.kind == bouncereport.DELAY:
        return Decision(Disposition.BOUNCE, NAME, f"a delay warning, the mail is still being retried: {report.how}")
    return Decision(Disposition.BOUNCE, NAME, report.how)
