"""The `contacts` table (an address with a name and a role), with the courses, enrolments and
assignments that tie contacts to ticket types."""

from __future__ import annotations

from dataclasses import dataclass

from ticketctl.engine.store.connection import Store, utcnow


@dataclass(frozen=True)
class Contact:
    id: int
    email: str
    name: str
    role: str


def upsert(store: Store, email: str, name: str = "", role: str = "contact") -> int:
    """The contact id for an address, creating the contact on first sight (names fill in once)."""
    row = store.conn.execute(
        "INSERT INTO contacts (email, name, role, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(email) DO UPDATE SET name = CASE WHEN contacts.name = '' THEN excluded.name "
        "ELSE contacts.name END RETURNING id",
        (email.lower(), name or "", role, utcnow()),
    ).fetchone()
    return int(row[0])


def get(store: Store, contact_id: int | None) -> Contact | None:
    if contact_id is None:
        return None
    row = store.one("SELECT id, email, name, role FROM contacts WHERE id = ?", (contact_id,))
    return Contact(**dict(row)) if row else None


def find(store: Store, email: str) -> Contact | None:
    row = store.one("SELECT id, email, name, role FROM contacts WHERE email = ?", (email.strip(),))
    return Contact(**dict(row)) if row else None


def tutor_email(store: Store, ticket_id: int) -> str | None:
    """The tutor of the assignment a ticket holds, if any."""
    row = store.one(
        "SELECT c.email FROM assignments a JOIN contacts c ON c.id = a.tutor_id WHERE a.ticket_id = ?", (ticket_id,)
    )
    return row["email"] if row else None
