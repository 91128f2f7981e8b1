"""The `bounces` table: one row per failed address of a delivery failure report, unresolved until staff
resolve it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ticketctl.engine.store.connection import Store, utcnow


@dataclass(frozen=True)
class NewBounce:
    ledger_id: int
    queue_id: int | None
    ticket_id: int | None
    contact_id: int | None
    address: str
    permanent: bool
    status_code: str | None
    diagnostic: str | None


def add(store: Store, bounce: NewBounce) -> int:
    cur = store.conn.execute(
        "INSERT INTO bounces (ledger_id, queue_id, ticket_id, contact_id, address, permanent, status_code,"
        " diagnostic, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            bounce.ledger_id,
            bounce.queue_id,
            bounce.ticket_id,
            bounce.contact_id,
            bounce.address,
            int(bounce.permanent),
            bounce.status_code,
            bounce.diagnostic,
            utcnow(),
        ),
    )
    return int(cur.lastrowid or 0)


@dataclass(frozen=True)
class BounceView:
    id: int
    address: str
    permanent: bool
    status_code: str | None
    diagnostic: str | None
    resolved: bool
    created_at: str


def of_ticket(store: Store, ticket_id: int) -> list[BounceView]:
    rows = store.query(
        "SELECT id, address, permanent, status_code, diagnostic, resolved, created_at FROM bounces"
        " WHERE ticket_id = ? ORDER BY id",
        (ticket_id,),
    )
    return _views(rows)


def of_contact(store: Store, contact_id: int, address: str, unresolved_only: bool = True) -> list[BounceView]:
    """A contact's bounces, by the contact or by its address (a bounce may predate the contact)."""
    rows = store.query(
        "SELECT id, address, permanent, status_code, diagnostic, resolved, created_at FROM bounces"
        " WHERE (contact_id = ? OR address = ?) AND resolved <= ? ORDER BY id",
        (contact_id, address.lower(), 0 if unresolved_only else 1),
    )
    return _views(rows)


def _views(rows: list[Any]) -> list[BounceView]:
    return [BounceView(**{**dict(r), "permanent": bool(r["permanent"]), "resolved": bool(r["resolved"])}) for r in rows]


def unresolved_count(store: Store) -> int:
    row = store.one("SELECT count(*) AS n FROM bounces WHERE resolved = 0")
    return row["n"] if row else 0
