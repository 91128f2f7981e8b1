"""The "save table" option of a ticket type: from, subject and body also go into a table the admin names."""

from __future__ import annotations

import sqlite3

from ticketctl.engine.admin.tickettypes import TicketType
from ticketctl.engine.mail.message import ParsedMessage
from ticketctl.engine.store.connection import utcnow


def save(conn: sqlite3.Connection, ticket_type: TicketType, ticket_id: int, msg: ParsedMessage) -> None:
    if not ticket_type.save_table:
        return
    values = {"ticket_id": ticket_id, "created_at": utcnow()}
    sender = msg.from_.email if msg.from_ else ""
    for column, value in (
        (ticket_type.save_from_column, sender),
        (ticket_type.save_subject_column, msg.subject),
        (ticket_type.save_body_column, msg.body_text),
    ):
        if column:
            values[column] = value
    table = _quote(ticket_type.save_table)
    columns = ", ".join(f"{_quote(c)} TEXT" for c in values if c not in ("ticket_id",))
    conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, ticket_id INTEGER, {columns})")
    existing = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    for column in values:
        if column not in existing:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {_quote(column)} TEXT")
    names = ", ".join(_quote(c) for c in values)
    conn.execute(
        f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(values))})",  # noqa: S608
        list(values.values()),
    )


def _quote(identifier: str) -> str:
    """Identifiers were validated as [A-Za-z_][A-Za-z0-9_]* when the type was saved; quote anyway."""
    return '"' + identifier.replace('"', '""') + '"'
