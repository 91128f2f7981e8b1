"""Staff's view of the queue: list and show tickets, their stored mail and attachments, change status,
and reassign an invalid ticket to a type.

Status transitions (`TRANSITIONS`):

    new       -> open, answered, waiting, resolved, closed   (the pipeline makes tickets `new`)
    open      -> answered, waiting, resolved, closed
    answered  -> open, waiting, resolved, closed             (staff replied)
    waiting   -> open, answered, resolved, closed            (waiting for the customer)
    resolved  -> open, closed                                (reopen, or close for good)
    closed    -> open                                        (only an explicit reopen)

Nothing goes back to `new`: it means "nobody has looked at this yet". Setting the status a ticket
already has is a no-op, not an error, so scripts can repeat themselves.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ticketctl.engine.admin import mailboxes, tickettypes
from ticketctl.engine.config import Config
from ticketctl.engine.desk.statuses import STATUSES, TRANSITIONS
from ticketctl.engine.errors import ConfigError, NotAllowed, NotFound, StoreError
from ticketctl.engine.store import rawstore
from ticketctl.engine.store.connection import Store, utcnow

SORTS = ("updated", "created", "id")
# "created" sorts by id: tickets are numbered in the order they are created, and the primary key
# needs no extra index.
_COLUMNS = (
    "SELECT t.id, t.status, t.kind, ty.name AS type, m.name AS mailbox, t.subject, t.from_email,"
    " t.from_name, t.created_at, t.updated_at"
)
_JOINS = "LEFT JOIN ticket_types ty ON ty.id = t.type_id LEFT JOIN mailboxes m ON m.id = t.mailbox_id"
# A text search first looks only at the newest SEARCH_WINDOW tickets the other filters leave (an index
# walk); only if that cannot fill the page does it scan them all. On a million tickets a word that
# is common answers in ~30 ms, a rare one in ~0.4 s (a plain index walk took 1.4 s).
SEARCH_WINDOW = 20_000
_ORDER = {"updated": "t.updated_at {d}, t.id {d}", "created": "t.id {d}", "id": "t.id {d}"}


@dataclass(frozen=True)
class TicketFilters:
    statuses: tuple[str, ...] = ()
    type_name: str | None = None
    mailbox: str | None = None
    contact: str | None = None  # an email address
    invalid: bool = False
    error: bool = False
    since: str | None = None  # YYYY-MM-DD or an ISO time: updated on or after
    search: str | None = None  # in subject, sender address and sender name


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


@dataclass(frozen=True)
class TicketPage:
    tickets: list[TicketSummary]
    limit: int
    offset: int
    has_more: bool


@dataclass(frozen=True)
class ContactView:
    id: int
    email: str
    name: str
    role: str


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
    to_email: str
    to_name: str
    cc: str
    subject: str
    text: str
    created_at: str
    has_raw: bool
    delivery: str | None  # the email queue's status for an outgoing log
    attachments: list[AttachmentView] = field(default_factory=list)


@dataclass(frozen=True)
class AssignmentView:
    status: str
    submissions: int
    course: str | None
    student: str | None
    tutor: str | None
    updated_at: str


@dataclass(frozen=True)
class BounceView:
    id: int
    address: str
    permanent: bool
    status_code: str | None
    diagnostic: str | None
    resolved: bool
    created_at: str


@dataclass(frozen=True)
class TicketView:
    id: int
    kind: str
    status: str
    type: str | None
    workflow_tag: str | None
    mailbox: str | None
    contact: ContactView | None
    subject: str
    from_email: str
    from_name: str
    error_reason: str | None
    created_at: str
    updated_at: str
    allowed_statuses: tuple[str, ...]
    logs: list[LogView]
    assignment: AssignmentView | None
    bounces: list[BounceView]

    @property
    def attachments(self) -> list[AttachmentView]:
        return [a for log in self.logs for a in log.attachments]


def list_tickets(
    store: Store, filters: TicketFilters, sort: str = "updated", limit: int = 50, offset: int = 0
) -> TicketPage:
    """One page of tickets matching every filter, newest first unless `sort` ends in ':asc'."""
    where, params = _where(store, filters)
    key, _, direction = sort.partition(":")
    if key not in SORTS or direction not in ("", "asc", "desc"):
        raise ConfigError(f"Sort '{sort}' is not valid; use updated, created or id, optionally with :asc or :desc.")
    if limit < 1 or offset < 0:
        raise ConfigError("The limit must be at least 1 and the offset not negative.")
    order = _ORDER[key].format(d=(direction or "desc").upper())
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    if filters.search:
        rows = _search(store, filters.search, clause, params, order, limit, offset)
    else:
        sql = f"{_COLUMNS} FROM tickets t {_JOINS} {clause} ORDER BY {order} LIMIT ? OFFSET ?"
        rows = store.query(sql, [*params, limit + 1, offset])
    tickets = [TicketSummary(**dict(r)) for r in rows[:limit]]
    return TicketPage(tickets=tickets, limit=limit, offset=offset, has_more=len(rows) > limit)


def _search(store: Store, text: str, clause: str, params: list[Any], order: str, limit: int, offset: int) -> list[Any]:
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"
    match = "(t.subject LIKE ? ESCAPE '\\' OR t.from_email LIKE ? ESCAPE '\\' OR t.from_name LIKE ? ESCAPE '\\')"
    page = [*[pattern] * 3, limit + 1, offset]
    if offset + limit < SEARCH_WINDOW:
        window = f"SELECT * FROM tickets t {clause} ORDER BY {order} LIMIT {SEARCH_WINDOW}"  # noqa: S608
        rows = store.query(
            f"{_COLUMNS} FROM ({window}) t {_JOINS} WHERE {match} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, *page],
        )
        if len(rows) > limit:
            return rows
        seen = store.one(f"SELECT count(*) AS n FROM ({window})", params)["n"]  # noqa: S608
        if seen < SEARCH_WINDOW:  # the window held every candidate: the answer is complete
            return rows
    # No other filter: reading the table in order beats walking the updated_at index row by row.
    source = "tickets t NOT INDEXED" if not clause else "tickets t"
    where = f"{clause} AND {match}" if clause else f"WHERE {match}"
    return store.query(f"{_COLUMNS} FROM {source} {_JOINS} {where} ORDER BY {order} LIMIT ? OFFSET ?", [*params, *page])


def _where(store: Store, f: TicketFilters) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for status in f.statuses:
        _check_status(status)
    if f.statuses:
        where.append(f"t.status IN ({', '.join('?' for _ in f.statuses)})")
        params.extend(f.statuses)
    if f.type_name:
        where.append("t.type_id = ?")
        params.append(tickettypes.get(store, f.type_name).id)
    if f.mailbox:
        where.append("t.mailbox_id = ?")
        params.append(mailboxes.get(store, f.mailbox).id)
    if f.contact:
        row = store.one("SELECT id FROM contacts WHERE email = ?", (f.contact.strip(),))
        if row is None:
            raise NotFound(f"There is no contact with the address '{f.contact}'.")
        where.append("t.contact_id = ?")
        params.append(row["id"])
    kinds = [k for k, on in (("invalid", f.invalid), ("error", f.error)) if on]
    if kinds:
        where.append(f"t.kind IN ({', '.join('?' for _ in kinds)})")
        params.extend(kinds)
    if f.since:
        where.append("t.updated_at >= ?")
        params.append(parse_since(f.since))
    return where, params


def parse_since(value: str) -> str:
    """A date or ISO time as the stored UTC form, for comparing with `updated_at`."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"'{value}' is not a date; give --since as YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS.") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def get_ticket(store: Store, ticket_id: int) -> TicketView:
    """The ticket with its contact, type, thread, attachments, assignment and bounces."""
    row = store.one(
        "SELECT t.*, ty.name AS type, ty.workflow_tag, m.name AS mailbox FROM tickets t"
        " LEFT JOIN ticket_types ty ON ty.id = t.type_id LEFT JOIN mailboxes m ON m.id = t.mailbox_id"
        " WHERE t.id = ?",
        (ticket_id,),
    )
    if row is None:
        raise _no_ticket(ticket_id)
    contact = None
    if row["contact_id"] is not None:
        c = store.one("SELECT id, email, name, role FROM contacts WHERE id = ?", (row["contact_id"],))
        contact = ContactView(**dict(c)) if c else None
    return TicketView(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        type=row["type"],
        workflow_tag=row["workflow_tag"],
        mailbox=row["mailbox"],
        contact=contact,
        subject=row["subject"],
        from_email=row["from_email"],
        from_name=row["from_name"],
        error_reason=row["error_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        allowed_statuses=TRANSITIONS[row["status"]],
        logs=_logs(store, ticket_id),
        assignment=_assignment(store, ticket_id),
        bounces=_bounces(store, ticket_id),
    )


def _logs(store: Store, ticket_id: int) -> list[LogView]:
    attachments: dict[int, list[AttachmentView]] = {}
    for a in store.query(
        "SELECT a.id, a.log_id, a.filename, a.content_type, a.size, a.sha256, a.inline FROM attachments a"
        " JOIN ticket_logs l ON l.id = a.log_id WHERE l.ticket_id = ? ORDER BY a.id",
        (ticket_id,),
    ):
        attachments.setdefault(a["log_id"], []).append(AttachmentView(**{**dict(a), "inline": bool(a[6])}))
    rows = store.query(
        "SELECT l.*, g.raw_id, g.raw_path, (SELECT q.status FROM email_queue q WHERE q.log_id = l.id"
        " ORDER BY q.id DESC LIMIT 1) AS delivery FROM ticket_logs l"
        " LEFT JOIN ledger g ON g.id = l.ledger_id WHERE l.ticket_id = ? ORDER BY l.id",
        (ticket_id,),
    )
    return [
        LogView(
            id=r["id"],
            direction=r["direction"],
            from_email=r["from_email"],
            from_name=r["from_name"],
            to_email=r["to_email"],
            to_name=r["to_name"],
            cc=r["cc"],
            subject=r["subject"],
            text=r["body_text"],
            created_at=r["created_at"],
            has_raw=r["raw_id"] is not None or r["raw_path"] is not None,
            delivery=r["delivery"],
            attachments=attachments.get(r["id"], []),
        )
        for r in rows
    ]


def _assignment(store: Store, ticket_id: int) -> AssignmentView | None:
    row = store.one(
        "SELECT a.status, a.submissions, co.name AS course, s.email AS student, tu.email AS tutor,"
        " a.updated_at FROM assignments a LEFT JOIN courses co ON co.id = a.course_id"
        " LEFT JOIN contacts s ON s.id = a.student_id LEFT JOIN contacts tu ON tu.id = a.tutor_id"
        " WHERE a.ticket_id = ?",
        (ticket_id,),
    )
    return AssignmentView(**dict(row)) if row else None


def _bounces(store: Store, ticket_id: int) -> list[BounceView]:
    rows = store.query(
        "SELECT id, address, permanent, status_code, diagnostic, resolved, created_at FROM bounces"
        " WHERE ticket_id = ? ORDER BY id",
        (ticket_id,),
    )
    return [BounceView(**{**dict(r), "permanent": bool(r["permanent"]), "resolved": bool(r["resolved"])}) for r in rows]


def raw_message(store: Store, ticket_id: int, log_id: int) -> bytes:
    """The original message, as received, behind one incoming log of the ticket."""
    _ticket_row(store, ticket_id)
    row = store.one(
        "SELECT l.direction, g.raw_id, g.raw_path, g.id AS ledger_id FROM ticket_logs l"
        " LEFT JOIN ledger g ON g.id = l.ledger_id WHERE l.id = ? AND l.ticket_id = ?",
        (log_id, ticket_id),
    )
    if row is None:
        raise NotFound(f"Ticket {ticket_id} has no log {log_id}; `ticketctl tickets show {ticket_id}` lists its logs.")
    if row["ledger_id"] is None:
        raise NotFound(
            f"Log {log_id} of ticket {ticket_id} is a mail ticketctl wrote, not one it received; "
            "there is no original to show."
        )
    if row["raw_id"] is None and row["raw_path"] is None:
        raise NotFound(f"The original of log {log_id} was not kept (it was too big to store).")
    if row["raw_path"] is not None:
        _blob_path(store, row["raw_path"])  # refuses a path outside the data directory
    try:
        raw = rawstore.read(store.conn, store.data_dir, row["raw_id"], row["raw_path"])
    except OSError as exc:
        raise StoreError(
            f"The stored original of log {log_id} cannot be read ({exc.strerror}); "
            f"check {row['raw_path']} in the data directory."
        ) from exc
    if raw is None:
        raise StoreError(f"The stored original of log {log_id} is missing from the database; restore a backup.")
    return raw


def save_attachment(store: Store, ticket_id: int, name: str, out_path: Path, overwrite: bool = False) -> Path:
    """Copy an attachment of the ticket (by file name, or by id) to `out_path`; returns the file written.

    If `out_path` is a directory the file gets the attachment's name there, reduced to a plain name.
    """
    attachment = _find_attachment(store, ticket_id, name)
    source = _blob_path(store, f"attachments/{attachment['sha256'][:2]}/{attachment['sha256']}")
    target = out_path / plain_filename(attachment["filename"], attachment["id"]) if out_path.is_dir() else out_path
    if target.exists() and not overwrite:
        raise NotAllowed(f"{target} already exists; choose another --out path or add --force.")
    try:
        shutil.copyfile(source, target)
    except FileNotFoundError as exc:
        if not source.exists():
            raise StoreError(
                f"The stored file of attachment '{attachment['filename']}' is missing from the data "
                f"directory ({source})."
            ) from exc
        raise ConfigError(f"Cannot write {target}: {exc.strerror}; check the --out path.") from exc
    except OSError as exc:
        raise ConfigError(f"Cannot write {target}: {exc.strerror}; check the --out path.") from exc
    return target


def _find_attachment(store: Store, ticket_id: int, name: str) -> Any:
    _ticket_row(store, ticket_id)
    base = (
        "SELECT a.id, a.filename, a.sha256 FROM attachments a JOIN ticket_logs l ON l.id = a.log_id"
        " WHERE l.ticket_id = ?"
    )
    rows = store.query(f"{base} AND a.filename = ? ORDER BY a.id", (ticket_id, name))  # noqa: S608
    if not rows and name.isdigit():
        rows = store.query(f"{base} AND a.id = ?", (ticket_id, int(name)))  # noqa: S608
    if not rows:
        raise NotFound(
            f"Ticket {ticket_id} has no attachment named '{name}'; `ticketctl tickets show {ticket_id}` lists them."
        )
    if len({r["sha256"] for r in rows}) > 1:
        ids = ", ".join(str(r["id"]) for r in rows)
        raise NotAllowed(
            f"Ticket {ticket_id} has several different attachments named '{name}' (ids {ids}); "
            "give the id instead of the name."
        )
    return rows[0]


def plain_filename(filename: str, attachment_id: int) -> str:
    """A file name that cannot leave its directory or hide as a dot-file."""
    name = re.sub(r"[\x00-\x1f\x7f/\\:]", "_", Path(filename.replace("\\", "/")).name).strip(" .")
    return name or f"attachment-{attachment_id}"


def _blob_path(store: Store, relative: str) -> Path:
    root = store.data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise StoreError(f"A stored path ({relative}) points outside the data directory; refusing to read it.")
    return path


def set_status(store: Store, ticket_id: int, status: str) -> TicketView:
    """Move a ticket to `status` if `TRANSITIONS` allows it; the same status again changes nothing."""
    _check_status(status)
    with store.transaction() as conn:
        current = _ticket_row(store, ticket_id)["status"]
        if status != current:
            if status not in TRANSITIONS[current]:
                allowed = ", ".join(TRANSITIONS[current])
                raise NotAllowed(
                    f"Ticket {ticket_id} is {current} and cannot become {status}; from {current} it can "
                    f"become: {allowed}."
                )
            conn.execute("UPDATE tickets SET status = ?, updated_at = ? WHERE id = ?", (status, utcnow(), ticket_id))
    return get_ticket(store, ticket_id)


def resolve(store: Store, ticket_id: int) -> TicketView:
    return set_status(store, ticket_id, "resolved")


def reassign(store: Store, config: Config, ticket_id: int, type_name: str) -> TicketView:
    """Give an invalid ticket its type and queue the notice a new ticket of that type would have sent."""
    from ticketctl.engine.flows.notices import queue_new_ticket_notice

    ticket_type = tickettypes.get(store, type_name)
    with store.transaction() as conn:
        row = _ticket_row(store, ticket_id)
        if row["type_id"] is not None or row["kind"] != "invalid":
            what = (
                f"has the type '{tickettypes.get_by_id(store, row['type_id']).name}'"
                if row["type_id"] is not None
                else f"is an {row['kind']} ticket"
            )
            raise NotAllowed(
                f"Ticket {ticket_id} {what}; only an invalid ticket (one no type matched) can be reassigned."
            )
        conn.execute(
            "UPDATE tickets SET type_id = ?, kind = 'normal', mailbox_id = coalesce(mailbox_id, ?),"
            " updated_at = ? WHERE id = ?",
            (ticket_type.id, ticket_type.mailbox_id, utcnow(), ticket_id),
        )
        queue_new_ticket_notice(conn, store, config, ticket_id, purpose="reassigned")
    return get_ticket(store, ticket_id)


def _ticket_row(store: Store, ticket_id: int) -> Any:
    row = store.one("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
    if row is None:
        raise _no_ticket(ticket_id)
    return row


def _no_ticket(ticket_id: int) -> NotFound:
    return NotFound(f"There is no ticket {ticket_id}; `ticketctl tickets list` shows the tickets.")


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ConfigError(f"Status '{status}' is not valid; use one of: {', '.join(STATUSES)}.")
