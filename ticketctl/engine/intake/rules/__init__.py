"""The rules: small named decisions, read top to bottom as the chain in `chain.py`.

A rule is a module with a kebab-case `NAME`, a docstring saying what it catches, and
`check(msg, view) -> Decision | None`: it takes a parsed message and a read-only view of the store
(`RuleView`, implemented by `store/view.py`; tests give an in-memory fake) and returns a Decision, or
None to pass the message on. Rules read and never write; the run records the decision.

A mark (`autoreply.py`) never decides: once a rule has, `mark(msg, decision)` adds what it knows to the
decision (that the mail is automatic, and why). The chain lists rules and marks (`chain.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ticketctl.engine.enums import Disposition
from ticketctl.engine.mail.message import ParsedMessage
from ticketctl.engine.store.assignments import Parties
from ticketctl.engine.store.ledger import Recorded
from ticketctl.engine.store.tickets import TicketRecord
from ticketctl.engine.store.types import TicketType


@dataclass(frozen=True)
class Decision:
    disposition: Disposition
    rule: str
    reason: str
    ticket_id: int | None = None
    type_id: int | None = None
    automatic: str | None = None  # why a machine wrote the mail (the auto-reply mark); None: a person


class RuleView(Protocol):
    """What rules may know about the store, for the mailbox being read."""

    max_message_bytes: int

    @property
    def secret(self) -> str: ...

    @property
    def bounce_mailbox(self) -> bool:
        """Whether every active type of this mailbox is a bounce_back type (it takes bounces only)."""
        ...

    def type_by_id(self, type_id: int) -> TicketType | None: ...

    def type_for_recipients(self, recipients: list[str]) -> TicketType | None:
        """The first active type of this mailbox whose address is among the recipients."""
        ...

    def ticket(self, ticket_id: int) -> TicketRecord | None: ...

    def ticket_of_log(self, log_id: int) -> int | None: ...

    def ticket_of_message_ids(self, message_ids: list[str]) -> int | None:
        """The ticket of the newest log carrying one of these Message-IDs (sent or received)."""
        ...

    def participants(self, ticket_id: int) -> set[str]:
        """Routing keys of everyone who may write into a ticket."""
        ...

    def taken_in(self, message_id: str) -> Recorded | None:
        """The first message of this mailbox with this Message-ID, if one was taken in before."""
        ...

    def assignment_parties(self, ticket_id: int) -> Parties | None:
        """The student and tutor of the assignment a ticket holds, if it holds one."""
        ...

    def student_courses(self, type_id: int, email: str) -> list[str]:
        """The codes of the courses using assignment type `type_id` that this address is enrolled in."""
        ...


class Check(Protocol):
    def __call__(self, msg: ParsedMessage, view: RuleView) -> Decision | None: ...


class Mark(Protocol):
    def __call__(self, msg: ParsedMessage, decision: Decision) -> Decision: ...


@dataclass(frozen=True)
class Chain:
    """The rules in order (the first decision wins), then the marks, each applied to that decision."""

    rules: tuple[tuple[str, Check], ...]
    marks: tuple[tuple[str, Mark], ...] = ()
