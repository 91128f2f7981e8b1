"""The `ledger`: one row per message ever taken from a mailbox (where from, its hash and Message-ID,
what became of it and why). Nothing leaves a mailbox without a row here, written in the same
transaction as everything its decision writes."""

from __future__ import annotations

from dataclasses import dataclass

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


def hashes_by_uid(store: Store, mailbox_id: int, uids: list[str]) -> dict[str, set[str]]:
    """The SHA-256 of what the ledger recorded under each of these uids of the mailbox (those it has)."""
    found: dict[str, set[str]] = {}
    for start in range(0, len(uids), 500):
        part = uids[start : start + 500]
        marks = ", ".join("?" * len(part))
        for row in store.query(
            f"SELECT uid, sha256 FROM ledger WHERE mailbox_id = ? AND uid IN ({marks})",  # noqa: S608
            [mailbox_id, *part],
        ):
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


def add(store: Store, entry: Entry) -> int:
    cur = store.conn.execute(
        "INSERT INTO ledger (mailbox_id, uid, message_id, sha256, size, raw_id, raw_path, disposition, rule,"
        " reason, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            utcnow(),
        ),
    )
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
