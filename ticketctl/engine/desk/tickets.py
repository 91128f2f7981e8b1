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

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ticketctl.engine.config import Config
from ticketctl.engine.desk.statuses import STATUSES, TRANSITIONS
from ticketctl.engine.enums import TicketKind, TicketStatus
from ticketctl.engine.errors import ConfigError, NotAllowed, NotFound, StoreError
from ticketctl.engine.flows.flow import FlowContext
from ticketctl.engine.flows.tasks import flow_for
from ticketctl.engine.store import assignments, bounces, contacts, mailboxes, participants, rawstore, tickets, types
from ticketctl.engine.store.assignments import AssignmentSummary
from ticketctl.engine.store.bounces import BounceView
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.contacts import Contact
from ticketctl.engine.store.participants import Participant
from ticketctl.engine.store.tickets import AttachmentView, AutomaticSender, LogView, TicketRecord, TicketSummary

SORTS = tuple(tickets.ORDER)
COUNT_CAP = 10_000  # a page's total is counted up to here; beyond it the total says "more than"
# A subject line is at most 998 characters (RFC 5322); SQLite refuses LIKE patterns over 50,000 bytes.
MAX_SEARCH = 1000


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
    damaged: bool = False  # only tickets with a mail that arrived damaged


@dataclass(frozen=True)
class TicketPage:
    tickets: list[TicketSummary]
    limit: int
    offset: int
    has_more: bool
    total: int  # every ticket matching the filters, counted up to COUNT_CAP
    total_exact: bool  # False: there are more than `total`


@dataclass(frozen=True)
class TicketView:
    id: int
    kind: str
    status: str
    type: str | None
    workflow_tag: str | None
    mailbox: str | None
    contact: Contact | None
    subject: str
    from_email: str
    from_name: str
    error_reason: str | None
    created_at: str
    updated_at: str
    allowed_statuses: tuple[str, ...]
    logs: list[LogView]
    assignment: AssignmentSummary | None
    bounces: list[BounceView]
    participants: list[Participant]
    copied_take_part: bool  # whether the type lets the people the customer copied take part
    automatic_sender: AutomaticSender | None  # a machine's mail opened it: nothing is sent to that address

    @property
    def attachments(self) -> list[AttachmentView]:
        return [a for log in self.logs for a in log.attachments]


def list_tickets(
    store: Store, filters: TicketFilters, sort: str = "updated", limit: int = 50, offset: int = 0
) -> TicketPage:
    """One page of tickets matching every filter, newest first unless `sort` ends in ':asc'."""
    key, _, direction = sort.partition(":")
    if key not in SORTS or direction not in ("", "asc", "desc"):
        raise ConfigError(f"Sort '{sort}' is not valid; use updated, created or id, optionally with :asc or :desc.")
    if limit < 1 or offset < 0:
        raise ConfigError("The limit must be at least 1 and the offset not negative.")
    query = _query(store, filters)
    rows = tickets.summaries(store, query, sort, limit + 1, offset)
    page, has_more = rows[:limit], len(rows) > limit
    total = offset + len(page)
    if has_more or (offset and not page):
        total = tickets.count(store, query, COUNT_CAP + 1)
    exact = total <= COUNT_CAP
    return TicketPage(page, limit, offset, has_more, min(total, COUNT_CAP), exact)


def _query(store: Store, f: TicketFilters) -> tickets.TicketQuery:
    for status in f.statuses:
        _check_status(status)
    if f.search and len(f.search) > MAX_SEARCH:
        raise ConfigError(
            f"The search text is {len(f.search):,} characters long; search for at most {MAX_SEARCH:,} characters."
        )
    contact_id = None
    if f.contact:
        found = contacts.find(store, f.contact)
        if found is None:
            raise NotFound(f"There is no contact with the address '{f.contact}'.")
        contact_id = found.id
    kinds = tuple(k for k, on in ((TicketKind.INVALID, f.invalid), (TicketKind.ERROR, f.error)) if on)
    return tickets.TicketQuery(
        statuses=tuple(f.statuses),
        type_id=types.named(store, f.type_name).id if f.type_name else None,
        mailbox_id=mailboxes.named(store, f.mailbox).id if f.mailbox else None,
        contact_id=contact_id,
        kinds=tuple(str(k) for k in kinds),
        updated_since=parse_since(f.since) if f.since else None,
        search=f.search or None,
        damaged=f.damaged,
    )


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
    """The ticket with its contact, participants, type, thread, attachments, assignment and bounces."""
    found = tickets.detail(store, ticket_id)
    if found is None:
        raise _no_ticket(ticket_id)
    t = found.ticket
    ticket_type = types.get_by_id(store, t.type_id) if t.type_id is not None else None
    return TicketView(
        id=t.id,
        kind=t.kind,
        status=t.status,
        type=found.type,
        workflow_tag=found.workflow_tag,
        mailbox=found.mailbox,
        contact=contacts.get(store, t.contact_id),
        subject=t.subject,
        from_email=t.from_email,
        from_name=t.from_name,
        error_reason=t.error_reason,
        created_at=t.created_at,
        updated_at=t.updated_at,
        allowed_statuses=TRANSITIONS[t.status],
        logs=tickets.logs(store, ticket_id),
        assignment=assignments.summary_of_ticket(store, ticket_id),
        bounces=bounces.of_ticket(store, ticket_id),
        participants=participants.of_ticket(store, ticket_id),
        copied_take_part=ticket_type is None or ticket_type.cc_participants,
        automatic_sender=tickets.automatic_opener(store, ticket_id),
    )


def raw_message(store: Store, ticket_id: int, log_id: int) -> bytes:
    """The original message, as received, behind one incoming log of the ticket."""
    _ticket(store, ticket_id)
    found = tickets.original(store, ticket_id, log_id)
    if found is None:
        raise NotFound(f"Ticket {ticket_id} has no log {log_id}; `ticketctl tickets show {ticket_id}` lists its logs.")
    if found.ledger_id is None:
        raise NotFound(
            f"Log {log_id} of ticket {ticket_id} is a mail ticketctl wrote, not one it received; "
            "there is no original to show."
        )
    return read_original(store, found.raw_id, found.raw_path, f"log {log_id}")


def read_original(store: Store, raw_id: int | None, raw_path: str | None, what: str) -> bytes:
    """The kept bytes of a mail taken in (`what` names it in errors), from the table or the data directory."""
    if raw_id is None and raw_path is None:
        raise NotFound(f"The original of {what} was not kept (it was too big to store).")
    if raw_path is not None:
        data_path(store, raw_path)  # refuses a path outside the data directory
    try:
        raw = rawstore.read(store, raw_id, raw_path)
    except OSError as exc:
        raise StoreError(
            f"The stored original of {what} cannot be read ({exc.strerror}); check {raw_path} in the data directory."
        ) from exc
    if raw is None:
        raise StoreError(f"The stored original of {what} is missing from the database; restore a backup.")
    return raw


def save_attachment(
    store: Store, ticket_id: int, name: str, out_path: Path, overwrite: bool = False, world_readable: bool = False
) -> Path:
    """Copy an attachment of the ticket (by file name, or by id) to `out_path`; returns the file written.

    If `out_path` is a directory the file gets the attachment's name there, reduced to a plain name.
    The mail chooses both name and content, so the file is created new (never through a link someone
    planted there), 0600 unless `world_readable` (0644); an existing file or link is replaced only with
    `overwrite`, and then by renaming a new file over it, so a link is replaced, never followed.
    """
    attachment = _find_attachment(store, ticket_id, name)
    source = data_path(store, f"attachments/{attachment.sha256[:2]}/{attachment.sha256}")
    target = out_path / plain_filename(attachment.filename, attachment.id) if out_path.is_dir() else out_path
    mode = 0o644 if world_readable else 0o600
    try:
        blob = source.open("rb")
    except OSError as exc:
        raise StoreError(
            f"The stored file of attachment '{attachment.filename}' cannot be read from the data directory "
            f"({source}: {exc.strerror})."
        ) from exc
    with blob:
        try:
            if overwrite:
                _replace_with_copy(blob, target, mode)
            else:
                _create_with_copy(blob, target, mode)
        except FileExistsError:
            raise NotAllowed(f"{target} already exists; choose another --out path or add --force.") from None
        except OSError as exc:
            raise ConfigError(f"Cannot write {target}: {exc.strerror}; check the --out path.") from exc
    return target


_CREATE_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _create_with_copy(blob: BinaryIO, target: Path, mode: int) -> None:
    """Create `target` (exclusive: an existing file or link, even a dangling one, is refused) from `blob`."""
    fd = os.open(target, _CREATE_NEW, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)  # the umask must not decide: 0600, or 0644 when asked
            shutil.copyfileobj(blob, out)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _replace_with_copy(blob: BinaryIO, target: Path, mode: int) -> None:
    """Write a new file beside `target`, then rename it over whatever `target` is (a link included)."""
    fd, scratch = tempfile.mkstemp(prefix=".ticketctl-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            shutil.copyfileobj(blob, out)
        os.replace(scratch, target)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def _find_attachment(store: Store, ticket_id: int, name: str) -> tickets.StoredFile:
    _ticket(store, ticket_id)
    found = tickets.files_named(store, ticket_id, name)
    if not found:
        raise NotFound(
            f"Ticket {ticket_id} has no attachment named '{name}'; `ticketctl tickets show {ticket_id}` lists them."
        )
    if len({f.sha256 for f in found}) > 1:
        ids = ", ".join(str(f.id) for f in found)
        raise NotAllowed(
            f"Ticket {ticket_id} has several different attachments named '{name}' (ids {ids}); "
            "give the id instead of the name."
        )
    return found[0]


def plain_filename(filename: str, attachment_id: int) -> str:
    """A file name that cannot leave its directory or hide as a dot-file."""
    name = re.sub(r"[\x00-\x1f\x7f/\\:]", "_", Path(filename.replace("\\", "/")).name).strip(" .")
    return name or f"attachment-{attachment_id}"


def data_path(store: Store, relative: str) -> Path:
    """A path under the data directory; a stored path that leads outside it is refused."""
    root = store.data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise StoreError(f"A stored path ({relative}) points outside the data directory; refusing to read it.")
    return path


def set_status(store: Store, ticket_id: int, status: str) -> TicketView:
    """Move a ticket to `status` if `TRANSITIONS` allows it; the same status again changes nothing."""
    _check_status(status)
    with store.transaction():
        current = _ticket(store, ticket_id).status
        if status != current:
            if status not in TRANSITIONS[current]:
                allowed = ", ".join(TRANSITIONS[current])
                raise NotAllowed(
                    f"Ticket {ticket_id} is {current} and cannot become {status}; from {current} it can "
                    f"become: {allowed}."
                )
            tickets.set_status(store, ticket_id, TicketStatus(status))
    return get_ticket(store, ticket_id)


def resolve(store: Store, ticket_id: int) -> TicketView:
    return set_status(store, ticket_id, TicketStatus.RESOLVED)


def reassign(store: Store, config: Config, ticket_id: int, type_name: str, note: str = "") -> TicketView:
    """Give an invalid ticket a type; its flow sends what a reassigned ticket sends (the question flow:
    the `reassigned` notice to the type's admin)."""
    ticket_type = types.named(store, type_name)
    with store.transaction():
        ticket = _ticket(store, ticket_id)
        if ticket.type_id is not None or ticket.kind != TicketKind.INVALID:
            current = types.get_by_id(store, ticket.type_id) if ticket.type_id is not None else None
            what = f"has the type '{current.name}'" if current else f"is an {ticket.kind} ticket"
            raise NotAllowed(
                f"Ticket {ticket_id} {what}; only an invalid ticket (one no type matched) can be reassigned."
            )
        if not ticket_type.admin_email:
            raise ConfigError(
                f"Ticket type '{ticket_type.name}' has no admin email, so nobody can be told about ticket "
                f"{ticket_id}; set one with `ticketctl type edit '{ticket_type.name}' --admin-email ADDRESS`."
            )
        tickets.set_type(store, ticket_id, ticket_type.id, ticket_type.mailbox_id)
        reassigned = _ticket(store, ticket_id)
        flow_for(ticket_type.task).reassigned(FlowContext(store, config, ticket_type), reassigned, None, note)
    return get_ticket(store, ticket_id)


def _ticket(store: Store, ticket_id: int) -> TicketRecord:
    found = tickets.get(store, ticket_id)
    if found is None:
        raise _no_ticket(ticket_id)
    return found


def _no_ticket(ticket_id: int) -> NotFound:
    return NotFound(f"There is no ticket {ticket_id}; `ticketctl tickets list` shows the tickets.")


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ConfigError(f"Status '{status}' is not valid; use one of: {', '.join(STATUSES)}.")
