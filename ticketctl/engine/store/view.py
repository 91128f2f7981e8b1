"""The read-only view of the store that the rules see (`intake.rules.RuleView`), for one mailbox.

Types and the secret are read once per view (a run makes one per mailbox). A ticket, and which ticket a
log belongs to, are read once per message (`next_message`): the rules, the record of their decision and
its flow see the same ticket, read before the message writes anything. The rest is read per call.
"""

from __future__ import annotations

from functools import cached_property

from ticketctl.engine.enums import ParticipantRole, Task
from ticketctl.engine.mail import addresses
from ticketctl.engine.store import assignments, courses, ledger, participants, settings, tickets, types
from ticketctl.engine.store.assignments import Parties
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.ledger import Recorded
from ticketctl.engine.store.tickets import TicketRecord
from ticketctl.engine.store.types import TicketType


class MailboxView:
    def __init__(self, store: Store, mailbox_id: int, max_message_bytes: int) -> None:
        self.store = store
        self.mailbox_id = mailbox_id
        self.max_message_bytes = max_message_bytes
        self._tickets: dict[int, TicketRecord | None] = {}
        self._log_tickets: dict[int, int | None] = {}

    def next_message(self) -> None:
        """Another message is decided: what the last one read of tickets is read again (it may have
        written them since)."""
        self._tickets.clear()
        self._log_tickets.clear()

    @cached_property
    def _own_types(self) -> list[TicketType]:
        return types.list_all(self.store, mailbox_id=self.mailbox_id, active_only=True)

    @cached_property
    def _all_types(self) -> dict[int, TicketType]:
        return {t.id: t for t in types.list_all(self.store)}

    @property
    def secret(self) -> str:
        return settings.installation_secret(self.store)

    @property
    def bounce_mailbox(self) -> bool:
        return bool(self._own_types) and all(t.task == Task.BOUNCE_BACK for t in self._own_types)

    def type_by_id(self, type_id: int) -> TicketType | None:
        return self._all_types.get(type_id)

    def type_for_recipients(self, recipients: list[str]) -> TicketType | None:
        return types.addressed(self._own_types, recipients)

    def ticket(self, ticket_id: int) -> TicketRecord | None:
        if ticket_id not in self._tickets:
            self._tickets[ticket_id] = tickets.get(self.store, ticket_id)
        return self._tickets[ticket_id]

    def ticket_of_log(self, log_id: int) -> int | None:
        if log_id not in self._log_tickets:
            self._log_tickets[log_id] = tickets.ticket_of_log(self.store, log_id)
        return self._log_tickets[log_id]

    def ticket_of_message_ids(self, message_ids: list[str]) -> int | None:
        return tickets.ticket_of_message_ids(self.store, message_ids)

    def participants(self, ticket_id: int) -> set[str]:
        """Its customer, the ticket's participants (those it copied only while its type lets them take
        part), the type's admin and forward address, and the assignment's tutor."""
        ticket = self.ticket(ticket_id)
        if ticket is None:
            return set()
        ticket_type = self.type_by_id(ticket.type_id) if ticket.type_id else None
        copied = ticket_type is None or ticket_type.cc_participants
        keys = {ticket.from_email}
        found, tutor = participants.with_tutor(self.store, ticket_id)
        for p in found:
            if copied or p.role != ParticipantRole.CC:
                keys.add(p.email)
        if ticket_type:
            keys.update(a for a in (ticket_type.admin_email, ticket_type.email_forward) if a)
        if tutor:
            keys.add(tutor)
        return {addresses.routing_key(k) for k in keys if k}

    def assignment_parties(self, ticket_id: int) -> Parties | None:
        return assignments.parties(self.store, ticket_id)

    def student_courses(self, type_id: int, email: str) -> list[str]:
        return [e.course_code for e in courses.student_enrolments(self.store, type_id, email)]

    def taken_in(self, message_id: str) -> Recorded | None:
        return ledger.first_with_message_id(self.store, self.mailbox_id, message_id)
