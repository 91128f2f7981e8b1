"""The `ledger`: one row per message ever taken from a mailbox (where from, its hash and Message-ID, its
sender and subject, what became of it and why, and whether staff released it since). Nothing leaves a
mailbox without a row here, written in the same transaction as everything its decision writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ticketctl.engine.enums import Disposition
from ticketctl.engine.store import rawstore
from ticketctl.engine.store.connection import Store, utcnow


@dataclass(frozen=True)
class Recorded:
    """What the ledger already says about a message."""

    id: int
    disposition: Disposition
    reason: str
    ticket_id: int | None


def recorded(store: Store, mailbox_id: int, sha256: str, uid: str | None = None) -> Recorded | None:
    """The row for this very message (same bytes; same uid too when given), if one was written."""
    expected = store.recalled(("ledger", "uids", mailbox_id))
    if uid is not None and expected is not None and uid in expected and sha256 not in expected[uid]:
        return None  # `expect` read this uid's rows: none has these bytes
    sql = "SELECT id, disposition, reason, ticket_id FROM ledger WHERE mailbox_id = ? AND sha256 = ?"
    params: list[object] = [mailbox_id, sha256]
    if uid is not None:
        sql += " AND uid = ?"
        params.append(uid)
    row = store.one(sql + " LIMIT 1", params)
    return Recorded(row["id"], Disposition(row["disposition"]), row["reason"], row["ticket_id"]) if row else None


def first_with_message_id(store: Store, mailbox_id: int, message_id: str) -> Recorded | None:
    """The first message taken from this mailbox with this Message-ID, duplicates aside."""
    row = store.one(
        "SELECT id, disposition, reason, ticket_id FROM ledger WHERE mailbox_id = ? AND message_id = ?"
        " AND disposition != 'duplicate' ORDER BY id LIMIT 1",
        (mailbox_id, message_id),
    )
    return Recorded(row["id"], Disposition(row["disposition"]), row["reason"], row["ticket_id"]) if row else None


def expect(store: Store, mailbox_id: int, uids: list[str]) -> None:
    """Read at once what the ledger has under the uids of a batch about to be taken in (inside its
    write transaction): `recorded` then answers for each new message without a query of its own."""
    known: dict[str, set[str]] = {uid: set() for uid in uids}
    known.update(hashes_by_uid(store, mailbox_id, uids))
    store.remember(("ledger", "uids", mailbox_id), known)


def hashes_by_uid(store: Store, mailbox_id: int, uids: list[str]) -> dict[str, set[str]]:
    """The SHA-256 of what the ledger recorded under each of these uids of the mailbox (those it has)."""
    found: dict[str, set[str]] = {}
    sql = "SELECT uid, sha256 FROM ledger WHERE mailbox_id = ? AND uid IN ({marks})"
    for row in store.query_in(sql, uids, before=[mailbox_id]):
        found.setdefault(row["uid"], set()).add(row["sha256"])
    return found


@dataclass(frozen=True)
class Entry:
    mailbox_id: int
    uid: str
    message_id: str | None
    sha256: str
    size: int
    raw_id: int | None
    raw_path: str | None
    disposition: Disposition
    rule: str
    reason: str
    from_email: str = ""
    subject: str = ""


def add(store: Store, entry: Entry) -> int:
    cur = store.conn.execute(
        "INSERT INTO ledger (mailbox_id, uid, message_id, sha256, size, raw_id, raw_path, disposition, rule,"
        " reason, from_email, subject, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.mailbox_id,
            entry.uid,
            entry.message_id,
            entry.sha256,
            entry.size,
            entry.raw_id,
            entry.raw_path,
            entry.disposition,
            entry.rule,
            entry.reason,
            entry.from_email,
            entry.subject,
            utcnow(),
        ),
    )
    expected = store.recalled(("ledger", "uids", entry.mailbox_id))
    if expected is not None and entry.uid in expected:
        expected[entry.uid].add(entry.sha256)
    return int(cur.lastrowid or 0)


def link(store: Store, ledger_id: int, ticket_id: int, log_id: int | None) -> None:
    """The ticket (and log) a recorded message became."""
    store.conn.execute("UPDATE ledger SET ticket_id = ?, log_id = ? WHERE id = ?", (ticket_id, log_id, ledger_id))


def raw(store: Store, ledger_id: int, limit: int = -1) -> bytes | None:
    """The kept bytes of a recorded message (the first `limit`), or None when none were kept."""
    row = store.one("SELECT raw_id, raw_path FROM ledger WHERE id = ?", (ledger_id,))
    return rawstore.read(store, row["raw_id"], row["raw_path"], limit) if row else None


def has_any(store: Store, mailbox_id: int) -> bool:
    """Whether anything was ever taken from this mailbox."""
    return store.one("SELECT 1 FROM ledger WHERE mailbox_id = ? LIMIT 1", (mailbox_id,)) is not None


def release(store: Store, ledger_id: int, as_: Disposition, ticket_id: int, log_id: int | None, by: str) -> None:
    """Staff took the message through the flow again: what it became, when and by whom. The decision the
    rules made stays as it was."""
    store.conn.execute(
        "UPDATE ledger SET released_at = ?, released_by = ?, released_as = ?, ticket_id = ?, log_id = ? WHERE id = ?",
        (utcnow(), by, as_, ticket_id, log_id, ledger_id),
    )


# --- what staff read -------------------------------------------------------------------------


@dataclass(frozen=True)
class TakenIn:
    """One ledger row as staff see it. `from_email` and `subject` are None for rows written before the
    ledger kept them (read them from the raw bytes)."""

    id: int
    mailbox: str
    mailbox_id: int
    uid: str
    message_id: str | None
    size: int
    received_at: str
    from_email: str | None
    subject: str | None
    disposition: str
    rule: str
    reason: str
    ticket_id: int | None
    log_id: int | None
    raw_kept: bool
    released_at: str | None
    released_by: str | None
    released_as: str | None


@dataclass(frozen=True)
class LedgerQuery:
    dispositions: tuple[str, ...] = ()
    mailbox_id: int | None = None
    since: str | None = None  # received on or after (the stored UTC form)


_TAKEN_IN = (
    "SELECT g.id, m.name AS mailbox, g.mailbox_id, g.uid, g.message_id, g.size, g.received_at, g.from_email,"
    " g.subject, g.disposition, g.rule, g.reason, g.ticket_id, g.log_id,"
    " (g.raw_id IS NOT NULL OR g.raw_path IS NOT NULL) AS raw_kept, g.released_at, g.released_by, g.released_as"
    " FROM ledger g JOIN mailboxes m ON m.id = g.mailbox_id"
)


def _taken_in(row: Any) -> TakenIn:
    return TakenIn(**{**dict(row), "raw_kept": bool(row["raw_kept"])})


def _where(query: LedgerQuery) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if query.dispositions:
        where.append(f"g.disposition IN ({', '.join('?' for _ in query.dispositions)})")
        params.extend(query.dispositions)
    if query.mailbox_id is not None:
        where.append("g.mailbox_id = ?")
        params.append(query.mailbox_id)
    if query.since:
        where.append("g.received_at >= ?")
        params.append(query.since)
    return (f" WHERE {' AND '.join(where)}" if where else ""), params


def page(store: Store, query: LedgerQuery, limit: int, offset: int) -> list[TakenIn]:
    """Up to `limit` rows matching `query`, newest first, after `offset`."""
    clause, params = _where(query)
    rows = store.query(f"{_TAKEN_IN}{clause} ORDER BY g.id DESC LIMIT ? OFFSET ?", [*params, limit, offset])
    return [_taken_in(r) for r in rows]


def count(store: Store, query: LedgerQuery, cap: int) -> int:
    """How many rows match `query`, counted up to `cap`."""
    clause, params = _where(query)
    row = store.one(f"SELECT count(*) AS n FROM (SELECT 1 FROM ledger g{clause} LIMIT ?)", [*params, cap])  # noqa: S608
    return int(row["n"]) if row else 0


def get(store: Store, ledger_id: int) -> TakenIn | None:
    row = store.one(f"{_TAKEN_IN} WHERE g.id = ?", (ledger_id,))
    return _taken_in(row) if row else None


def where_kept(store: Store, ledger_id: int) -> tuple[int | None, str | None]:
    """(raw_messages id, file under the data directory) of a row's bytes; both None when none were kept."""
    row = store.one("SELECT raw_id, raw_path FROM ledger WHERE id = ?", (ledger_id,))
    return (row["raw_id"], row["raw_path"]) if row else (None, None)
