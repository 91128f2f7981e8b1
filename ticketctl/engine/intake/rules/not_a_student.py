"""A new mail to an assignment type from someone who is not enrolled in a course using that type cannot
be a submission: it becomes an invalid ticket (no type), which staff can reassign — the manual's
"if no → update the ticket to NULL type"."""

from __future__ import annotations

from ticketctl.engine.enums import Disposition, Task
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail.message import ParsedMessage

NAME = "not-a-student"


def check(msg: ParsedMessage, view: RuleView) -> Decision | None:
    ticket_type = view.type_for_recipients(msg.recipients)
    if ticket_type is None or ticket_type.task != Task.ASSIGNMENT:
        return None
    sender = msg.from_.email.strip().lower() if msg.from_ else ""
    if sender and view.student_courses(ticket_type.id, sender):
        return None
    return Decision(
        Disposition.INVALID_TICKET,
        NAME,
        f"{sender or 'the sender (none)'} mailed assignment type '{ticket_type.name}' but is not a student "
        "enrolled in a course using it; staff can enrol them and reassign the ticket",
    )
