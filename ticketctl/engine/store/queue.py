"""The `email_queue` table and its `email_recipients`: every outgoing mail is first a row, written in the
transaction of the ticket log that caused it, with one recipient row per envelope address (To, each Cc).

Delivery claims rows (pending → sending, naming its process), tries the recipients that are due, and
records what the server said to each: `sent`, `pending` again from a later time (a 4xx), or `failed` (a
5xx, or out of attempts). A row's own status, attempts, next try and last error sum its recipients up
(`_sum_up`), so `queue list` still shows one row per mail.

A recipient may be kept back in the queue (outbound/holds.py decides, in the commit that claims the
mail): `held` until its next_attempt_at (a rate window), or `suppressed` until the bounce it names is
resolved. A pending row whose recipients still to go are all kept back shows as `held` or `suppressed`
(its `state`, and what `rows(status=...)` filters by).
"""

# ruff: noqa: S608  (the SQL is built from this module's constants; every value is a bound parameter)

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from ticketctl.engine.enums import QueueStatus
from ticketctl.engine.store.connection import Store, utcnow


@dataclass(frozen=True)
class NewMail:
    """A complete queue row as the writer makes it (its id allocated with `next_id`)."""

    ticket_id: int | None
    log_id: int | None
    purpose: str
    from_email: str
    from_name: str
    to_email: str
    to_name: str
    cc: str
    reply_to: str | None
    subject: str
    body_text: str
    body_html: str | None
    message_id: str
    in_reply_to: str | None
    references: str
    envelope_from: str
    attachments: tuple[int, ...]
    auto_submitted: bool


@dataclass(frozen=True)
class QueueRow(NewMail):
    """A queued mail as stored, with how its delivery stands."""

    id: int
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    created_at: str
    sent_at: str | None
    claimed_by: str | None = None  # `sending`: "host/pid/start time" of the drain that has it
    claimed_at: str | None = None
    recipients_sent: int = 0
    recipients_total: int = 0
    recipients_pending: int = 0
    recipients_held: int = 0
    recipients_suppressed: int = 0
    hold_reason: str | None = None  # the first kept-back recipient's reason

    @property
    def kept_back(self) -> str | None:
        """`held` or `suppressed` when every recipient still to go is kept back (held wins: it has a time)."""
        if self.status != QueueStatus.PENDING or self.recipients_pending:
            return None
        if self.recipients_held:
            return "held"
        return "suppressed" if self.recipients_suppressed else None

    @property
    def next_try(self) -> str | None:
        """When the next attempt is due (held: when it may go), for rows that will be tried again; a
        suppressed row has no time: it waits for its bounce to be resolved."""
        if self.kept_back == "suppressed":
            return None
        return self.next_attempt_at if self.status in (QueueStatus.PENDING, QueueStatus.SENDING) else None

    @property
    def state(self) -> str:
        """The status as a person reads it: `held` or `suppressed` for a pending mail kept back, with how
        many recipients got the mail when some did and some did not yet: `pending (1/2 sent)`."""
        shown = self.kept_back or self.status
        if 0 < self.recipients_sent < self.recipients_total:
            return f"{shown} ({self.recipients_sent}/{self.recipients_total} sent)"
        return shown

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["attachments"] = list(self.attachments)
        data["next_try"] = self.next_try
        data["state"] = self.state
        return data


@dataclass(frozen=True)
class Recipient:
    """One envelope address of a queued mail and how its delivery stands."""

    id: int
    queue_id: int
    address: str
    role: str
    status: str  # pending, sent, failed, held (until next_attempt_at), suppressed (until bounce_id is resolved)
    attempts: int
    next_attempt_at: str
    last_code: int | None
    last_error: str | None
    reason: str | None
    bounce_id: int | None
    sent_at: str | None

    @property
    def next_try(self) -> str | None:
        return self.next_attempt_at if self.status in ("pending", "held") else None

    def public(self) -> dict[str, Any]:
        return {**asdict(self), "next_try": self.next_try}


_ROW_FIELDS = {f.name for f in fields(QueueRow)}
_SELECT = (
    "SELECT q.*,"
    " (SELECT count(*) FROM email_recipients r WHERE r.queue_id = q.id) AS recipients_total,"
    + "".join(
        f" (SELECT count(*) FROM email_recipients r WHERE r.queue_id = q.id AND r.status = '{s}') AS recipients_{s},"
        for s in ("sent", "pending", "held", "suppressed")
    )
    + " (SELECT r.reason FROM email_recipients r WHERE r.queue_id = q.id AND r.status IN ('held', 'suppressed')"
    " ORDER BY r.status, r.id LIMIT 1) AS hold_reason"
    " FROM email_queue q"
)


def _having(status: str) -> str:
    return f"EXISTS (SELECT 1 FROM email_recipients r WHERE r.queue_id = q.id AND r.status = '{status}')"


# What `state` shows, as a WHERE on `email_queue q` (store/report.py counts by it too).
STATE_WHERE = {
    "pending": f"q.status = 'pending' AND ({_having('pending')} OR NOT ({_having('held')} OR {_having('suppressed')}))",
    "held": f"q.status = 'pending' AND NOT {_having('pending')} AND {_having('held')}",
    "suppressed": f"q.status = 'pending' AND NOT {_having('pending')} AND NOT {_having('held')}"
    f" AND {_having('suppressed')}",
    **{s: f"q.status = '{s}'" for s in ("sending", "sent", "failed")},
}


def _row(row: Any) -> QueueRow:
    data = dict(row)
    data["references"] = data.pop("references_") or ""
    data["envelope_from"] = data["envelope_from"] or ""
    data = {k: v for k, v in data.items() if k in _ROW_FIELDS}  # columns other features add stay out
    data["attachments"] = tuple(json.loads(data["attachments"] or "[]"))
    data["auto_submitted"] = bool(data["auto_submitted"])
    return QueueRow(**data)


def next_id(store: Store) -> int:
    """The id the next row will get (only inside a write transaction: the VERP envelope names it)."""
    assert store.in_transaction, "queue ids are allocated inside the transaction that queues the mail"

    def read() -> int:  # the highest id, once per write transaction: `add`, the only writer of rows, keeps it
        row = store.one("SELECT coalesce(max(id), 0) FROM email_queue")
        return int(row[0]) if row else 0

    return store.locked(("last_id", "email_queue"), read) + 1


def add(store: Store, queue_id: int, mail: NewMail, recipients: tuple[tuple[str, str], ...]) -> None:
    """The mail's row and one row per envelope address (`(address, 'to' | 'cc')`, each address once)."""
    now = utcnow()
    store.conn.execute(
        "INSERT INTO email_queue (id, ticket_id, log_id, purpose, from_email, from_name, to_email, to_name,"
        " cc, reply_to, subject, body_text, body_html, message_id, in_reply_to, references_, envelope_from,"
        " attachments, auto_submitted, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            queue_id,
            mail.ticket_id,
            mail.log_id,
            mail.purpose,
            mail.from_email,
            mail.from_name,
            mail.to_email,
            mail.to_name,
            mail.cc,
            mail.reply_to,
            mail.subject,
            mail.body_text,
            mail.body_html,
            mail.message_id,
            mail.in_reply_to,
            mail.references,
            mail.envelope_from,
            json.dumps(list(mail.attachments)),
            int(mail.auto_submitted),
            now,
            now,
        ),
    )
    store.conn.executemany(
        "INSERT OR IGNORE INTO email_recipients (queue_id, address, role, next_attempt_at) VALUES (?, ?, ?, ?)",
        [(queue_id, address, role, now) for address, role in recipients],
    )
    last = store.recalled(("last_id", "email_queue"))
    if last is not None and queue_id > last:
        store.remember(("last_id", "email_queue"), queue_id)


def get(store: Store, queue_id: int) -> QueueRow | None:
    row = store.one(f"{_SELECT} WHERE q.id = ?", (queue_id,))
    return _row(row) if row else None


def states(store: Store, queue_ids: list[int]) -> dict[int, str]:
    """How the delivery of each of these mails stands, as `QueueRow.state` says it (`failed (1/2 sent)`)."""
    rows = (_row(row) for row in store.query_in(_SELECT + " WHERE q.id IN ({marks})", queue_ids))
    return {queued.id: queued.state for queued in rows}


def with_message_id(store: Store, message_id: str) -> QueueRow | None:
    row = store.one(f"{_SELECT} WHERE q.message_id = ?", (message_id,))
    return _row(row) if row else None


def rows(store: Store, status: str | None = None, limit: int | None = None, offset: int = 0) -> list[QueueRow]:
    """Rows newest first, optionally in one state (STATE_WHERE), `offset` rows skipped."""
    where = f" WHERE {STATE_WHERE[status]}" if status else ""
    found = store.query(f"{_SELECT}{where} ORDER BY q.id DESC LIMIT ? OFFSET ?", [limit or -1, offset])
    return [_row(r) for r in found]


def count_rows(store: Store, status: str | None, cap: int) -> int:
    """How many rows (in one state), counted up to `cap`."""
    where = f"WHERE {STATE_WHERE[status]}" if status else ""
    row = store.one(f"SELECT count(*) AS n FROM (SELECT 1 FROM email_queue q {where} LIMIT ?)", [cap])
    return int(row["n"]) if row else 0


def recipients(store: Store, queue_id: int) -> list[Recipient]:
    """The mail's envelope addresses, To first, in the order they were queued."""
    found = store.query(f"{_RECIPIENTS} WHERE queue_id = ? ORDER BY id", (queue_id,))
    return [Recipient(**dict(r)) for r in found]


_RECIPIENTS = (
    "SELECT id, queue_id, address, role, status, attempts, next_attempt_at, last_code, last_error, reason,"
    " bounce_id, sent_at FROM email_recipients"
)


def failed_ids(store: Store) -> list[int]:
    return [r["id"] for r in store.query("SELECT id FROM email_queue WHERE status = 'failed' ORDER BY id")]


def make_due(store: Store, queue_id: int, now: str) -> None:
    """The recipients still waiting or failed are due now, with a fresh count of attempts; those who
    got the mail are left alone (never sent twice)."""
    store.conn.execute(
        "UPDATE email_recipients SET status = 'pending', attempts = 0, next_attempt_at = ?"
        " WHERE queue_id = ? AND status IN ('pending', 'failed')",
        (now, queue_id),
    )
    _sum_up(store, queue_id)


# --- delivery --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowClaim:
    """A row to send (or being sent), without its content: its status and who claimed it when."""

    id: int
    status: str
    claimed_by: str | None
    claimed_at: str | None


_DUE = (
    "EXISTS (SELECT 1 FROM email_recipients r WHERE r.queue_id = q.id"
    " AND r.status IN ('pending', 'held') AND r.next_attempt_at <= ?)"
)  # a held recipient is due when its time came: the screen at claim time checks its window again


def due(store: Store, now: str, limit: int | None = None) -> list[RowClaim]:
    """Rows with a recipient due now: the pending ones (oldest due first, at most `limit`), then every
    `sending` one; whether the process that claimed those is still at work is for the caller to judge."""
    sql = (
        "SELECT id, status, claimed_by, claimed_at FROM email_queue q WHERE status = 'pending' AND next_attempt_at <= ?"
        f" AND {_DUE} ORDER BY next_attempt_at, id LIMIT ?"
    )
    found = [RowClaim(**dict(r)) for r in store.query(sql, (now, now, -1 if limit is None else limit))]
    return found + sending(store, due_at=now)


def sending(store: Store, due_at: str | None = None) -> list[RowClaim]:
    """Rows claimed by a drain (with a recipient due at `due_at`, when given)."""
    sql = "SELECT id, status, claimed_by, claimed_at FROM email_queue q WHERE status = 'sending'"
    params: list[object] = []
    if due_at is not None:
        sql += f" AND {_DUE}"
        params.append(due_at)
    return [RowClaim(**dict(r)) for r in store.query(sql + " ORDER BY id", params)]


@dataclass(frozen=True)
class Hold:
    """A recipient kept back in the queue: `held` until `until` (a rate window), or `suppressed` (its
    address bounced: `bounce_id`) until that bounce is resolved; `reason` says why, as a sentence."""

    recipient_id: int
    status: str  # held, suppressed
    reason: str
    until: str | None = None
    bounce_id: int | None = None


Screen = Callable[[QueueRow, list[Recipient]], list[Hold]]


@dataclass(frozen=True)
class Claimed:
    """A mail this drain claimed, and its recipients to try now (those the screen kept back left out)."""

    row: QueueRow
    to: list[Recipient]


def claim(store: Store, rows: list[RowClaim], claimer: str, at: str, screen: Screen | None = None) -> list[QueueRow]:
    """The rows `claim_due` claims."""
    return [claimed.row for claimed in claim_due(store, rows, claimer, at, screen)]


def claim_due(store: Store, rows: list[RowClaim], claimer: str, at: str, screen: Screen | None = None) -> list[Claimed]:
    """→ sending, claimed by `claimer`, for the rows still as `due` saw them (another drain may have
    taken some meanwhile). `screen` is shown each row taken with its recipients due and says which to
    keep back: they are held or suppressed in the same commit (a held one it lets go is pending again),
    and a row left with nobody to send to now is not claimed. One commit; returns the claimed rows with
    their recipients to try. No attempt is counted here: a claim is not a try."""
    taken: list[Claimed] = []
    with store.transaction() as conn:
        # read once, before the claims: each claim and screen below changes its own mail's recipients only
        due = _due_recipients(store, [row.id for row in rows], at)
        for row in rows:
            found = conn.execute(
                "UPDATE email_queue SET status = 'sending', claimed_by = ?, claimed_at = ?"
                " WHERE id = ? AND status = ? AND claimed_by IS ? RETURNING *",
                (claimer, at, row.id, row.status, row.claimed_by),
            ).fetchone()
            if found is None:
                continue
            mail = _row(found)
            ready = due.get(mail.id, [])
            # screened one at a time, as claimed: what this claim took counts for the next mail's windows
            going = _screened(store, mail, ready, screen) if screen is not None else ready
            if going:
                taken.append(Claimed(mail, going))
                continue
            conn.execute("UPDATE email_queue SET claimed_by = NULL, claimed_at = NULL WHERE id = ?", (mail.id,))
            _sum_up(store, mail.id)
    return taken


def _screened(store: Store, row: QueueRow, ready: list[Recipient], screen: Screen) -> list[Recipient]:
    """Keep back whom `screen` says; the recipients left to send to now."""
    kept = screen(row, ready)
    if kept:
        store.conn.executemany(
            "UPDATE email_recipients SET status = ?, reason = ?, next_attempt_at = coalesce(?, next_attempt_at),"
            " bounce_id = ? WHERE id = ?",
            [(k.status, k.reason, k.until, k.bounce_id, k.recipient_id) for k in kept],
        )
    held = {k.recipient_id for k in kept}
    going = [r for r in ready if r.id not in held]
    let_go = [(r.id,) for r in going if r.status == "held"]
    if let_go:
        store.conn.executemany("UPDATE email_recipients SET status = 'pending', reason = NULL WHERE id = ?", let_go)
    return going


def _due(recipient: Recipient, now: str) -> bool:
    return recipient.status in ("pending", "held") and recipient.next_attempt_at <= now


def due_recipients(store: Store, queue_id: int, now: str) -> list[Recipient]:
    """The recipients to try now: pending and due, or held and their time came."""
    return [r for r in recipients(store, queue_id) if _due(r, now)]


def _due_recipients(store: Store, queue_ids: list[int], now: str) -> dict[int, list[Recipient]]:
    """`due_recipients` of each of these mails, in one query (a chunk of ids at a time)."""
    found: dict[int, list[Recipient]] = {}
    for r in store.query_in(f"{_RECIPIENTS} WHERE queue_id IN ({{marks}}) ORDER BY queue_id, id", queue_ids):
        recipient = Recipient(**dict(r))
        if _due(recipient, now):
            found.setdefault(recipient.queue_id, []).append(recipient)
    return found


@dataclass(frozen=True)
class Attempt:
    """What one try did for one recipient: `sent`, `pending` (tried again from `next_attempt_at`) or
    `failed` for good, with the server's code and words when it refused."""

    recipient_id: int
    queue_id: int
    status: str
    at: str
    code: int | None = None
    error: str | None = None
    next_attempt_at: str | None = None


def record(store: Store, attempts: list[Attempt], release: tuple[int, ...] = ()) -> None:
    """Write what the tries did, release the claims of their rows (and of `release`), and sum each row
    up again. One commit."""
    with store.transaction() as conn:
        conn.executemany(
            "UPDATE email_recipients SET status = ?, attempts = attempts + 1, last_code = ?, last_error = ?,"
            " next_attempt_at = coalesce(?, next_attempt_at), sent_at = CASE WHEN ? = 'sent' THEN ? END"
            " WHERE id = ?",
            [(a.status, a.code, a.error, a.next_attempt_at, a.status, a.at, a.recipient_id) for a in attempts],
        )
        queue_ids = list(dict.fromkeys([*(a.queue_id for a in attempts), *release]))
        store.execute_in("UPDATE email_queue SET claimed_by = NULL, claimed_at = NULL WHERE id IN ({marks})", queue_ids)
        for queue_id in queue_ids:
            _sum_up(store, queue_id)


# --- held back ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Traffic:
    """The mail that counts for a rate window, of one address or one ticket, the latest `limit` of each
    kind (a window of `count` looks at its latest `count`): when each went (sent since the window's
    start; claimed by a drain and due, i.e. in flight: `now`), and when each held one may go."""

    went: list[str]
    waiting: list[str]


def _counted(exempt: tuple[str, ...]) -> tuple[str, list[Any]]:
    return (f" AND q.purpose NOT IN ({', '.join('?' * len(exempt))})" if exempt else ""), list(exempt)


def _traffic(store: Store, went: str, in_flight: str, waiting: str, params: list[Any]) -> Traffic:
    found = store.query(
        f"SELECT * FROM (SELECT 'went' AS kind, at FROM ({went} ORDER BY at DESC LIMIT ?))"
        f" UNION ALL SELECT 'went', ? FROM ({in_flight})"
        f" UNION ALL SELECT * FROM (SELECT 'waiting', at FROM ({waiting} ORDER BY at DESC LIMIT ?))",
        params,
    )
    return Traffic([r["at"] for r in found if r["kind"] == "went"], [r["at"] for r in found if r["kind"] != "went"])


def to_address(
    store: Store, address: str, since: str, now: str, exempt: tuple[str, ...], excluding: int, limit: int
) -> Traffic:
    """What went to `address` since `since` and what waits for it, of mail whose purpose is not in
    `exempt`, but for the mail `excluding` (the one asking)."""
    purpose, kinds = _counted(exempt)
    mail = f"FROM email_recipients r JOIN email_queue q ON q.id = r.queue_id WHERE r.address = ? AND q.id != ?{purpose}"
    # in flight: from the few rows claimed now (CROSS JOIN: those first), not from every pending recipient
    claimed = "FROM email_queue q CROSS JOIN email_recipients r ON r.queue_id = q.id WHERE q.status = 'sending'"
    return _traffic(
        store,
        f"SELECT r.sent_at AS at {mail} AND r.status = 'sent' AND r.sent_at > ?",
        f"SELECT 1 {claimed} AND r.address = ? AND q.id != ?{purpose} AND r.status = 'pending'"
        " AND r.next_attempt_at <= ?",
        f"SELECT r.next_attempt_at AS at {mail} AND r.status = 'held'",
        [address, excluding, *kinds, since, limit, now, address, excluding, *kinds, now]
        + [address, excluding, *kinds, limit],
    )


def on_ticket(
    store: Store, ticket_id: int, since: str, now: str, exempt: tuple[str, ...], excluding: int, limit: int
) -> Traffic:
    """What went out on the ticket since `since` and what waits, mail by mail (as `to_address`)."""
    purpose, kinds = _counted(exempt)
    mail = f"FROM email_queue q WHERE q.ticket_id = ? AND q.id != ?{purpose}"
    recipients = "FROM email_recipients r WHERE r.queue_id = q.id"
    return _traffic(
        store,
        f"SELECT (SELECT max(r.sent_at) {recipients} AND r.status = 'sent') AS at {mail} AND at > ?",
        f"SELECT 1 {mail} AND q.status = 'sending'"
        f" AND EXISTS (SELECT 1 {recipients} AND r.status = 'pending' AND r.next_attempt_at <= ?)",
        f"SELECT (SELECT min(r.next_attempt_at) {recipients} AND r.status = 'held') AS at {mail} AND at IS NOT NULL",
        [ticket_id, excluding, *kinds, since, limit, now, ticket_id, excluding, *kinds, now]
        + [ticket_id, excluding, *kinds, limit],
    )


def release_suppressed(store: Store, address: str, now: str) -> list[int]:
    """The recipients suppressed at `address` are pending again, due now; returns their mails' ids."""
    found = store.query(
        "UPDATE email_recipients SET status = 'pending', reason = NULL, bounce_id = NULL, next_attempt_at = ?"
        " WHERE address = ? AND status = 'suppressed' RETURNING queue_id",
        (now, address),
    )
    ids = sorted({r["queue_id"] for r in found})
    for queue_id in ids:
        _sum_up(store, queue_id)
    return ids


def suppress_again(store: Store, address: str, bounce_id: int, reason: str) -> list[int]:
    """The recipients suppressed at `address` wait for another bounce now; returns their mails' ids."""
    found = store.query(
        "UPDATE email_recipients SET bounce_id = ?, reason = ? WHERE address = ? AND status = 'suppressed'"
        " RETURNING queue_id",
        (bounce_id, reason, address),
    )
    return sorted({r["queue_id"] for r in found})


def suppressed_by(store: Store, bounce_id: int) -> list[int]:
    """The mails a bounce keeps back (a recipient suppressed under it)."""
    found = store.query(
        "SELECT DISTINCT queue_id FROM email_recipients WHERE bounce_id = ? AND status = 'suppressed'"
        " ORDER BY queue_id",
        (bounce_id,),
    )
    return [r["queue_id"] for r in found]


def _sum_up(store: Store, queue_id: int) -> None:
    """The row's status, attempts, next try, last error and time sent, from its recipients: `sent` when
    every one got it, `pending` while one is still to go (pending, held or suppressed), else `failed`;
    `sending` while claimed. A row without recipient rows (none recorded) keeps its status."""
    store.conn.execute(_SUM_UP, (queue_id,))


_SUM_UP = """
UPDATE email_queue AS q SET
    status = CASE
        WHEN q.claimed_by IS NOT NULL THEN 'sending'
        WHEN NOT EXISTS (SELECT 1 FROM email_recipients r WHERE r.queue_id = q.id AND r.status != 'sent')
            THEN 'sent'
        WHEN EXISTS (SELECT 1 FROM email_recipients r WHERE r.queue_id = q.id
                     AND r.status IN ('pending', 'held', 'suppressed')) THEN 'pending'
        ELSE 'failed' END,
    attempts = coalesce((SELECT max(r.attempts) FROM email_recipients r WHERE r.queue_id = q.id), q.attempts),
    next_attempt_at = coalesce((SELECT min(r.next_attempt_at) FROM email_recipients r
                                WHERE r.queue_id = q.id AND r.status IN ('pending', 'held')), q.next_attempt_at),
    last_error = (SELECT r.last_error FROM email_recipients r
                  WHERE r.queue_id = q.id AND r.status != 'sent' AND r.last_error IS NOT NULL ORDER BY r.id LIMIT 1),
    sent_at = (SELECT max(r.sent_at) FROM email_recipients r WHERE r.queue_id = q.id
               HAVING count(*) = count(r.sent_at))  -- only a sent recipient has a time sent
WHERE q.id = ? AND EXISTS (SELECT 1 FROM email_recipients r WHERE r.queue_id = q.id)
"""


# --- health ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueCounts:
    by_status: dict[str, int]  # by state: pending counts neither held nor suppressed mail
    overdue: int  # pending (or held) and due before the moment asked about
    oldest_pending_at: str | None
    held_until: str | None = None  # when the first held mail may go


def counts(store: Store, overdue_before: str) -> QueueCounts:
    by_status = {
        r["status"]: r["n"] for r in store.query("SELECT status, count(*) AS n FROM email_queue GROUP BY status")
    }
    for kept in ("held", "suppressed"):
        row = store.one(f"SELECT count(*) AS n FROM email_queue q WHERE {STATE_WHERE[kept]}")
        if row and row["n"]:
            by_status[kept] = row["n"]
            by_status["pending"] -= row["n"]
    overdue = store.one(
        "SELECT count(*) AS n FROM email_queue q WHERE q.status = 'pending' AND q.next_attempt_at < ?"
        f" AND NOT ({STATE_WHERE['suppressed']})",  # a suppressed mail has no time: it waits for staff
        (overdue_before,),
    )
    oldest = store.one(f"SELECT min(created_at) AS at FROM email_queue q WHERE {STATE_WHERE['pending']}")
    held = store.one(f"SELECT min(next_attempt_at) AS at FROM email_queue q WHERE {STATE_WHERE['held']}")
    return QueueCounts(
        by_status, overdue["n"] if overdue else 0, oldest["at"] if oldest else None, held["at"] if held else None
    )
