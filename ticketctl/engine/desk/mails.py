"""Every mail taken in, as staff see it (the ledger): list it, show it with its original, and release an
ignored or rejected one into the flow as if its rule had let it pass: a new ticket of the type its
recipients name (or one staff name), or a reply into a ticket staff name. The ledger keeps the rules'
decision and records the release beside it (when, by whom, as what).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from ticketctl.engine.config import Config
from ticketctl.engine.desk.tickets import COUNT_CAP, data_path, parse_since, read_original
from ticketctl.engine.enums import Disposition, ParticipantRole, Task
from ticketctl.engine.errors import ConfigError, NotAllowed, NotFound, StoreError
from ticketctl.engine.intake import record
from ticketctl.engine.intake.rules import Decision, chain
from ticketctl.engine.intake.sources import SPOOL_PREFIX
from ticketctl.engine.mail import damage, message
from ticketctl.engine.mail.message import ParsedMessage
from ticketctl.engine.store import ledger, mailboxes, participants, tickets, types
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.ledger import TakenIn
from ticketctl.engine.store.view import MailboxView

RELEASABLE = (Disposition.IGNORED, Disposition.REJECTED)
DISPOSITIONS = tuple(str(d) for d in Disposition)
HEAD_BYTES = 64 * 1024  # enough of a raw message for its headers (rows written before the ledger kept them)
RELEASE_RULE = "released"


@dataclass(frozen=True)
class MailFilters:
    dispositions: tuple[str, ...] = ()
    mailbox: str | None = None
    since: str | None = None  # YYYY-MM-DD or an ISO time: received on or after


@dataclass(frozen=True)
class MailPage:
    mails: list[TakenIn]
    limit: int
    offset: int
    has_more: bool
    total: int  # every mail matching the filters, counted up to COUNT_CAP
    total_exact: bool  # False: there are more than `total`


@dataclass(frozen=True)
class MailView:
    """One mail taken in: its ledger row and what its original says."""

    entry: TakenIn
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    date: str | None = None
    damage: list[str] = field(default_factory=list)  # what was damaged, as sentences
    attachments: list[str] = field(default_factory=list)
    text: str = ""


@dataclass(frozen=True)
class Released:
    mail_id: int
    disposition: str  # what it became: new_ticket, invalid_ticket or reply
    ticket_id: int
    log_id: int | None
    notices: int  # mails queued by the flow (the usual notice, a relay)


def list_mail(store: Store, filters: MailFilters, limit: int = 50, offset: int = 0) -> MailPage:
    """One page of the mail taken in, newest first."""
    if limit < 1 or offset < 0:
        raise ConfigError("The limit must be at least 1 and the offset not negative.")
    for d in filters.dispositions:
        if d not in DISPOSITIONS:
            raise ConfigError(f"Disposition '{d}' is not valid; use one of: {', '.join(DISPOSITIONS)}.")
    query = ledger.LedgerQuery(
        dispositions=filters.dispositions,
        mailbox_id=mailboxes.named(store, filters.mailbox).id if filters.mailbox else None,
        since=parse_since(filters.since) if filters.since else None,
    )
    rows = ledger.page(store, query, limit + 1, offset)
    page, has_more = [_with_headers(store, r) for r in rows[:limit]], len(rows) > limit
    total = offset + len(page)
    if has_more or (offset and not page):
        total = ledger.count(store, query, COUNT_CAP + 1)
    return MailPage(page, limit, offset, has_more, min(total, COUNT_CAP), total <= COUNT_CAP)


def _with_headers(store: Store, entry: TakenIn) -> TakenIn:
    """The row with sender and subject, read from its original when the row predates them."""
    if entry.subject is not None or not entry.raw_kept:
        return entry
    try:
        head = message.parse_headers(ledger.raw(store, entry.id, HEAD_BYTES) or b"")
    except OSError:  # the list still shows the row, without these two
        return entry
    return replace(entry, from_email=head.from_.email if head.from_ else "", subject=head.subject)


def get(store: Store, mail_id: int) -> TakenIn:
    found = ledger.get(store, mail_id)
    if found is None:
        raise NotFound(f"There is no mail {mail_id} in the ledger; `ticketctl mail list` shows the ids.")
    return found


def show_mail(store: Store, mail_id: int) -> MailView:
    """The ledger row with what the original says: recipients, date, damage, attachments, text."""
    entry = _with_headers(store, get(store, mail_id))
    if not entry.raw_kept:
        return MailView(entry)
    with _parsed(store, entry) as msg:
        return MailView(
            entry,
            to=[a.email for a in msg.to],
            cc=[a.email for a in msg.cc],
            reply_to=[a.email for a in msg.reply_to],
            date=msg.date,
            damage=[damage.describe(d) for d in msg.defects],
            attachments=[a.filename for a in msg.attachments],
            text=msg.body_text,
        )


def raw_mail(store: Store, mail_id: int) -> bytes:
    """The original bytes of a mail taken in."""
    get(store, mail_id)
    raw_id, raw_path = ledger.where_kept(store, mail_id)
    return read_original(store, raw_id, raw_path, f"mail {mail_id}")


def release(
    store: Store,
    config: Config,
    mail_id: int,
    by: str,
    ticket_id: int | None = None,
    type_name: str | None = None,
) -> Released:
    """Take an ignored or rejected mail through the flow as if its rule had passed it: into ticket
    `ticket_id` as a reply (its sender then takes part in that ticket), else as a new ticket of
    `type_name` or of the type its recipients name (an invalid ticket when none does, or only a bounce
    type: staff reassign it)."""
    if ticket_id is not None and type_name is not None:
        raise ConfigError("Give --ticket (release as a reply) or --type (release as a new ticket), not both.")
    entry = _releasable(get(store, mail_id))
    ticket_type = types.named(store, type_name) if type_name else None
    if ticket_id is not None and tickets.get(store, ticket_id) is None:
        raise NotFound(f"There is no ticket {ticket_id}; `ticketctl tickets list` shows the tickets.")
    view = MailboxView(store, entry.mailbox_id, config.limits.max_message_bytes)
    with _parsed(store, entry) as msg:
        decision = _decision(msg, view, entry, ticket_id, ticket_type)
        for _name, mark in chain.load().marks:  # what the run adds to any decision (a machine wrote it)
            decision = mark(msg, decision)
        with store.transaction():
            _releasable(get(store, mail_id))  # not released meanwhile
            if ticket_id is not None and msg.from_ is not None:
                participants.add(store, ticket_id, msg.from_.email, msg.from_.name, ParticipantRole.RELEASED)
            queued = tickets.next_log_id(store)
            job = record.Job(store, config, entry.mailbox_id, msg, decision, view, mail_id, notify=True)
            made, log_id = record.write(job)
            assert made is not None, "a new ticket, an invalid ticket and a reply each make a ticket"
            ledger.release(store, mail_id, decision.disposition, made, log_id, by)
            notices = tickets.next_log_id(store) - queued - 1
    return Released(mail_id, str(decision.disposition), made, log_id, max(notices, 0))


def _releasable(entry: TakenIn) -> TakenIn:
    if entry.released_at is not None:
        raise NotAllowed(
            f"Mail {entry.id} was released already, by {entry.released_by} on {entry.released_at}, "
            f"as ticket {entry.ticket_id}."
        )
    if entry.disposition not in RELEASABLE:
        became = f" (ticket {entry.ticket_id})" if entry.ticket_id is not None else ""
        raise NotAllowed(
            f"Mail {entry.id} became {entry.disposition}{became}; only ignored or rejected mail can be released."
        )
    if not entry.raw_kept:
        raise NotAllowed(f"The original of mail {entry.id} was not kept, so it cannot be taken in again.")
    return entry


def _decision(
    msg: ParsedMessage, view: MailboxView, entry: TakenIn, ticket_id: int | None, ticket_type: types.TicketType | None
) -> Decision:
    was = f"released by staff; the rule '{entry.rule}' had {entry.disposition} it: {entry.reason}"
    if ticket_id is not None:
        return Decision(Disposition.REPLY, RELEASE_RULE, was, ticket_id=ticket_id)
    chosen = ticket_type or view.type_for_recipients(msg.recipients)
    if chosen is not None and chosen.task == Task.BOUNCE_BACK:  # bounces only: no ticket of that type
        if ticket_type is not None:
            raise NotAllowed(
                f"Type '{chosen.name}' takes delivery reports only; name a type whose tickets people answer."
            )
        chosen = None
    if chosen is None:
        return Decision(Disposition.INVALID_TICKET, RELEASE_RULE, f"{was}; no active type is addressed")
    return Decision(Disposition.NEW_TICKET, RELEASE_RULE, was, type_id=chosen.id)


@contextmanager
def _parsed(store: Store, entry: TakenIn) -> Iterator[ParsedMessage]:
    """The original parsed as the run parsed it; a large one from its file, its attachments decoded into
    a scratch directory under the data directory (removed after)."""
    raw_id, raw_path = ledger.where_kept(store, entry.id)
    if raw_path is None:
        msg = message.parse(read_original(store, raw_id, raw_path, f"mail {entry.id}"))
        msg.size = entry.size
        yield msg
        return
    path = data_path(store, raw_path)
    if not path.is_file():
        raise StoreError(f"The stored original of mail {entry.id} is missing; check {raw_path} in the data directory.")
    spool = store.data_dir / "spool"
    spool.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = tempfile.mkdtemp(prefix=SPOOL_PREFIX, dir=spool)
    try:
        msg = message.parse_file(path, Path(scratch))
        msg.size = entry.size
        yield msg
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
