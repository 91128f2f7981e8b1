"""What `ticketctl report` reads: tickets opened, answered and resolved in a window, the open backlog, and
the mail taken in, bounced and failed. Read only; every query walks an index made for it (in the status
history's migration): `tickets_created`, `tickets_backlog` (open tickets only), `ticket_logs_answers`
(outgoing logs only), `ticket_status_changes_at`, `ledger_received`, `bounces_created`.

Windows are half-open, `since <= t < until`, as stored UTC strings. Rows that feed medians are yielded
one at a time, so a window of a million tickets is never a list in memory here.
"""

# ruff: noqa: S608  (the SQL is built from this module's constants; every value is a bound parameter)

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from ticketctl.engine.store import queue
from ticketctl.engine.store.connection import Store

OPEN_STATUSES = ("new", "open", "answered", "waiting")
# Literal, as in the partial index tickets_backlog: SQLite uses it only for a WHERE that implies its own.
_OPEN = f"t.status IN ({', '.join(repr(s) for s in OPEN_STATUSES)})"
_EPOCH = "CAST(strftime('%s', {}) AS INTEGER)"


@dataclass(frozen=True)
class Scope:
    """Which tickets and which mail a report covers; None: all."""

    type_id: int | None = None  # tickets of this type
    mailbox_id: int | None = None  # tickets read from this mailbox
    ledger_mailbox_id: int | None = None  # mail taken from this mailbox


def _tickets(scope: Scope, alias: str = "t") -> tuple[str, list[Any]]:
    where, params = [], []
    for column, value in (("type_id", scope.type_id), ("mailbox_id", scope.mailbox_id)):
        if value is not None:
            where.append(f"{alias}.{column} = ?")
            params.append(value)
    return "".join(f" AND {w}" for w in where), params


@dataclass(frozen=True)
class DayCount:
    day: str  # YYYY-MM-DD
    type_id: int | None
    kind: str
    count: int


def opened(store: Store, scope: Scope, since: str, until: str) -> list[DayCount]:
    """Tickets created in the window, counted by day, type and kind."""
    extra, params = _tickets(scope)
    rows = store.query(
        "SELECT substr(t.created_at, 1, 10) AS day, t.type_id, t.kind, count(*) AS n FROM tickets t"
        f" WHERE t.created_at >= ? AND t.created_at < ?{extra} GROUP BY day, t.type_id, t.kind",
        [since, until, *params],
    )
    return [DayCount(r["day"], r["type_id"], r["kind"], r["n"]) for r in rows]


class Answer(NamedTuple):
    """A ticket of a customer opened in the window, and when its first answer came (None: not yet).
    Times are Unix seconds. A plain tuple: a window can hold a million of them, one at a time."""

    type_id: int | None
    kind: str
    opened: int
    answered: int | None


def first_answers(store: Store, scope: Scope, since: str, until: str) -> Iterator[Answer]:
    """Every ticket opened in the window that has a customer (error tickets have none), with the time
    of its first answer: the first outgoing log whose receiver is the ticket's customer."""
    extra, params = _tickets(scope)
    first = (  # the partial index ticket_logs_answers holds exactly this: one index search per ticket
        "SELECT min(l.created_at) FROM ticket_logs l WHERE l.ticket_id = t.id AND l.direction = 'out'"
        " AND l.receiver_contact_id = t.contact_id"
    )
    cursor = store.conn.execute(
        f"SELECT t.type_id, t.kind, {_EPOCH.format('t.created_at')}, {_EPOCH.format(f'({first})')} FROM tickets t"
        f" WHERE t.created_at >= ? AND t.created_at < ? AND t.kind != 'error'{extra}",
        [since, until, *params],
    )
    return map(Answer._make, cursor)


class Resolution(NamedTuple):
    """A ticket resolved for the first time in the window (resolved or closed): when, and how long after
    it was opened (Unix seconds)."""

    type_id: int | None
    kind: str
    resolved: int
    seconds: int
    estimated: int  # 1: resolved before status changes were recorded; the time is its last update


def resolutions(store: Store, scope: Scope, since: str, until: str) -> Iterator[Resolution]:
    """Tickets whose first move to resolved or closed falls in the window (a reopened ticket resolved
    again counts where it was first resolved). Rows are written in time order, so an earlier row is one
    with a smaller id (the migration's estimated rows come before any change recorded after it)."""
    extra, params = _tickets(scope)
    resolved = _EPOCH.format("c.changed_at")
    cursor = store.conn.execute(
        f"SELECT t.type_id, t.kind, {resolved}, {resolved} - {_EPOCH.format('t.created_at')}, c.estimated"
        " FROM ticket_status_changes c JOIN tickets t ON t.id = c.ticket_id"
        " WHERE c.changed_at >= ? AND c.changed_at < ? AND c.new_status IN ('resolved', 'closed')"
        " AND NOT EXISTS (SELECT 1 FROM ticket_status_changes e WHERE e.ticket_id = c.ticket_id"
        f"   AND e.new_status IN ('resolved', 'closed') AND e.id < c.id){extra}",
        [since, until, *params],
    )
    return map(Resolution._make, cursor)


@dataclass(frozen=True)
class BacklogCount:
    type_id: int | None
    kind: str
    status: str
    newer: tuple[int, ...]  # how many were created after each edge given
    count: int


def backlog(store: Store, scope: Scope, edges: list[str]) -> list[BacklogCount]:
    """Open tickets (every status but resolved and closed) counted by type, kind and status, with how
    many of them were created after each of `edges` (creation times). The GROUP BY follows the index
    tickets_backlog, so this is one walk of the open tickets' index entries, with no sort."""
    extra, params = _tickets(scope)
    newer = "".join(f", sum(t.created_at > ?) AS newer{i}" for i in range(len(edges)))
    rows = store.query(
        f"SELECT t.status, t.type_id, t.kind, count(*) AS n{newer} FROM tickets t INDEXED BY tickets_backlog"
        f" WHERE {_OPEN}{extra} GROUP BY t.status, t.type_id, t.kind",
        [*edges, *params],
    )
    return [
        BacklogCount(r["type_id"], r["kind"], r["status"], tuple(r[f"newer{i}"] for i in range(len(edges))), r["n"])
        for r in rows
    ]


@dataclass(frozen=True)
class OpenTicket:
    id: int
    type_id: int | None
    kind: str
    status: str
    subject: str
    created_at: str


def oldest_open(store: Store, scope: Scope, limit: int) -> list[OpenTicket]:
    extra, params = _tickets(scope)
    rows = store.query(
        "SELECT t.id, t.type_id, t.kind, t.status, t.subject, t.created_at FROM tickets t"
        f" INDEXED BY tickets_backlog WHERE {_OPEN}{extra} ORDER BY t.created_at, t.id LIMIT ?",
        [*params, limit],
    )
    return [OpenTicket(**dict(r)) for r in rows]


@dataclass(frozen=True)
class MailCount:
    day: str
    disposition: str
    count: int


def mail_taken_in(store: Store, scope: Scope, since: str, until: str) -> list[MailCount]:
    """Messages taken from the mailboxes in the window (the ledger), by day and what became of them."""
    extra, params = "", []
    if scope.ledger_mailbox_id is not None:
        extra, params = " AND mailbox_id = ?", [scope.ledger_mailbox_id]
    rows = store.query(
        "SELECT substr(received_at, 1, 10) AS day, disposition, count(*) AS n FROM ledger INDEXED BY ledger_received"
        f" WHERE received_at >= ? AND received_at < ?{extra} GROUP BY day, disposition",
        [since, until, *params],
    )
    return [MailCount(r["day"], r["disposition"], r["n"]) for r in rows]


@dataclass(frozen=True)
class BounceCounts:
    received: int
    unresolved: int  # of those, still unresolved now


def bounces(store: Store, scope: Scope, since: str, until: str) -> BounceCounts:
    """Bounces recorded in the window; with a type or mailbox, those matched to its tickets."""
    extra, params = _tickets(scope)
    join = " JOIN tickets t ON t.id = b.ticket_id" if extra else ""
    row = store.one(
        "SELECT count(*) AS n, coalesce(sum(b.resolved = 0), 0) AS unresolved FROM bounces b"
        f"{join} WHERE b.created_at >= ? AND b.created_at < ?{extra}",
        [since, until, *params],
    )
    return BounceCounts(row["n"], row["unresolved"]) if row else BounceCounts(0, 0)


def queue_rows(store: Store, scope: Scope, statuses: tuple[str, ...], since: str, until: str) -> dict[str, int]:
    """Outgoing mail written in the window that is now in one of `statuses` (states as `queue list`
    shows them: held and suppressed are pending mail kept back), by state."""
    extra, params = _tickets(scope)
    join = " JOIN tickets t ON t.id = q.ticket_id" if extra else ""
    found = {}
    for status in statuses:
        row = store.one(
            f"SELECT count(*) AS n FROM email_queue q{join} WHERE {queue.STATE_WHERE[status]}"
            f" AND q.created_at >= ? AND q.created_at < ?{extra}",
            [since, until, *params],
        )
        if row and row["n"]:
            found[status] = row["n"]
    return found
