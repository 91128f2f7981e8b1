"""The rules: small named decisions, read top to bottom as the chain in pipeline.RULES.

A rule takes a parsed message and a read-only view of the store and returns a Decision, or None to
pass the message on. Rules read and never write; the pipeline applies the decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ticketctl.engine.admin.tickettypes import TicketType
from ticketctl.engine.mail import addresses
from ticketctl.engine.store.connection import Store


@dataclass(frozen=True)
class Decision:
    disposition: str
    rule: str
    reason: str
    ticket_id: int | None = None
    type_id: int | None = None
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class TicketInfo:
    id: int
    type_id: int | None
    kind: str
    status: str
    from_email: str


class StoreView:
    """What rules may know about the store, for one mailbox, read-only."""

    def __init__(self, store: Store, mailbox_id: int) -> None:
        self.store = store
        self.mailbox_id = mailbox_id

    @cached_property
    def types(self) -> list[TicketType]:
        from ticketctl.engine.admin import tickettypes

        return tickettypes.list_all(self.store, mailbox_id=self.mailbox_id, active_only=True)

    @cached_property
    def all_types(self) -> dict[int, TicketType]:
        from ticketctl.engine.admin import tickettypes

        return {t.id: t for t in tickettypes.list_all(self.store)}

    @cached_property
    def secret(self) -> str:
        return self.store.installation_secret()

    def type_for_recipients(self, recipients: list[str]) -> TicketType | None:
        """The first active type of this mailbox whose address is among the recipients."""
        keys = {addresses.routing_key(r) for r in recipients}
        for ticket_type in self.types:
            if any(addresses.routing_key(a) in keys for a in ticket_type.email_to):
                return ticket_type
        return None

    def is_type_address(self, address: str) -> bool:
        key = addresses.routing_key(address)
        return any(addresses.routing_key(a) == key for t in self.all_types.values() for a in t.email_to)

    def ticket(self, ticket_id: int) -> TicketInfo | None:
        row = self.store.one("SELECT id, type_id, kind, status, from_email FROM tickets WHERE id = ?", (ticket_id,))
        return TicketInfo(**dict(row)) if row else None

    def log_ticket(self, log_id: int) -> int | None:
        row = self.store.one("SELECT ticket_id FROM ticket_logs WHERE id = ?", (log_id,))
        return row["ticket_id"] if row else None

    def ticket_for_message_ids(self, message_ids: list[str]) -> int | None:
        """The ticket of the newest log carrying one of these Message-IDs (sent or received)."""
        if not message_ids:
            return None
        marks = ", ".join("?" * len(message_ids))
        row = self.store.one(
            f"SELECT ticket_id FROM ticket_logs WHERE message_id IN ({marks}) ORDER BY id DESC LIMIT 1",  # noqa: S608
            message_ids,
        )
        return row["ticket_id"] if row else None

    def participants(self, ticket_id: int) -> set[str]:
        """Routing keys of everyone who may write into a ticket: its customer, the type's admin and
        forward address, everyone the engine sent mail to for it, and the assignment's tutor."""
        keys: set[str] = set()
        ticket = self.ticket(ticket_id)
        if ticket is None:
            return keys
        keys.add(ticket.from_email)
        ticket_type = self.all_types.get(ticket.type_id) if ticket.type_id else None
        if ticket_type:
            keys.update(a for a in (ticket_type.admin_email, ticket_type.email_forward) if a)
        for row in self.store.query(
            "SELECT DISTINCT to_email, from_email, cc FROM ticket_logs WHERE ticket_id = ?", (ticket_id,)
        ):
            keys.update(a for a in (row["to_email"], row["from_email"]) if a)
            keys.update(a.strip() for a in row["cc"].split(",") if a.strip())
        row = self.store.one(
            "SELECT c.email FROM assignments a JOIN contacts c ON c.id = a.tutor_id WHERE a.ticket_id = ?",
            (ticket_id,),
        )
        if row:
            keys.add(row["email"])
        return {addresses.routing_key(k) for k in keys if k}
