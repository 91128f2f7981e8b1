"""The assignment flow (task `assignment`), as the manual's "Assignment Emails" lays it out: a student
submits, the tutor returns feedback, the student resubmits.

Who may write is decided before the flow runs (rules `not-a-student` and `assignment-writer`: a
stranger's mail never reaches it); the flow decides who receives what:

- No assignment on the ticket yet, the student's mail: a submission, once it can be filed under one
  course — the student's only course using this type, else the one whose code the subject names. It
  becomes an assignment at attempt 1, and the mail with its attachments goes to the tutor, the admin
  in Cc. When the course cannot be told nothing is guessed: the admin is told why
  (`assignment_unclear`), and a later mail of the student's (or `assignments submit`) files it.
- An assignment: the student's mail is a resubmission (attempt + 1, to the tutor); the tutor's is the
  feedback (to the student, with the tutor's attachments). Both with the admin in Cc.
- An automatic mail (an auto-reply, however it reached the ticket) never advances an assignment, and
  mail on a completed one is kept for staff: nobody is sent anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ticketctl.engine.enums import AssignmentStatus, StepKind, TicketStatus
from ticketctl.engine.flows import notices
from ticketctl.engine.flows.flow import FlowContext, Received
from ticketctl.engine.mail import addresses, automatic, quotes, tags
from ticketctl.engine.outbound import writer
from ticketctl.engine.outbound.contexts import (
    AssignmentFeedbackMail,
    AssignmentMail,
    AssignmentResubmittedMail,
    AssignmentSubmittedMail,
    AssignmentUnclearMail,
    CourseFacts,
    Person,
    TicketFacts,
    TypeFacts,
)
from ticketctl.engine.outbound.writer import MailSpec, Party
from ticketctl.engine.store import assignments, contacts, courses, tickets
from ticketctl.engine.store.assignments import AssignmentRecord
from ticketctl.engine.store.contacts import Contact
from ticketctl.engine.store.courses import Enrolment
from ticketctl.engine.store.tickets import FirstMessage, TicketRecord
from ticketctl.engine.store.types import TicketType


@dataclass(frozen=True)
class Submission:
    """A mail on the ticket that is (or may become) an attempt: its log, words and attachments."""

    log_id: int
    subject: str
    body: str
    attachment_ids: tuple[int, ...]

    @classmethod
    def of(cls, received: Received) -> Submission:
        return cls(received.log_id, received.msg.subject, received.msg.body_text, received.attachment_ids)

    @classmethod
    def answer(cls, ctx: FlowContext, ticket: TicketRecord, received: Received) -> Submission:
        """A mail answering one we sent on the ticket, cut to its new words (mail/quotes.py) as relays
        are: the quoted history and our own mail do not travel on; the log keeps the mail whole."""
        new = quotes.new_text(received.msg.body_text, tickets.sent_texts(ctx.store, ticket.id), received.msg.history)
        return cls(received.log_id, received.msg.subject, new, received.attachment_ids)

    @classmethod
    def first(cls, first: FirstMessage) -> Submission:
        return cls(first.log_id, first.subject, first.body_text, first.attachment_ids)


def new_ticket(ctx: FlowContext, ticket: TicketRecord, received: Received) -> None:
    _file(ctx, ticket, Submission.of(received))


def reply(ctx: FlowContext, ticket: TicketRecord, received: Received) -> TicketStatus:
    if automatic.detect(received.msg):
        return ticket.status
    author = addresses.routing_key(received.msg.from_.email) if received.msg.from_ else ""
    assignment = assignments.of_ticket(ctx.store, ticket.id)
    if assignment is None:
        if author == addresses.routing_key(ticket.from_email):
            _file(ctx, ticket, Submission.of(received))
            return TicketStatus.OPEN
        return ticket.status
    if assignment.status == AssignmentStatus.COMPLETED:
        return TicketStatus.OPEN  # kept on the ticket for staff; a closed assignment takes no more attempts
    student, tutor = contacts.get(ctx.store, assignment.student_id), contacts.get(ctx.store, assignment.tutor_id)
    if student is not None and author == addresses.routing_key(student.email):
        _resubmit(ctx, ticket, assignment, student, Submission.answer(ctx, ticket, received))
        return TicketStatus.OPEN
    if student is not None and tutor is not None and author == addresses.routing_key(tutor.email):
        _feedback(ctx, ticket, assignment, student, tutor, Submission.answer(ctx, ticket, received))
        return TicketStatus.ANSWERED
    return ticket.status


def reassigned(ctx: FlowContext, ticket: TicketRecord, previous: TicketType | None, note: str) -> None:
    """An invalid ticket given this type: a submission from its first mail when its sender is now a
    student of a course using the type, else the `reassigned` notice to the admin."""
    first = tickets.first_message(ctx.store, ticket.id)
    student = contacts.get(ctx.store, ticket.contact_id)
    if first is None or student is None or not _options(ctx, student):
        notices.reassigned(ctx, ticket, previous, note)
        return
    _file(ctx, ticket, Submission.first(first))


def submit(ctx: FlowContext, ticket: TicketRecord, enrolment: Enrolment) -> int:
    """Staff file the ticket's first mail under `enrolment`'s course (the course could not be told from
    the mail); returns the assignment's id."""
    first = tickets.first_message(ctx.store, ticket.id)
    assert first is not None, "a ticket of a type has the mail that opened it"
    return _submit(ctx, ticket, enrolment, Submission.first(first))


def choose(options: list[Enrolment], subject: str) -> tuple[Enrolment | None, list[Enrolment]]:
    """(the enrolment a mail is for, or None; the enrolments its subject names). One option is the
    one; of several, the one whose course code the subject names as a word (any case)."""
    if len(options) == 1:
        return options[0], []
    named = [e for e in options if _names(subject, e.course_code)]
    return (named[0] if len(named) == 1 else None), named


def _names(subject: str, code: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(code)}(?![A-Za-z0-9])", subject or "", re.IGNORECASE) is not None


def _options(ctx: FlowContext, student: Contact) -> list[Enrolment]:
    return courses.student_enrolments(ctx.store, ctx.ticket_type.id, student.email)


def _file(ctx: FlowContext, ticket: TicketRecord, mail: Submission) -> None:
    """File a student's mail as attempt 1 when its course can be told; else tell the admin why not."""
    student = contacts.get(ctx.store, ticket.contact_id)
    options = _options(ctx, student) if student else []
    chosen, named = choose(options, mail.subject)
    if chosen is None:
        _unclear(ctx, ticket, mail, student, options, named)
    else:
        _submit(ctx, ticket, chosen, mail)


def _submit(ctx: FlowContext, ticket: TicketRecord, enrolment: Enrolment, mail: Submission) -> int:
    assignment_id = assignments.add(ctx.store, ticket.id, enrolment.course_id, enrolment.student_id, enrolment.tutor_id)
    assignments.add_step(ctx.store, assignment_id, StepKind.SUBMITTED, 1, mail.log_id, enrolment.student_id)
    student = Person(enrolment.student_name or ticket.from_name, enrolment.student_email)
    tutor = _tutor(ctx, enrolment.tutor_id)
    course = CourseFacts(enrolment.course_code, enrolment.course_name)
    _pass_on(ctx, ticket, mail, tutor, AssignmentSubmittedMail, student, _person(tutor), course, 1)
    return assignment_id


def _resubmit(
    ctx: FlowContext, ticket: TicketRecord, assignment: AssignmentRecord, student: Contact, mail: Submission
) -> None:
    attempt = assignment.submissions + 1
    assignments.advance(ctx.store, assignment.id, AssignmentStatus.RESUBMITTED, attempt)
    assignments.add_step(ctx.store, assignment.id, StepKind.RESUBMITTED, attempt, mail.log_id, student.id)
    tutor = _tutor(ctx, assignment.tutor_id)
    shown = Person(student.name or ticket.from_name, student.email)
    course = _course(ctx, assignment)
    _pass_on(ctx, ticket, mail, tutor, AssignmentResubmittedMail, shown, _person(tutor), course, attempt)


def _feedback(
    ctx: FlowContext,
    ticket: TicketRecord,
    assignment: AssignmentRecord,
    student: Contact,
    tutor: Contact,
    mail: Submission,
) -> None:
    attempt = assignment.submissions
    assignments.advance(ctx.store, assignment.id, AssignmentStatus.FEEDBACK_RETURNED, attempt)
    assignments.add_step(ctx.store, assignment.id, StepKind.FEEDBACK, attempt, mail.log_id, tutor.id)
    to = Party(student.email, student.name or ticket.from_name, student.id)
    shown_tutor, course = Person(tutor.name, tutor.email), _course(ctx, assignment)
    _pass_on(ctx, ticket, mail, to, AssignmentFeedbackMail, _person(to), shown_tutor, course, attempt)


def _pass_on(
    ctx: FlowContext,
    ticket: TicketRecord,
    mail: Submission,
    to: Party,
    kind: type[AssignmentMail],
    student: Person,
    tutor: Person,
    course: CourseFacts,
    attempt: int,
) -> None:
    """The mail's words and attachments to `to`, the admin (and the forward address) in Cc."""
    tickets.set_receiver(ctx.store, mail.log_id, to.email, to.name, to.contact_id)
    if not ctx.notify:
        return
    writer.write(
        ctx.store,
        ctx.config,
        _spec(ctx, ticket, to, mail.attachment_ids),
        kind(
            ticket=TicketFacts.of(ticket),
            type=TypeFacts.of(ctx.ticket_type),
            subject=ticket.subject,
            body=mail.body,
            student=student,
            tutor=tutor,
            course=course,
            attempt=attempt,
        ),
    )


def _unclear(
    ctx: FlowContext,
    ticket: TicketRecord,
    mail: Submission,
    student: Contact | None,
    options: list[Enrolment],
    named: list[Enrolment],
) -> None:
    """Tell the admin that a student's mail could not be filed under one course; Reply-To the student."""
    admin = notices.admin_party(ctx)
    if admin is None:  # an assignment type always has an admin (type add requires one)
        return
    tickets.set_receiver(ctx.store, mail.log_id, admin.email, admin.name, admin.contact_id)
    if not ctx.notify:
        return
    who = Person(student.name or ticket.from_name, student.email) if student else Person("", ticket.from_email)
    writer.write(
        ctx.store,
        ctx.config,
        replace(notices.notice_spec(ctx, ticket, admin, mail.attachment_ids), reply_to=who.email),
        AssignmentUnclearMail(
            ticket=TicketFacts.of(ticket),
            type=TypeFacts.of(ctx.ticket_type),
            subject=tags.strip(mail.subject) or ticket.subject,
            body=mail.body,
            student=who,
            courses=tuple(CourseFacts(e.course_code, e.course_name) for e in options),
            named=tuple(CourseFacts(e.course_code, e.course_name) for e in named),
        ),
    )


def _spec(ctx: FlowContext, ticket: TicketRecord, to: Party, attachment_ids: tuple[int, ...]) -> MailSpec:
    """From the type, answers back to it, the admin and the forward address in copy."""
    t = ctx.ticket_type
    copies = (t.admin_email, t.email_forward)
    return MailSpec(
        ticket_id=ticket.id,
        tag=t.workflow_tag,
        to=to,
        sender=notices.type_party(t),
        reply_to=t.address,
        cc=tuple(dict.fromkeys(a for a in copies if a and a != to.email)),
        attachment_ids=attachment_ids,
        automatic=False,  # a person's words and files, passed on
    )


def _tutor(ctx: FlowContext, tutor_id: int | None) -> Party:
    """The tutor as a receiver; an enrolment without one (made outside ticketctl) goes to the admin."""
    tutor = contacts.get(ctx.store, tutor_id)
    if tutor is not None:
        return Party(tutor.email, tutor.name, tutor.id)
    admin = notices.admin_party(ctx)
    assert admin is not None, "an assignment type has an admin"
    return admin


def _course(ctx: FlowContext, assignment: AssignmentRecord) -> CourseFacts:
    course = courses.get_by_id(ctx.store, assignment.course_id) if assignment.course_id else None
    return CourseFacts(course.code, course.name) if course else CourseFacts("-", "no course")


def _person(who: Party) -> Person:
    return Person(who.name, who.email)
