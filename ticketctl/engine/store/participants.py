"""The `ticket_participants` table: who takes part in a ticket besides its type's staff, each in a
role (`ParticipantRole`: customer, from, cc, released). An address keeps the first role it was given."""

from __future__ import annotations

from dataclasses import dataclass

from ticketctl.engine.enums import ParticipantRole
from ticketctl.engine.store.connection import Store, utcnow


@dataclass(frozen=True)
class Participant:
    email: str
    name: str
    role: ParticipantRole


def add(store: Store, ticket_id: int, email: str, name: str, role: ParticipantRole) -> None:
    """Make `email` a participant of the ticket, unless it is one already."""
    store.conn.execute(
        "INSERT OR IGNORE INTO ticket_participants (ticket_id, email, name, role, created_at) VALUES (?, ?, ?, ?, ?)",
        (ticket_id, email.strip().lower(), name, role, utcnow()),
    )


def of_ticket(store: Store, ticket_id: int) -> list[Participant]:
    """The ticket's participants in the order they joined."""
    rows = store.query(
        "SELECT email, name, role FROM ticket_participants WHERE ticket_id = ? ORDER BY id", (ticket_id,)
    )
    return [Participant(r["email"], r["name"], ParticipantRole(r["role"])) for r in rows]


def with_tutor(store: Store, ticket_id: int) -> tuple[list[Participant], str | None]:
    """The ticket's participants (as `of_ticket`) and the tutor of the assignment it holds, in one read."""
    rows = store.query(
        "SELECT * FROM (SELECT email, name, role FROM ticket_participants WHERE ticket_id = ? ORDER BY id)"
        " UNION ALL SELECT c.email, '', NULL FROM assignments a JOIN contacts c ON c.id = a.tutor_id"
        " WHERE a.ticket_id = ?",
        (ticket_id, ticket_id),
    )
    found = [Participant(r["email"], r["name"], ParticipantRole(r["role"])) for r in rows if r["role"] is not None]
    tutor = next((r["email"] for r in rows if r["role"] is None), None)
    return found, tutor
