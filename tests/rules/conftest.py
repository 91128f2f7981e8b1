"""Rules are tested alone, with no database: a parsed message and an in-memory `RuleView`."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.pipeline.helpers import mail
from ticketctl.engine.enums import Disposition, Task, TicketKind, TicketStatus
from ticketctl.engine.mail import addresses, message
from ticketctl.engine.store import types
from ticketctl.engine.store.assignments import Parties
from ticketctl.engine.store.ledger import Recorded
from ticketctl.engine.store.tickets import TicketRecord
from ticketctl.engine.store.types import TicketType

SECRET = "rule-tests-secret"
SUPPORT = TicketType(
    id=1,
    name="Support",
    task=Task.QUESTION,
    email_to=("support@example.com",),
    workflow_tag="Support",
    mailbox_id=1,
    mailbox="local",
    admin_email="lead@example.com",
)
SALES = TicketType(
    id=2, name="Sales", task=Task.QUESTION, email_to=("sales@example.com",), workflow_tag="Sales",
    mailbox_id=2, mailbox="other", admin_email="boss@example.com",
)  # fmt: skip
HOMEWORK = TicketType(
    id=3, name="Homework", task=Task.ASSIGNMENT, email_to=("homework@example.com",), workflow_tag="Hw",
    mailbox_id=1, mailbox="local", admin_email="office@example.com",
)  # fmt: skip


@dataclass
class FakeView:
    """What a rule may know, held in dicts. Types of mailbox 1 are the ones mail there is routed to."""

    max_message_bytes: int = 20_000
    secret: str = SECRET
    all_types: list[TicketType] = field(default_factory=lambda: [SUPPORT, SALES, HOMEWORK])
    tickets: dict[int, TicketRecord] = field(default_factory=dict)
    logs: dict[int, int] = field(default_factory=dict)  # log id -> ticket id
    message_ids: dict[str, int] = field(default_factory=dict)  # Message-ID -> ticket id
    people: dict[int, set[str]] = field(default_factory=dict)  # ticket id -> participants' addresses
    taken: dict[str, Recorded] = field(default_factory=dict)  # Message-ID -> ledger row
    assignments: dict[int, Parties] = field(default_factory=dict)  # ticket id -> its student and tutor
    enrolled: dict[tuple[int, str], list[str]] = field(default_factory=dict)  # (type id, address) -> course codes

    @property
    def bounce_mailbox(self) -> bool:
        own = [t for t in self.all_types if t.mailbox_id == 1]
        return bool(own) and all(t.task == Task.BOUNCE_BACK for t in own)

    def type_by_id(self, type_id: int) -> TicketType | None:
        return next((t for t in self.all_types if t.id == type_id), None)

    def type_for_recipients(self, recipients: list[str]) -> TicketType | None:
        return types.addressed([t for t in self.all_types if t.mailbox_id == 1], recipients)

    def ticket(self, ticket_id: int) -> TicketRecord | None:
        return self.tickets.get(ticket_id)

    def ticket_of_log(self, log_id: int) -> int | None:
        return self.logs.get(log_id)

    def ticket_of_message_ids(self, message_ids: list[str]) -> int | None:
        return next((self.message_ids[m] for m in message_ids if m in self.message_ids), None)

    def participants(self, ticket_id: int) -> set[str]:
        return {addresses.routing_key(a) for a in self.people.get(ticket_id, set())}

    def taken_in(self, message_id: str) -> Recorded | None:
        return self.taken.get(message_id)

    def assignment_parties(self, ticket_id: int) -> Parties | None:
        return self.assignments.get(ticket_id)

    def student_courses(self, type_id: int, email: str) -> list[str]:
        return self.enrolled.get((type_id, email.lower()), [])

    def add_ticket(self, ticket_id: int, *, log_id: int, customer: str, type_id: int | None = 1) -> TicketRecord:
        """A ticket of the customer's, its first log, its participants as the question flow leaves them."""
        ticket = TicketRecord(
            ticket_id, type_id, 1, None, TicketKind.NORMAL, TicketStatus.NEW, "Printer on fire", customer, "",
            None, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z",
        )  # fmt: skip
        self.tickets[ticket_id] = ticket
        self.logs[log_id] = ticket_id
        ticket_type = self.type_by_id(type_id) if type_id else None
        self.people[ticket_id] = {
            customer,
            *([ticket_type.admin_email] if ticket_type and ticket_type.admin_email else []),
        }
        return ticket


@pytest.fixture
def view() -> FakeView:
    return FakeView()


def parsed(**kwargs: object) -> message.ParsedMessage:
    return message.parse(mail(**kwargs))  # type: ignore[arg-type]


def recorded(ledger_id: int, ticket_id: int | None) -> Recorded:
    return Recorded(ledger_id, Disposition.NEW_TICKET, "addressed to type 'Support'", ticket_id)
