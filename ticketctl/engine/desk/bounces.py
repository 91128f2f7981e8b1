"""What staff do with bounces: list them (unresolved by default; all of one contact), show one with
its report, the mail and ticket it was matched to and the mail it keeps back, and resolve it, which
releases that mail (outbound/holds.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ticketctl.engine.config import Config
from ticketctl.engine.errors import ConfigError, NotFound
from ticketctl.engine.mail import bouncereport, message
from ticketctl.engine.outbound import holds
from ticketctl.engine.store import bounces, contacts, ledger, queue, tickets
from ticketctl.engine.store.bounces import BounceRecord, BounceView
from ticketctl.engine.store.connection import Store

STATUSES = ("unresolved", "resolved", "all")
_RESOLVED = {"unresolved": False, "resolved": True, "all": None}
_REPORT_BYTES = 512 * 1024  # of a stored report read to show its text
_REPORT_LINES = 40


@dataclass(frozen=True)
class ReportFacts:
    """The report a bounce came from, as staff read it."""

    sender: str
    subject: str
    received_at: str | None
    text: str  # its own words, without the mail it returns (the first lines)


@dataclass(frozen=True)
class MailFacts:
    id: int
    to_email: str
    subject: str
    status: str
    sent_at: str | None


@dataclass(frozen=True)
class TicketFacts:
    id: int
    subject: str
    status: str


@dataclass(frozen=True)
class BounceDetail:
    bounce: BounceRecord
    report: ReportFacts | None
    mail: MailFacts | None
    ticket: TicketFacts | None
    suppressed: list[int]  # the queued mails it keeps back (suppressed until it is resolved)


def list_bounces(
    store: Store, status: str = "unresolved", contact: str | None = None, limit: int = 100
) -> list[BounceView]:
    """Bounces newest first; `contact`: an address, its contact's bounces and those of the address."""
    if status not in _RESOLVED:
        raise ConfigError(f"'{status}' is not a bounce status; use one of: {', '.join(STATUSES)}.")
    if limit < 1:
        raise ConfigError("The limit must be at least 1.")
    contact_id = address = None
    if contact is not None:
        address = contact.strip().lower()
        found = contacts.find(store, address)
        contact_id = found.id if found else None
        if found is None and not bounces.listing(store, None, address=address, limit=1):
            raise NotFound(f"There is no contact and no bounce with the address '{contact}'.")
    return bounces.listing(store, _RESOLVED[status], contact_id=contact_id, address=address, limit=limit)


def show(store: Store, bounce_id: int) -> BounceDetail:
    """A bounce with its report, the queued mail and the ticket it was matched to."""
    found = _bounce(store, bounce_id)
    mail = queue.get(store, found.queue_id) if found.queue_id else None
    ticket = tickets.get(store, found.ticket_id) if found.ticket_id else None
    return BounceDetail(
        bounce=found,
        report=_report(store, found),
        mail=MailFacts(mail.id, mail.to_email, mail.subject, mail.status, mail.sent_at) if mail else None,
        ticket=TicketFacts(ticket.id, ticket.subject, ticket.status) if ticket else None,
        suppressed=queue.suppressed_by(store, bounce_id),
    )


@dataclass(frozen=True)
class Resolution:
    detail: BounceDetail
    changed: bool  # False: it was resolved already (its first resolution stands)
    released: holds.Released  # what became of the mail it kept back


def resolve(store: Store, config: Config, bounce_id: int, note: str | None = None) -> Resolution:
    """Mark a bounce resolved and release the mail suppressed at its address (in the same commit), or,
    when the address has another unresolved bounce, leave that mail waiting for that one."""
    with store.transaction():
        found = _bounce(store, bounce_id)
        changed = bounces.resolve(store, bounce_id, (note or "").strip() or None)
        released = holds.release(store, config, found) if changed else holds.Released([], [])
    return Resolution(show(store, bounce_id), changed, released)


def raw_report(store: Store, bounce_id: int) -> bytes:
    """The report as it was received."""
    found = _bounce(store, bounce_id)
    raw = ledger.raw(store, found.ledger_id) if found.ledger_id else None
    if raw is None:
        raise NotFound(f"The report of bounce {bounce_id} was not kept.")
    return raw


def _bounce(store: Store, bounce_id: int) -> BounceRecord:
    found = bounces.get(store, bounce_id)
    if found is None:
        raise NotFound(f"There is no bounce {bounce_id}; `ticketctl bounces list --status all` shows them.")
    return found


def _report(store: Store, found: BounceRecord) -> ReportFacts | None:
    raw = ledger.raw(store, found.ledger_id, limit=_REPORT_BYTES) if found.ledger_id else None
    if raw is None:
        return None
    msg = message.parse(raw)
    sender = msg.from_.email if msg.from_ else (msg.header("From") or "")
    text = "\n".join(bouncereport.own_text(msg).split("\n")[:_REPORT_LINES])
    return ReportFacts(sender, msg.subject, found.report_received_at, text)
