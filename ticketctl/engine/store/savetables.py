"""The "save table" of a ticket type: a table the admin names, into which from, subject and body of each
new ticket's mail also go (created, and widened with new columns, on first use)."""

from __future__ import annotations

from ticketctl.engine.store.connection import Store, utcnow


def save(store: Store, table: str, ticket_id: int, columns: dict[str, str]) -> None:
    """One row in `table` for `ticket_id`: `columns` maps column names to their values.

    Table and column names were validated as [A-Za-z_][A-Za-z0-9_]* when the type was saved; they are
    quoted anyway."""
    values = {"ticket_id": ticket_id, "created_at": utcnow(), **columns}
    name = _quote(table)
    declared = ", ".join(f"{_quote(c)} TEXT" for c in values if c != "ticket_id")
    conn = store.conn
    conn.execute(f"CREATE TABLE IF NOT EXISTS {name} (id INTEGER PRIMARY KEY, ticket_id INTEGER, {declared})")
    existing = {row[1] for row in conn.execute(f"PRAGMA table_info({name})")}
    for column in values:
        if column not in existing:
            conn.execute(f"ALTER TABLE {name} ADD COLUMN {_quote(column)} TEXT")
    names = ", ".join(_quote(c) for c in values)
    conn.execute(
        f"INSERT INTO {name} ({names}) VALUES ({', '.join('?' * len(values))})",  # noqa: S608
        list(values.values()),
    )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
