"""Contacts: an address with a name and a role."""

from __future__ import annotations

import sqlite3

from ticketctl.engine.store.connection import utcnow


def upsert(conn: sqlite3.Connection, email: str, name: str = "", role: str = "contact") -> int:
    """The contact id for an address, creating the contact on first sight (names fill in once)."""
    row = conn.execute(
        "INSERT INTO contacts (email, name, role, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(email) DO UPDATE SET name = CASE WHEN contacts.name = '' THEN excluded.name "
        "ELSE contacts.name END RETURNING id",
        (email.lower(), name or "", role, utcnow()),
    ).fetchone()
    return int(row[0])
