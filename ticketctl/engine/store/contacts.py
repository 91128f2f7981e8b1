"""The `contacts` table: an address with a name and a role (contact, lead, student, tutor, admin).

Addresses are stored lower-cased and stripped; the column compares without case as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ticketctl.engine.enums import Role
from ticketctl.engine.store.connection import Store, utcnow

_COLUMNS = "SELECT id, email, name, role, created_at FROM contacts"


@dataclass(frozen=True)
class Contact:
    id: int
    email: str
    name: str
    role: str
    created_at: str = ""


@dataclass(frozen=True)
class NewContact:
    email: str  # already normalised
    name: str
    role: Role


def upsert(store: Store, email: str, name: str = "", role: str = "contact") -> int:
    """The contact id for an address, creating the contact on first sight (names fill in once). Without
    a name to fill in, an address met already in this write transaction is not written again (the admin
    of every notice): only `update` changes a contact's address, and it makes them read again."""
    email = email.strip().lower()
    if not name and (known := store.recalled(("contact", email))) is not None:
        return int(known)
    row = store.conn.execute(
        "INSERT INTO contacts (email, name, role, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(email) DO UPDATE SET name = CASE WHEN contacts.name = '' THEN excluded.name "
        "ELSE contacts.name END RETURNING id",
        (email, name or "", role, utcnow()),
    ).fetchone()
    store.remember(("contact", email), int(row[0]))
    return int(row[0])


def get(store: Store, contact_id: int | None) -> Contact | None:
    if contact_id is None:
        return None
    row = store.one(f"{_COLUMNS} WHERE id = ?", (contact_id,))  # noqa: S608
    return Contact(**dict(row)) if row else None


def find(store: Store, email: str) -> Contact | None:
    row = store.one(f"{_COLUMNS} WHERE email = ?", (email.strip(),))  # noqa: S608
    return Contact(**dict(row)) if row else None


def add(store: Store, contact: NewContact) -> int:
    cur = store.conn.execute(
        "INSERT INTO contacts (email, name, role, created_at) VALUES (?, ?, ?, ?)",
        (contact.email, contact.name, contact.role, utcnow()),
    )
    return int(cur.lastrowid or 0)


def update(store: Store, contact_id: int, contact: NewContact) -> None:
    store.conn.execute(
        "UPDATE contacts SET email = ?, name = ?, role = ? WHERE id = ?",
        (contact.email, contact.name, contact.role, contact_id),
    )
    store.forget("contact")


def promote(store: Store, contact_id: int, role: Role) -> None:
    """Give a plain contact or lead the role `role`; a contact with another role keeps it (a tutor who
    is also an admin stays an admin)."""
    store.conn.execute("UPDATE contacts SET role = ? WHERE id = ? AND role IN ('contact', 'lead')", (role, contact_id))


def list_all(
    store: Store, role: str | None = None, search: str | None = None, limit: int = 50, offset: int = 0
) -> list[Contact]:
    """Contacts by address, with a role and a text (in address or name) when given."""
    where, params = [], []
    if role:
        where.append("role = ?")
        params.append(role)
    if search:
        where.append("(email LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\')")
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", search) + "%"
        params += [pattern, pattern]
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = store.query(f"{_COLUMNS}{clause} ORDER BY email LIMIT ? OFFSET ?", [*params, limit, offset])  # noqa: S608
    return [Contact(**dict(r)) for r in rows]
