"""The `tickets` table with its `ticket_logs` (every message in or out) and their `attachments`.

Writes run inside the caller's transaction. The read models staff see (`TicketSummary`, `LogView`,
`AttachmentView`) are built here, from one query each.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ticketctl.engine.enums import Direction, TicketKind, TicketStatus
from ticketctl.engine.mail import damage
from ticketctl.engine.mail.message import Attachment
from ticketctl.engine.store import blobs, queue, settings
from ticketctl.engine.store.connection import Store, utcnow

MAX_REFERENCES = 10


@dataclass(frozen=True)
class TicketRecord:
    id: int
    type_id: int | None
    mailbox_id: int | None
    contact_id: int | None
    kind: TicketKind
    status: TicketStatus
    subject: str
    from_email: str
    from_name: str
    error_reason: str | None
    created_at: str
    updated_at: str


def _ticket(row: Any) -> TicketRecord:
    data = dict(row)
    return TicketRecord(**{**data, "kind": TicketKind(data["kind"]), "status": TicketStatus(data["status"])})


def get(store: Store, ticket_id: int) -> TicketRecord | None:
    row = store.one("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
    return _ticket(row) if row else None


def open_ticket(
    store: Store,
    *,
    kind: TicketKind,
    type_id: int | None,
    mailbox_id: int | None,
    contact_id: int | None,
    subject: str,
    from_email: str,
    from_name: str,
    error_reason: str | None = None,
) -> TicketRecord:
    now = utcnow()
    cur = store.conn.execute(
        "INSERT INTO tickets (type_id, mailbox_id, contact_id, kind, status, subject, from_email, from_name,"
        " error_reason, created_at, updated_at) VALUES (?, ?, ?, ?, 'new', ?, ?, ?, ?, ?, ?)",
        (type_id, mailbox_id, contact_id, kind, subject, from_email.lower(), from_name, error_reason, now, now),
    )
    store.remember(("mails", cur.lastrowid), [])  # a new ticket: no correspondence to read
    return TicketRecord(
        int(cur.lastrowid or 0),
        type_id,
        mailbox_id,
        contact_id,
        kind,
        TicketStatus.NEW,
        subject,
        from_email.lower(),
        from_name,
        error_reason,
        now,
        now,
    )


def set_status(store: Store, ticket_id: int, status: TicketStatus | None = None) -> None:
    """Mark the ticket updated now, and move it to `status` when given; a move to another status is
    recorded in `ticket_status_changes` (the report reads when tickets were resolved there)."""
    if status:
        now = utcnow()
        store.conn.execute(
            "INSERT INTO ticket_status_changes (ticket_id, old_status, new_status, changed_at)"
            " SELECT id, status, ?, ? FROM tickets WHERE id = ? AND status != ?",
            (status, now, ticket_id, status),
        )
        store.conn.execute("UPDATE tickets SET status = ?, updated_at = ? WHERE id = ?", (status, now, ticket_id))
    else:
        store.conn.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", (utcnow(), ticket_id))


def set_type(store: Store, ticket_id: int, type_id: int, mailbox_id: int) -> None:
    """An invalid ticket becomes a normal ticket of a type (reassignment)."""
    store.conn.execute(
        "UPDATE tickets SET type_id = ?, kind = 'normal', mailbox_id = coalesce(mailbox_id, ?), updated_at = ?"
        " WHERE id = ?",
        (type_id, mailbox_id, utcnow(), ticket_id),
    )


# --- logs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewLog:
    """A message in or out of a ticket, as it is written."""

    ticket_id: int
    direction: Direction
    from_email: str = ""
    from_name: str = ""
    to_email: str = ""
    to_name: str = ""
    receiver_contact_id: int | None = None
    cc: str = ""
    mail_to: str = ""  # an incoming mail's own To (to_email is who it was passed on to)
    subject: str = ""
    body_text: str = ""
    body_html: str | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    ledger_id: int | None = None
    automatic: str | None = None  # a received mail a machine wrote: why it was taken as automatic
    defects: tuple[str, ...] = ()  # what the parser met in a received mail


def next_log_id(store: Store) -> int:
    """The id the next log will get. Only inside a write transaction, which no other writer can enter:
    the mail we write names its log in the subject tag and the Message-ID before the row exists."""
    assert store.in_transaction, "log ids are allocated inside the transaction that writes the log"
    return _last_log_id(store) + 1


def _last_log_id(store: Store) -> int:
    """The highest log id, read once per write transaction: `add_log`, the only writer of logs, keeps it."""

    def read() -> int:
        row = store.one("SELECT coalesce(max(id), 0) FROM ticket_logs")
        return int(row[0]) if row else 0

    return store.locked(("last_id", "ticket_logs"), read)


def add_log(store: Store, log: NewLog, log_id: int | None = None) -> int:
    cur = store.conn.execute(
        "INSERT INTO ticket_logs (id, ticket_id, direction, from_email, from_name, to_email, to_name,"
        " receiver_contact_id, cc, mail_to, subject, body_text, body_html, message_id, in_reply_to, ledger_id,"
        " automatic, defects, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            log_id,
            log.ticket_id,
            log.direction,
            log.from_email.lower(),
            log.from_name,
            log.to_email.lower(),
            log.to_name,
            log.receiver_contact_id,
            log.cc,
            log.mail_to,
            log.subject,
            log.body_text,
            log.body_html,
            log.message_id,
            log.in_reply_to,
            log.ledger_id,
            log.automatic,
            json.dumps(list(log.defects), ensure_ascii=False) if log.defects else None,
            utcnow(),
        ),
    )
    new_id = int(cur.lastrowid or 0)
    mails = store.recalled(("mails", log.ticket_id))
    if mails is not None:
        address = log.from_email if log.direction == Direction.IN else log.to_email
        mails.append(_Mail(log.direction, address.lower(), log.message_id, log.automatic))
    last = store.recalled(("last_id", "ticket_logs"))
    if log_id is None or (last is not None and new_id > last):  # without an id given, SQLite gives max + 1
        store.remember(("last_id", "ticket_logs"), new_id)
    return new_id


def set_receiver(store: Store, log_id: int, email: str, name: str, contact_id: int | None) -> None:
    """Who an incoming log was passed on to."""
    store.conn.execute(
        "UPDATE ticket_logs SET to_email = ?, to_name = ?, receiver_contact_id = ? WHERE id = ? AND direction = 'in'",
        (email.lower(), name, contact_id, log_id),
    )


@dataclass(frozen=True)
class FirstMessage:
    log_id: int
    subject: str
    body_text: str
    attachment_ids: tuple[int, ...]  # without the whole of a long text: body_text says where it is


def first_message(store: Store, ticket_id: int) -> FirstMessage | None:
    """The mail that opened the ticket, with its attachments."""
    row = store.one(
        "SELECT id, subject, body_text FROM ticket_logs WHERE ticket_id = ? AND direction = 'in' ORDER BY id LIMIT 1",
        (ticket_id,),
    )
    if row is None:
        return None
    ids = attachment_ids(store, row["id"], whole_texts=False)
    return FirstMessage(row["id"], row["subject"], row["body_text"], ids)


@dataclass(frozen=True)
class AutomaticSender:
    """The machine that opened a ticket: its address, and why its mail was taken as automatic."""

    email: str
    why: str


@dataclass(frozen=True)
class Thread:
    """In-Reply-To and References for a mail to one receiver of a ticket."""

    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Mail:
    direction: str
    address: str  # who sent it (in), or to whom we sent it (out)
    message_id: str | None
    automatic: str | None


@dataclass(frozen=True)
class Correspondence:
    """Who wrote to whom on a ticket, oldest first: what the writer asks before it writes a mail (whom not
    to write to, what to thread the mail under)."""

    mails: tuple[_Mail, ...]

    def automatic_opener(self) -> AutomaticSender | None:
        """The sender of the ticket's first mail if a machine wrote it and no mail of theirs on the ticket
        since was a person's; else None."""
        received = [m for m in self.mails if m.direction == Direction.IN]
        first = received[0] if received else None
        if first is None or first.automatic is None:
            return None
        if any(m.address == first.address and m.automatic is None for m in received):
            return None
        return AutomaticSender(first.address, first.automatic)

    def thread(self, receiver: str) -> Thread:
        """Thread a mail to `receiver` under the last message they sent on the ticket, else the last one
        we sent them; References are the messages exchanged with them, oldest first (at most
        MAX_REFERENCES)."""
        mails = [m for m in self.mails if m.message_id is not None and m.address == receiver.lower()]
        if not mails:
            return Thread()
        inbound = [m.message_id for m in mails if m.direction == Direction.IN]
        parent = inbound[-1] if inbound else mails[-1].message_id
        chain = list(dict.fromkeys(m.message_id for m in mails if m.message_id != parent))
        return Thread(parent, (*chain[-(MAX_REFERENCES - 1) :], parent))  # type: ignore[arg-type]


def correspondence(store: Store, ticket_id: int) -> Correspondence:
    """The ticket's correspondence: read once per write transaction; `add_log`, the only writer of logs,
    adds each log it writes, and `set_receiver` changes nothing of it (whom a received mail was passed
    on to is not whom it came from)."""

    def read() -> list[_Mail]:
        rows = store.query(
            "SELECT direction, CASE direction WHEN 'in' THEN from_email ELSE to_email END AS address, message_id,"
            " automatic FROM ticket_logs WHERE ticket_id = ? ORDER BY id",
            (ticket_id,),
        )
        return [_Mail(**dict(r)) for r in rows]

    return Correspondence(tuple(store.locked(("mails", ticket_id), read)))


def automatic_opener(store: Store, ticket_id: int) -> AutomaticSender | None:
    """The machine whose mail opened the ticket, as `Correspondence.automatic_opener` says."""
    return correspondence(store, ticket_id).automatic_opener()


def thread(store: Store, ticket_id: int, receiver: str) -> Thread:
    """How a mail to `receiver` threads on the ticket, as `Correspondence.thread` says."""
    return correspondence(store, ticket_id).thread(receiver)


# --- attachments -----------------------------------------------------------------------------


def add_attachments(store: Store, data_dir: Path, log_id: int, attachments: list[Attachment]) -> list[int]:
    """The attachments of a received mail: each file stored once by content, a row per attachment."""
    ids = []
    for attachment in attachments:
        if attachment.file is not None:  # decoded to a scratch file while parsing: linked into place
            sha = attachment.file.sha256
            blobs.save_blob_file(data_dir, "attachments", attachment.file.path, sha, attachment.file.size)
        else:
            sha = blobs.save_blob(data_dir, "attachments", attachment.payload)
        ids.append(
            _attachment_row(
                store, log_id, attachment.filename, attachment.content_type, attachment.size, sha,
                attachment.content_id, attachment.inline, attachment.whole_text,
            )
        )  # fmt: skip
    return ids


def add_file(store: Store, log_id: int, filename: str, content_type: str, size: int, sha256: str) -> int:
    """An attachment whose content is already in the blob store (a file staff attached to a reply)."""
    return _attachment_row(store, log_id, filename, content_type, size, sha256, None, False)


def _attachment_row(
    store: Store,
    log_id: int,
    filename: str,
    content_type: str,
    size: int,
    sha: str,
    cid: str | None,
    inline: bool,
    whole_text: bool = False,
) -> int:
    cur = store.conn.execute(
        "INSERT INTO attachments (log_id, filename, content_type, size, sha256, content_id, inline, whole_text)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (log_id, filename, content_type, size, sha, cid, int(inline), int(whole_text)),
    )
    return int(cur.lastrowid or 0)


def attachment_ids(store: Store, log_id: int, *, whole_texts: bool = True) -> tuple[int, ...]:
    """A log's attachments; without `whole_texts`, not the file holding the whole of a long body."""
    extra = "" if whole_texts else " AND whole_text = 0"
    rows = store.query(f"SELECT id FROM attachments WHERE log_id = ?{extra} ORDER BY id", (log_id,))  # noqa: S608
    return tuple(r[0] for r in rows)


@dataclass(frozen=True)
class StoredFile:
    id: int
    filename: str
    content_type: str
    sha256: str


def stored_file(store: Store, attachment_id: int) -> StoredFile | None:
    row = store.one("SELECT id, filename, content_type, sha256 FROM attachments WHERE id = ?", (attachment_id,))
    return StoredFile(**dict(row)) if row else None


def files_named(store: Store, ticket_id: int, name: str) -> list[StoredFile]:
    """A ticket's attachments with this file name, or else with this id."""
    base = (
        "SELECT a.id, a.filename, a.content_type, a.sha256 FROM attachments a JOIN ticket_logs l ON l.id = a.log_id"
        " WHERE l.ticket_id = ?"
    )
    rows = store.query(f"{base} AND a.filename = ? ORDER BY a.id", (ticket_id, name))  # noqa: S608
    if not rows and name.isdigit():
        rows = store.query(f"{base} AND a.id = ?", (ticket_id, int(name)))  # noqa: S608
    return [StoredFile(**dict(r)) for r in rows]


# --- what rules read -------------------------------------------------------------------------


def ticket_of_log(store: Store, log_id: int) -> int | None:
    row = store.one("SELECT ticket_id FROM ticket_logs WHERE id = ?", (log_id,))
    return row["ticket_id"] if row else None


def ticket_of_message_ids(store: Store, message_ids: list[str]) -> int | None:
    """The ticket of the newest log carrying one of these Message-IDs (sent or received)."""
    if not message_ids:
        return None
    marks = ", ".join("?" * len(message_ids))
    row = store.one(
        f"SELECT ticket_id FROM ticket_logs WHERE message_id IN ({marks}) ORDER BY id DESC LIMIT 1",  # noqa: S608
        message_ids,
    )
    return row["ticket_id"] if row else None


SENT_TEXTS = 20  # the newest mails of ours a reply is compared with


def sent_texts(store: Store, ticket_id: int) -> list[str]:
    """The texts of the newest mails we sent on a ticket (at most SENT_TEXTS), newest first: what a reply
    may quote of ours."""
    rows = store.query(
        "SELECT body_text FROM ticket_logs WHERE ticket_id = ? AND direction = 'out' ORDER BY id DESC LIMIT ?",
        (ticket_id, SENT_TEXTS),
    )
    return [r["body_text"] for r in rows]


# --- what staff read -------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketSummary:
    id: int
    status: str
    kind: str
    type: str | None
    mailbox: str | None
    subject: str
    from_email: str
    from_name: str
    created_at: str
    updated_at: str
    damaged: bool  # a mail of the ticket arrived damaged (its log lists the defects)


@dataclass(frozen=True)
class TicketQuery:
    """Filters already resolved to ids; every one given must hold."""

    statuses: tuple[str, ...] = ()
    type_id: int | None = None
    mailbox_id: int | None = None
    contact_id: int | None = None
    kinds: tuple[str, ...] = ()
    updated_since: str | None = None
    search: str | None = None  # in subject, sender address and sender name
    damaged: bool = False  # only tickets with a damaged mail


_DAMAGED = "EXISTS (SELECT 1 FROM ticket_logs d WHERE d.ticket_id = t.id AND d.defects IS NOT NULL)"
_COLUMNS = (
    "SELECT t.id, t.status, t.kind, ty.name AS type, m.name AS mailbox, t.subject, t.from_email,"
    f" t.from_name, t.created_at, t.updated_at, {_DAMAGED} AS damaged"
)
_JOINS = "LEFT JOIN ticket_types ty ON ty.id = t.type_id LEFT JOIN mailboxes m ON m.id = t.mailbox_id"
# "created" sorts by id: tickets are numbered in the order they are created, and the primary key needs
# no extra index.
ORDER = {"updated": "t.updated_at {d}, t.id {d}", "created": "t.id {d}", "id": "t.id {d}"}
# A text search first looks only at the newest SEARCH_WINDOW tickets the other filters leave (an index
# walk); only if that cannot fill the page does it scan them all. On a million tickets a word that
# is common answers in ~30 ms, a rare one in ~0.4 s (a plain index walk took 1.4 s).
SEARCH_WINDOW = 20_000


def summaries(store: Store, query: TicketQuery, order: str, limit: int, offset: int) -> list[TicketSummary]:
    """Up to `limit` tickets matching `query` in `order` (an ORDER key with :asc/:desc), after `offset`."""
    key, _, direction = order.partition(":")
    sql_order = ORDER[key].format(d=(direction or "desc").upper())
    where, params = _where(query)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    if query.search:
        rows = _search(store, query.search, clause, params, sql_order, limit, offset)
    else:
        sql = f"{_COLUMNS} FROM tickets t {_JOINS} {clause} ORDER BY {sql_order} LIMIT ? OFFSET ?"
        rows = store.query(sql, [*params, limit, offset])
    return [TicketSummary(**{**dict(r), "damaged": bool(r["damaged"])}) for r in rows]


def count(store: Store, query: TicketQuery, cap: int) -> int:
    """How many tickets match `query`, counted up to `cap` (a bounded count: cheap on a million)."""
    where, params = _where(query)
    if query.search:
        where.append(_MATCH)
        params.extend([_pattern(query.search)] * 3)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    row = store.one(f"SELECT count(*) AS n FROM (SELECT 1 FROM tickets t {clause} LIMIT ?)", [*params, cap])  # noqa: S608
    return int(row["n"]) if row else 0


def _pattern(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


_MATCH = "(t.subject LIKE ? ESCAPE '\\' OR t.from_email LIKE ? ESCAPE '\\' OR t.from_name LIKE ? ESCAPE '\\')"


def _where(q: TicketQuery) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if q.statuses:
        where.append(f"t.status IN ({', '.join('?' for _ in q.statuses)})")
        params.extend(q.statuses)
    for column, value in (("t.type_id", q.type_id), ("t.mailbox_id", q.mailbox_id), ("t.contact_id", q.contact_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if q.kinds:
        where.append(f"t.kind IN ({', '.join('?' for _ in q.kinds)})")
        params.extend(q.kinds)
    if q.updated_since:
        where.append("t.updated_at >= ?")
        params.append(q.updated_since)
    if q.damaged:
        where.append("t.id IN (SELECT d.ticket_id FROM ticket_logs d WHERE d.defects IS NOT NULL)")
    return where, params


def _search(store: Store, text: str, clause: str, params: list[Any], order: str, limit: int, offset: int) -> list[Any]:
    pattern, match = _pattern(text), _MATCH
    page = [*[pattern] * 3, limit, offset]
    if offset + limit <= SEARCH_WINDOW:
        window = f"SELECT * FROM tickets t {clause} ORDER BY {order} LIMIT {SEARCH_WINDOW}"  # noqa: S608
        rows = store.query(
            f"{_COLUMNS} FROM ({window}) t {_JOINS} WHERE {match} ORDER BY {order} LIMIT ? OFFSET ?",  # noqa: S608
            [*params, *page],
        )
        if len(rows) >= limit:
            return rows
        seen = store.one(f"SELECT count(*) AS n FROM ({window})", params)  # noqa: S608
        if seen is not None and seen["n"] < SEARCH_WINDOW:  # the window held every candidate: the answer is complete
            return rows
    # No other filter: reading the table in order beats walking the updated_at index row by row.
    source = "tickets t NOT INDEXED" if not clause else "tickets t"
    where = f"{clause} AND {match}" if clause else f"WHERE {match}"
    return store.query(f"{_COLUMNS} FROM {source} {_JOINS} {where} ORDER BY {order} LIMIT ? OFFSET ?", [*params, *page])  # noqa: S608


@dataclass(frozen=True)
class TicketDetail:
    """A ticket with the names of its type and mailbox."""

    ticket: TicketRecord
    type: str | None
    workflow_tag: str | None
    mailbox: str | None


def detail(store: Store, ticket_id: int) -> TicketDetail | None:
    columns = "t.*, ty.name AS type_name, ty.workflow_tag, m.name AS mailbox_name"
    row = store.one(f"SELECT {columns} FROM tickets t {_JOINS} WHERE t.id = ?", (ticket_id,))  # noqa: S608
    if row is None:
        return None
    data = dict(row)
    names = (data.pop("type_name"), data.pop("workflow_tag"), data.pop("mailbox_name"))
    return TicketDetail(_ticket(data), *names)


@dataclass(frozen=True)
class AttachmentView:
    id: int
    log_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    inline: bool


@dataclass(frozen=True)
class LogView:
    id: int
    direction: str
    from_email: str
    from_name: str
    to_email: str  # incoming: who it was passed on to; outgoing: its recipient
    to_name: str
    cc: str  # the mail's own Cc
    mail_to: str  # incoming: the mail's own To
    subject: str
    text: str
    created_at: str
    has_raw: bool
    delivery: str | None  # how the mail of an outgoing log stands (queue.QueueRow.state: `failed (1/2 sent)`)
    automatic: str | None  # a received mail a machine wrote: why (a note, never passed on)
    attachments: list[AttachmentView] = field(default_factory=list)
    damage: list[str] = field(default_factory=list)  # what was damaged in a received mail, as sentences
    mail_id: int | None = None  # the ledger row of a received mail (`ticketctl mail show`)
    released_by: str | None = None  # staff who released it into the ticket after the rules refused it


def logs(store: Store, ticket_id: int) -> list[LogView]:
    """A ticket's thread, oldest first, each message with its attachments and, for mail we sent, how
    its delivery stands."""
    attachments: dict[int, list[AttachmentView]] = {}
    for a in store.query(
        "SELECT a.id, a.log_id, a.filename, a.content_type, a.size, a.sha256, a.inline FROM attachments a"
        " JOIN ticket_logs l ON l.id = a.log_id WHERE l.ticket_id = ? ORDER BY a.id",
        (ticket_id,),
    ):
        attachments.setdefault(a["log_id"], []).append(AttachmentView(**{**dict(a), "inline": bool(a["inline"])}))
    rows = store.query(
        "SELECT l.*, g.raw_id, g.raw_path, g.released_by, (SELECT q.id FROM email_queue q WHERE q.log_id = l.id"
        " ORDER BY q.id DESC LIMIT 1) AS queue_id FROM ticket_logs l"
        " LEFT JOIN ledger g ON g.id = l.ledger_id WHERE l.ticket_id = ? ORDER BY l.id",
        (ticket_id,),
    )
    delivery = queue.states(store, [r["queue_id"] for r in rows if r["queue_id"] is not None])
    return [
        LogView(
            id=r["id"],
            direction=r["direction"],
            from_email=r["from_email"],
            from_name=r["from_name"],
            to_email=r["to_email"],
            to_name=r["to_name"],
            cc=r["cc"],
            mail_to=r["mail_to"],
            subject=r["subject"],
            text=r["body_text"],
            created_at=r["created_at"],
            has_raw=r["raw_id"] is not None or r["raw_path"] is not None,
            delivery=delivery.get(r["queue_id"]),
            automatic=r["automatic"],
            attachments=attachments.get(r["id"], []),
            damage=[damage.describe(d) for d in json.loads(r["defects"])] if r["defects"] else [],
            mail_id=r["ledger_id"],
            released_by=r["released_by"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Original:
    """Where the raw bytes behind one log are kept (all None: a mail we wrote, or not kept)."""

    direction: str
    ledger_id: int | None
    raw_id: int | None
    raw_path: str | None


def original(store: Store, ticket_id: int, log_id: int) -> Original | None:
    row = store.one(
        "SELECT l.direction, g.id AS ledger_id, g.raw_id, g.raw_path FROM ticket_logs l"
        " LEFT JOIN ledger g ON g.id = l.ledger_id WHERE l.id = ? AND l.ticket_id = ?",
        (log_id, ticket_id),
    )
    return Original(**dict(row)) if row else None


# --- upkeep ----------------------------------------------------------------------------------

ANALYZE_MIN = 10_000  # tickets before statistics are worth taking


def refresh_statistics(store: Store) -> bool:
    """ANALYZE the tickets table once it has ANALYZE_MIN rows, and again each time it has grown tenfold.
    Without statistics SQLite picks a poor index for some `tickets list` filters on a large table
    (several statuses: ~390 ms a page at 1M tickets; under 1 ms after). Returns whether it ran."""
    row = store.one("SELECT max(rowid) FROM tickets")
    count = (row[0] if row else 0) or 0
    last = int(settings.get(store, "tickets_analyzed_at") or 0)
    if count < ANALYZE_MIN or count < 10 * last:
        return False
    with store.transaction() as conn:
        conn.execute("ANALYZE tickets")
        settings.put(store, "tickets_analyzed_at", str(count))
    return True
