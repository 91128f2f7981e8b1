"""The engine's closed sets of values. Each is a StrEnum: it compares equal to, and is stored as, its
plain string, so SQL rows, JSON and templates see the same words as before.

Plain data with no imports of the engine, so the CLI can list the values in its help cheaply.
"""

from __future__ import annotations

from enum import StrEnum


class Disposition(StrEnum):
    """What became of a message taken from a mailbox (the ledger's `disposition`)."""

    NEW_TICKET = "new_ticket"
    REPLY = "reply"
    BOUNCE = "bounce"
    ERROR_TICKET = "error_ticket"
    INVALID_TICKET = "invalid_ticket"
    REJECTED = "rejected"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"


class MailboxKind(StrEnum):
    """Where a mailbox's mail is read from (engine/intake/sources/)."""

    IMAP = "imap"
    POP3 = "pop3"
    MAILDIR = "maildir"


class Security(StrEnum):
    """How a connection to a mail server is protected."""

    SSL = "ssl"  # implicit TLS (IMAP 993, POP3 995, SMTP 465)
    STARTTLS = "starttls"  # a plain port that switches to TLS (IMAP 143, POP3 110, SMTP 587)
    NONE = "none"


class MailboxAuth(StrEnum):
    PASSWORD = "password"
    OAUTH2 = "oauth2"


class OAuthProvider(StrEnum):
    MICROSOFT = "microsoft"


class Task(StrEnum):
    """A ticket type's task: which flow its tickets follow (engine/flows/)."""

    QUESTION = "simple_storage"
    ASSIGNMENT = "assignment"
    BOUNCE_BACK = "bounce_back"


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    ANSWERED = "answered"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketKind(StrEnum):
    NORMAL = "normal"
    INVALID = "invalid"  # no type matched: waits for staff to reassign it
    ERROR = "error"  # unreadable or too big: kept for staff, no contact


class Role(StrEnum):
    """What a contact is to the organisation (the CRM's categories)."""

    CONTACT = "contact"
    LEAD = "lead"
    STUDENT = "student"
    TUTOR = "tutor"
    ADMIN = "admin"


class AssignmentStatus(StrEnum):
    SUBMITTED = "submitted"
    FEEDBACK_RETURNED = "feedback_returned"
    RESUBMITTED = "resubmitted"
    COMPLETED = "completed"  # closed by staff with a result


class StepKind(StrEnum):
    """One step of an assignment, each carried by a mail (store: `assignment_steps`)."""

    SUBMITTED = "submitted"
    RESUBMITTED = "resubmitted"
    FEEDBACK = "feedback"


class ParticipantRole(StrEnum):
    """How someone takes part in a ticket (store/participants.py)."""

    CUSTOMER = "customer"  # whom the ticket answers: the first mail's Reply-To, else its From
    FROM = "from"  # the From behind a Reply-To, or someone else who wrote in: may write, gets no answers
    CC = "cc"  # copied on the customer's mail: may write, gets the answers in Cc (while the type allows it)
    RELEASED = "released"  # staff released their mail into the ticket


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class Purpose(StrEnum):
    """Why the engine writes a mail; each purpose is also the name of its template (templates/)."""

    NEW_TICKET = "new_ticket"
    RELAY = "relay"
    REASSIGNED = "reassigned"
    REPLY = "reply"
    ASSIGNMENT_SUBMITTED = "assignment_submitted"
    ASSIGNMENT_RESUBMITTED = "assignment_resubmitted"
    ASSIGNMENT_FEEDBACK = "assignment_feedback"
    ASSIGNMENT_UNCLEAR = "assignment_unclear"


class QueueStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class QueueState(StrEnum):
    """How a queued mail stands as staff see it: its status, or, for a pending mail whose recipients
    still to go are all kept back, `held` (a rate window, until a time) or `suppressed` (a bounce)."""

    PENDING = "pending"
    HELD = "held"
    SUPPRESSED = "suppressed"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
