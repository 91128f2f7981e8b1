"""What each mail template is given: one frozen dataclass per template, exactly the variables
`templates/README.md` documents for it. The writer renders `context.purpose`'s template with the
context's fields as variables, under StrictUndefined: a variable a template names that its context
lacks is an error, never a blank in someone's mailbox.

`subject` is what the mail is about, without our tag: the writer puts `[Tag #ticket-log]` in front of
the rendered subject line itself, so no template can lose it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ticketctl.engine.enums import Purpose
from ticketctl.engine.store.contacts import Contact
from ticketctl.engine.store.tickets import TicketRecord
from ticketctl.engine.store.types import TicketType


@dataclass(frozen=True)
class Person:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True)
class TicketFacts:
    id: int
    subject: str
    status: str
    from_email: str
    from_name: str
    created_at: str

    @classmethod
    def of(cls, ticket: TicketRecord) -> TicketFacts:
        return cls(
            ticket.id, ticket.subject, str(ticket.status), ticket.from_email, ticket.from_name, ticket.created_at
        )


@dataclass(frozen=True)
class TypeFacts:
    name: str
    workflow_tag: str
    task: str
    description: str

    @classmethod
    def of(cls, ticket_type: TicketType) -> TypeFacts:
        return cls(ticket_type.name, ticket_type.workflow_tag, str(ticket_type.task), ticket_type.description)


@dataclass(frozen=True)
class ContactFacts:
    name: str
    email: str
    role: str

    @classmethod
    def of(cls, contact: Contact | None, ticket: TicketRecord) -> ContactFacts:
        if contact is None:
            return cls(ticket.from_name, ticket.from_email, "contact")
        return cls(contact.name or ticket.from_name, contact.email, contact.role)


@dataclass(frozen=True)
class MailContext:
    purpose: ClassVar[Purpose]
    ticket: TicketFacts
    type: TypeFacts
    subject: str
    body: str

    def variables(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class NewTicketMail(MailContext):
    """To the type's admin: a new ticket arrived. `body` is the question."""

    purpose: ClassVar[Purpose] = Purpose.NEW_TICKET
    sender: Person


@dataclass(frozen=True)
class RelayMail(MailContext):
    """A reply passed on to the other side of the conversation. `body` is what `sender` wrote."""

    purpose: ClassVar[Purpose] = Purpose.RELAY
    sender: Person


@dataclass(frozen=True)
class ReassignedMail(MailContext):
    """To the new type's admin: staff gave an invalid ticket this type. `body` is the original question;
    `sender` wrote it; `previous_type` is None when the ticket had no type."""

    purpose: ClassVar[Purpose] = Purpose.REASSIGNED
    sender: Person
    previous_type: TypeFacts | None
    note: str


@dataclass(frozen=True)
class ReplyMail(MailContext):
    """A staff member's answer to the customer (`contact`). `body` is the answer as written."""

    purpose: ClassVar[Purpose] = Purpose.REPLY
    contact: ContactFacts


@dataclass(frozen=True)
class CourseFacts:
    code: str
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


@dataclass(frozen=True)
class AssignmentMail(MailContext):
    """An assignment submitted, resubmitted, or its feedback returned. `body` is what was written;
    `attempt` is the attempt submitted, or the one the feedback is on."""

    purpose: ClassVar[Purpose]
    student: Person
    tutor: Person
    course: CourseFacts
    attempt: int


@dataclass(frozen=True)
class AssignmentSubmittedMail(AssignmentMail):
    purpose: ClassVar[Purpose] = Purpose.ASSIGNMENT_SUBMITTED


@dataclass(frozen=True)
class AssignmentResubmittedMail(AssignmentMail):
    purpose: ClassVar[Purpose] = Purpose.ASSIGNMENT_RESUBMITTED


@dataclass(frozen=True)
class AssignmentFeedbackMail(AssignmentMail):
    purpose: ClassVar[Purpose] = Purpose.ASSIGNMENT_FEEDBACK


@dataclass(frozen=True)
class AssignmentUnclearMail(MailContext):
    """To the type's admin: a student's mail could not be filed under one course, so no tutor got it.
    `body` is the student's mail; `courses` the student's courses using the type (none when they are
    not enrolled in one); `named` those the subject names (none, or several)."""

    purpose: ClassVar[Purpose] = Purpose.ASSIGNMENT_UNCLEAR
    student: Person
    courses: tuple[CourseFacts, ...]
    named: tuple[CourseFacts, ...]


CONTEXTS: dict[Purpose, type[MailContext]] = {
    c.purpose: c
    for c in (
        NewTicketMail,
        RelayMail,
        ReassignedMail,
        ReplyMail,
        AssignmentSubmittedMail,
        AssignmentResubmittedMail,
        AssignmentFeedbackMail,
        AssignmentUnclearMail,
    )
}


# Made-up values for every variable a context may have: what overrides and canned responses are tried
# with before they are used (templating.check_overrides, admin/canned.py).
SAMPLE_VALUES: dict[str, Any] = {
    "ticket": TicketFacts(1, "A question", "open", "customer@example.com", "A Customer", "2026-01-01T00:00:00Z"),
    "type": TypeFacts("Support", "Support", "simple_storage", "Questions from customers"),
    "contact": ContactFacts("A Customer", "customer@example.com", "contact"),
    "subject": "A question",
    "body": "The text of the mail.\n",
    "sender": Person("A Customer", "customer@example.com"),
    "previous_type": TypeFacts("Other", "Other", "simple_storage", ""),
    "note": "A note from staff.",
    "student": Person("A Student", "student@example.com"),
    "tutor": Person("A Tutor", "tutor@example.com"),
    "course": "A course",
    "attempt": 1,
}


def sample(purpose: Purpose) -> MailContext:
    """The context of `purpose` filled with SAMPLE_VALUES."""
    cls = CONTEXTS[purpose]
    return cls(**{f.name: SAMPLE_VALUES[f.name] for f in fields(cls)})
