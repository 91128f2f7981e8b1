"""The bounce-back flow (task `bounce_back`), and what a delivery report writes.

A report (the `bounce` rule's decision, in any mailbox) is read per recipient (mail/bouncereport.py)
and matched to the queued mail it is about: by the VERP envelope sender that mail went out with (it
names the queue row and is signed), else by the Message-ID of the returned original (or one the report
refers to), else by the subject tag it returns. Each failed address is one bounce row with that mail,
its ticket and the address's contact; a report whose addresses cannot be read is one row with none,
never dropped. A delay is recorded too, resolved, since nothing failed yet.

Tickets of a bounce_back type (only reassigned ones: mail in a bounce mailbox that is no report is
ignored by the `bounce-mailbox` rule) tell the type's admin that they arrived; replies are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ticketctl.engine.enums import TicketStatus
from ticketctl.engine.flows import notices
from ticketctl.engine.flows.flow import FlowContext, Received
from ticketctl.engine.mail import bouncereport, msgid, tags
from ticketctl.engine.mail.bouncereport import Recipient, Report
from ticketctl.engine.mail.message import ParsedMessage
from ticketctl.engine.store import bounces, contacts, ledger, queue, settings, tickets
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.queue import QueueRow
from ticketctl.engine.store.tickets import TicketRecord
from ticketctl.engine.store.types import TicketType

# Of a stored report, what is read: its own parts come first, and a returned copy of a large mail after
# them would cost many times its size to parse for nothing.
SCAN_BYTES = 2 * 1024 * 1024

new_ticket = notices.new_ticket


def reply(ctx: FlowContext, ticket: TicketRecord, received: Received) -> TicketStatus:
    return TicketStatus.OPEN


def reassigned(ctx: FlowContext, ticket: TicketRecord, previous: TicketType | None, note: str) -> None:
    notices.reassigned(ctx, ticket, previous, note)


@dataclass(frozen=True)
class Match:
    mail: QueueRow | None
    ticket_id: int | None
    by: str | None  # verp, message-id, tag


def record(store: Store, ledger_id: int, msg: ParsedMessage) -> int | None:
    """Write the bounce rows of a report; returns the ticket the bounced mail belongs to."""
    raw = ledger.raw(store, ledger_id, limit=SCAN_BYTES) or b""
    report = bouncereport.read(msg, raw) or Report(bouncereport.FAILURE, "a delivery report that could not be read", ())
    match = match_mail(store, msg, report)
    unread = bounces.NewBounce(
        ledger_id=ledger_id,
        queue_id=match.mail.id if match.mail else None,
        ticket_id=match.ticket_id,
        contact_id=None,
        address=None,
        kind=_kind_without_address(report),
        status_code=None,
        diagnostic=None,
        report=report.how,
        matched_by=match.by,
    )
    recipients = [*report.recipients] or _queued_recipient(report, match.mail)
    for r in recipients:
        bounces.add(
            store,
            replace(
                unread,
                contact_id=_contact(store, r),
                address=r.address,
                original_address=r.original,
                kind=r.kind,
                status_code=r.status,
                action=r.action,
                diagnostic=r.diagnostic,
                remote_mta=r.remote_mta,
            ),
        )
    if not recipients:
        bounces.add(store, unread)  # no address could be read: kept all the same, for staff to see
    return match.ticket_id


def match_mail(store: Store, msg: ParsedMessage, report: Report) -> Match:
    """The queued mail (and ticket) a report is about, and how that was found."""
    secret = settings.installation_secret(store)
    for address in (*msg.recipients, *report.envelope_senders):
        queue_id = msgid.parse_verp(secret, address)
        row = queue.get(store, queue_id) if queue_id else None
        if row:
            return Match(row, row.ticket_id, "verp")
    referred = [*report.returned_ids, *msg.in_reply_to, *msg.references]
    for message_id in referred:
        row = queue.with_message_id(store, message_id)
        if row:
            return Match(row, row.ticket_id, "message-id")
    for message_id in referred:
        signed = msgid.verify_message_id(secret, message_id)
        if signed and tickets.get(store, signed[0]):
            return Match(None, signed[0], "message-id")
    for tag in tags.find(report.returned_subject or ""):
        ticket_id = tickets.ticket_of_log(store, tag.log_id)
        if ticket_id == tag.ticket_id:
            return Match(None, ticket_id, "tag")
    return Match(None, None, None)


def _queued_recipient(report: Report, mail: QueueRow | None) -> list[Recipient]:
    """A report that names no address, about a mail we sent to one: that address failed."""
    if mail is None or mail.cc:
        return []
    return [Recipient(mail.to_email.lower(), _kind_without_address(report))]


def _kind_without_address(report: Report) -> str:
    return bouncereport.DELAYED if report.kind == bouncereport.DELAY else bouncereport.PERMANENT


def _contact(store: Store, recipient: Recipient) -> int | None:
    for address in (recipient.address, recipient.original):
        found = contacts.find(store, address) if address else None
        if found:
            return found.id
    return None
