"""The `bounces` table: one row per address a delivery report names (or one with no address, when none
could be read), with the queued mail, ticket and contact it was matched to; unresolved until staff
resolve it. A delay warning is recorded resolved: it needs nobody."""

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
    address: str | None
    kind: str  # permanent, temporary or delayed
    status_code: str | None
    diagnostic: str | None
    original_address: str | None = None
    action: str | None = None
    remote_mta: str | None = None
    report: str = ""
    matched_by: str | None = None  # verp, message-id, tag


def add(store: Store, bounce: NewBounce) -> int:
    now = utcnow()
    delay = bounce.kind == "delayed"
    cur = store.conn.execute(
        "INSERT INTO bounces (ledger_id, queue_id, ticket_id, contact_id, address, original_address, kind,"
        " status_code, action, diagnostic, remote_mta, report, matched_by, resolved, resolved_at, resolved_note,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            bounce.ledger_id,
            bounce.queue_id,
            bounce.ticket_id,
            bounce.contact_id,
            bounce.address,
            bounce.original_address,
            bounce.kind,
            bounce.status_code,
            bounce.action,
            bounce.diagnostic,
            bounce.remote_mta,
            bounce.report,
            bounce.matched_by,
            int(delay),
            now if delay else None,
            "a delay warning: the mail is still being retried" if delay else None,
            now,
        ),
    )
    store.forget("bounces")
    return int(cur.lastrowid or 0)


@dataclass(frozen=True)
class BounceView:
    id: int
    address: str | None
    kind: str
    status_code: str | None
    diagnostic: str | None
    resolved: bool
    created_at: str
    queue_id: int | None = None
    ticket_id: int | None = None
    contact_id: int | None = None
    contact_email: str | None = None

    @property
    def permanent(self) -> bool:
        return self.kind == "permanent"


@dataclass(frozen=True)
class BounceRecord:
    """Everything one bounce row holds, with its contact's address and the report it came from."""

    id: int
    ledger_id: int | None
    queue_id: int | None
    ticket_id: int | None
    contact_id: int | None
    contact_email: str | None
    address: str | None
    original_address: str | None
    kind: str
    status_code: str | None
    action: str | None
    diagnostic: str | None
    remote_mta: str | None
    report: str
    matched_by: str | None
    resolved: bool
    resolved_at: str | None
    resolved_note: str | None
    created_at: str
    report_message_id: str | None
    report_received_at: str | None


_VIEW = (
    "SELECT b.id, b.address, b.kind, b.status_code, b.diagnostic, b.resolved, b.created_at, b.queue_id,"
    " b.ticket_id, b.contact_id, c.email AS contact_email FROM bounces b LEFT JOIN contacts c ON c.id = b.contact_id"
)


def _view(row: Any) -> BounceView:
    return BounceView(**{**dict(row), "resolved": bool(row["resolved"])})


def of_ticket(store: Store, ticket_id: int) -> list[BounceView]:
    return [_view(r) for r in store.query(_VIEW + " WHERE b.ticket_id = ? ORDER BY b.id", (ticket_id,))]


def listing(
    store: Store,
    resolved: bool | None = False,
    contact_id: int | None = None,
    address: str | None = None,
    limit: int = 100,
) -> list[BounceView]:
    """Bounces newest first: unresolved (default), resolved (True) or all (None); of one contact, by
    its id or by the failed address."""
    where: list[str] = []
    params: list[Any] = []
    if resolved is not None:
        where.append("b.resolved = ?")
        params.append(int(resolved))
    who = []
    if contact_id is not None:
        who.append("b.contact_id = ?")
        params.append(contact_id)
    if address is not None:
        who.append("b.address = ?")
        params.append(address.lower())
    if who:
        where.append("(" + " OR ".join(who) + ")")
    sql = _VIEW + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY b.id DESC LIMIT ?"
    return [_view(r) for r in store.query(sql, [*params, limit])]


def get(store: Store, bounce_id: int) -> BounceRecord | None:
    row = store.one(
        "SELECT b.*, c.email AS contact_email, l.message_id AS report_message_id, l.received_at AS report_received_at"
        " FROM bounces b LEFT JOIN contacts c ON c.id = b.contact_id LEFT JOIN ledger l ON l.id = b.ledger_id"
        " WHERE b.id = ?",
        (bounce_id,),
    )
    if row is None:
        return None
    return BounceRecord(**{**dict(row), "resolved": bool(row["resolved"])})


def of_contact(store: Store, contact_id: int, address: str, unresolved_only: bool = True) -> list[BounceView]:
    """A contact's bounces, by the contact or by its address (a bounce may predate the contact), oldest
    first."""
    resolved = False if unresolved_only else None
    return listing(store, resolved, contact_id=contact_id, address=address, limit=-1)[::-1]


def of_ledger(store: Store, ledger_id: int) -> list[int]:
    """The bounce rows one report made."""
    return [r["id"] for r in store.query("SELECT id FROM bounces WHERE ledger_id = ? ORDER BY id", (ledger_id,))]


def resolve(store: Store, bounce_id: int, note: str | None) -> bool:
    """Mark a bounce resolved; False if it already was (its first resolution stands)."""
    cur = store.conn.execute(
        "UPDATE bounces SET resolved = 1, resolved_at = ?, resolved_note = ? WHERE id = ? AND resolved = 0",
        (utcnow(), note, bounce_id),
    )
    return cur.rowcount == 1


@dataclass(frozen=True)
class Blocking:
    """Why an address gets no mail: its latest unresolved permanent bounce, or its unresolved temporary
    failures (`temporary` of them, the latest first)."""

    bounce_ids: tuple[int, ...]
    status_code: str | None
    permanent: bool


def blocking(store: Store, address: str, temporary_since: str, temporary_limit: int) -> Blocking | None:
    """What keeps mail from `address` (the failed address or the one the mail was sent to): an
    unresolved permanent bounce, else `temporary_limit` (0: never) unresolved temporary failures
    recorded since `temporary_since`; None when nothing does."""
    if not store.locked(("bounces", "any unresolved"), lambda: _any_unresolved(store)):
        return None
    address = address.lower()
    unresolved = "SELECT id, kind, status_code, created_at FROM bounces WHERE resolved = 0 AND kind != 'delayed'"
    found = store.query(  # by each index: (address, resolved), (original_address, resolved)
        f"{unresolved} AND address = ? UNION {unresolved} AND original_address = ? ORDER BY id DESC",
        (address, address),
    )
    permanent = next((r for r in found if r["kind"] == "permanent"), None)
    if permanent is not None:
        return Blocking((permanent["id"],), permanent["status_code"], True)
    temporary = [r for r in found if r["created_at"] > temporary_since]
    if temporary_limit < 1 or len(temporary) < temporary_limit:
        return None
    return Blocking(tuple(r["id"] for r in temporary), temporary[0]["status_code"], False)


def _any_unresolved(store: Store) -> bool:
    """Whether any bounce may block an address: asked once per write transaction (a claim screens a
    batch of mails), so a queue with no unresolved bounce costs no query per recipient."""
    return store.one("SELECT 1 FROM bounces WHERE resolved = 0 AND kind != 'delayed' LIMIT 1") is not None


def of_queue_rows(store: Store, queue_ids: list[int]) -> dict[int, list[BounceView]]:
    """The bounces of each queued mail, for showing which mail bounced."""
    found: dict[int, list[BounceView]] = {}
    for row in store.query_in(_VIEW + " WHERE b.queue_id IN ({marks}) ORDER BY b.id", queue_ids):
        found.setdefault(row["queue_id"], []).append(_view(row))
    return found


def unresolved_count(store: Store) -> int:
    row = store.one("SELECT count(*) AS n FROM bounces WHERE resolved = 0")
    return row["n"] if row else 0
