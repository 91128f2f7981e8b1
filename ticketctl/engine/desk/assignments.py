"""Staff's view of assignments: list them, show one with every attempt and its feedback (each with the
mail that carried it and its attachments), close one with a result, and file a ticket whose course
could not be told under a course."""

from __future__ import annotations

from dataclasses import dataclass

from ticketctl.engine.admin import contacts as admin_contacts
from ticketctl.engine.admin import courses as admin_courses
from ticketctl.engine.config import Config
from ticketctl.engine.enums import AssignmentStatus, Task, TicketStatus
from ticketctl.engine.errors import ConfigError, NotAllowed, NotFound
from ticketctl.engine.flows import assignment as flow
from ticketctl.engine.flows.flow import FlowContext
from ticketctl.engine.store import assignments, courses, tickets, types
from ticketctl.engine.store.assignments import AssignmentQuery, AssignmentSummary
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.tickets import AttachmentView

STATUSES = tuple(str(s) for s in AssignmentStatus)


@dataclass(frozen=True)
class AssignmentFilters:
    statuses: tuple[str, ...] = ()
    course: str | None = None  # a course code
    tutor: str | None = None  # an email address
    student: str | None = None  # an email address


@dataclass(frozen=True)
class AssignmentPage:
    assignments: list[AssignmentSummary]
    limit: int
    offset: int
    has_more: bool


def list_assignments(store: Store, filters: AssignmentFilters, limit: int = 50, offset: int = 0) -> AssignmentPage:
    if limit < 1 or offset < 0:
        raise ConfigError("The limit must be at least 1 and the offset not negative.")
    for status in filters.statuses:
        if status not in STATUSES:
            raise ConfigError(f"Status '{status}' is not an assignment status; use one of: {', '.join(STATUSES)}.")
    query = AssignmentQuery(
        statuses=filters.statuses,
        course_id=_course_id(store, filters.course),
        tutor_id=_contact_id(store, filters.tutor),
        student_id=_contact_id(store, filters.student),
    )
    rows = assignments.summaries(store, query, limit + 1, offset)
    return AssignmentPage(rows[:limit], limit, offset, len(rows) > limit)


def _course_id(store: Store, code: str | None) -> int | None:
    return admin_courses.get(store, code).id if code is not None else None


def _contact_id(store: Store, email: str | None) -> int | None:
    return admin_contacts.get(store, email).id if email is not None else None


@dataclass(frozen=True)
class StepView:
    """One attempt or feedback, with the mail that carried it."""

    kind: str
    attempt: int
    author: str | None
    author_name: str | None
    created_at: str
    log_id: int
    subject: str
    text: str
    attachments: list[AttachmentView]


@dataclass(frozen=True)
class AssignmentView:
    assignment: AssignmentSummary
    ticket_subject: str
    steps: list[StepView]


def get_assignment(store: Store, assignment_id: int) -> AssignmentView:
    summary = assignments.summary(store, assignment_id)
    if summary is None:
        raise NotFound(f"There is no assignment {assignment_id}; `ticketctl assignments list` shows them.")
    ticket = tickets.get(store, summary.ticket_id)
    logs = {log.id: log for log in tickets.logs(store, summary.ticket_id)}
    steps = [
        StepView(
            s.kind,
            s.attempt,
            s.author,
            s.author_name,
            s.created_at,
            s.log_id,
            logs[s.log_id].subject,
            logs[s.log_id].text,
            logs[s.log_id].attachments,
        )  # fmt: skip
        for s in assignments.steps(store, assignment_id)
    ]
    return AssignmentView(summary, ticket.subject if ticket else "", steps)


def close(store: Store, assignment_id: int, result: str) -> AssignmentView:
    """Complete an assignment with a result (no more attempts are taken) and resolve its ticket."""
    if not result.strip():
        raise ConfigError("Give the assignment's result with --result, e.g. --result competent.")
    with store.transaction():
        found = assignments.get(store, assignment_id)
        if found is None:
            raise NotFound(f"There is no assignment {assignment_id}; `ticketctl assignments list` shows them.")
        if found.status == AssignmentStatus.COMPLETED:
            raise NotAllowed(f"Assignment {assignment_id} was closed already, with the result '{found.result}'.")
        assignments.close(store, assignment_id, result.strip())
        ticket = tickets.get(store, found.ticket_id)
        if ticket is not None and ticket.status != TicketStatus.CLOSED:
            tickets.set_status(store, ticket.id, TicketStatus.RESOLVED)
    return get_assignment(store, assignment_id)


def submit(store: Store, config: Config, ticket_id: int, course_code: str) -> AssignmentView:
    """File the first mail of an assignment ticket that holds no assignment (its course could not be told)
    under a course its student is enrolled in: attempt 1 goes to the tutor."""
    with store.transaction():
        ticket = tickets.get(store, ticket_id)
        if ticket is None:
            raise NotFound(f"There is no ticket {ticket_id}; `ticketctl tickets list` shows the tickets.")
        ticket_type = types.get_by_id(store, ticket.type_id) if ticket.type_id else None
        if ticket_type is None or ticket_type.task != Task.ASSIGNMENT:
            raise NotAllowed(f"Ticket {ticket_id} is not of an assignment type; only those hold assignments.")
        existing = assignments.of_ticket(store, ticket_id)
        if existing is not None:
            raise NotAllowed(f"Ticket {ticket_id} holds assignment {existing.id} already.")
        course = admin_courses.get(store, course_code)
        if course.assignment_type_id != ticket_type.id:
            raise NotAllowed(
                f"Course {course.code} does not send its assignments to type '{ticket_type.name}'; "
                f"choose a course that does, or change it with `ticketctl courses edit {course.code}`."
            )
        enrolment = courses.enrolment(store, course.id, ticket.from_email)
        if enrolment is None:
            raise NotAllowed(
                f"{ticket.from_email} is not enrolled in {course.code}; enrol them with "
                f"`ticketctl courses enrol {course.code} {ticket.from_email} --tutor TUTOR` first."
            )
        assignment_id = flow.submit(FlowContext(store, config, ticket_type), ticket, enrolment)
    return get_assignment(store, assignment_id)
