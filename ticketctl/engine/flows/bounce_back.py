"""The bounce-back flow (task `bounce_back`), and what a bounce report writes.

A bounce (the `bounce` rule's decision, in any mailbox) is matched back to the queued mail it is about
(through the VERP envelope address it was sent to, or the Message-ID of ours it quotes), the ticket and
the contact, and recorded as one unresolved bounce row per failed address; flufl.bounce reads the
addresses from DSNs and many MTAs' own formats. Tickets of a bounce_back type tell its admin (if it has
one) that they arrived, and their replies are kept, never relayed.
"""

from __future__ import annotations

import logging
import re

from ticketctl.engine.enums import TicketStatus
from ticketctl.engine.flows import notices
from ticketctl.engine.flows.flow import FlowContext, Received
from ticketctl.engine.mail.message import ParsedMessage
from ticketctl.engine.mail.msgid import parse_verp
from ticketctl.engine.store import bounces, contacts, ledger, queue, settings
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.queue import QueueRow
from ticketctl.engine.store.tickets import TicketRecord
from ticketctl.engine.store.types import TicketType

log = logging.getLogger(__name__)

SCAN_BYTES = 2 * 1024 * 1024
_QUOTED_ID = re.compile(rb"^message-id:\s*<([^<>\s]+)>", re.IGNORECASE | re.MULTILINE)
_STATUS = re.compile(rb"^status:\s*([245]\.\d{1,3}\.\d{1,3})", re.IGNORECASE | re.MULTILINE)
_DIAGNOSTIC = re.compile(rb"^diagnostic-code:\s*(.+)$", re.IGNORECASE | re.MULTILINE)

new_ticket = notices.new_ticket


def reply(ctx: FlowContext, ticket: TicketRecord, received: Received) -> TicketStatus:
    return TicketStatus.OPEN


def reassigned(ctx: FlowContext, ticket: TicketRecord, previous: TicketType | None, note: str) -> None:
    notices.reassigned(ctx, ticket, previous, note)


def record(store: Store, ledger_id: int, msg: ParsedMessage) -> int | None:
    """Write one bounce row per failed address; returns the ticket the bounced mail belonged to."""
    # The report as stored, up to SCAN_BYTES: its own parts come first, and a returned copy of a large
    # mail after them would cost many times its size to parse for nothing.
    raw = ledger.raw(store, ledger_id, limit=SCAN_BYTES) or b""
    temporary, permanent = failures(raw)
    mail = _queued_mail(store, raw, msg)
    ticket_id = mail.ticket_id if mail else None
    if not temporary and not permanent and mail:
        permanent = {mail.to_email}
    status = _STATUS.search(raw)
    diagnostic = _DIAGNOSTIC.search(raw)
    for address, is_permanent in [(a, True) for a in sorted(permanent)] + [(a, False) for a in sorted(temporary)]:
        contact = contacts.find(store, address)
        bounces.add(
            store,
            bounces.NewBounce(
                ledger_id=ledger_id,
                queue_id=mail.id if mail else None,
                ticket_id=ticket_id,
                contact_id=contact.id if contact else None,
                address=address,
                permanent=is_permanent,
                status_code=status.group(1).decode() if status else None,
                diagnostic=diagnostic.group(1).decode("utf-8", "replace").strip()[:500] if diagnostic else None,
            ),
        )
    return ticket_id


def failures(raw: bytes) -> tuple[set[str], set[str]]:
    """(temporary, permanent) failed addresses, lower-cased."""
    import email

    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(email.message_from_bytes(raw))
    except Exception:  # a detector choking on a broken report must not lose the bounce
        log.debug("flufl.bounce failed", exc_info=True)
        return set(), set()

    def decode(items: frozenset[bytes] | set[bytes]) -> set[str]:
        return {a.decode("utf-8", "replace").lower() for a in items}

    return decode(temporary), decode(permanent)


def _queued_mail(store: Store, raw: bytes, msg: ParsedMessage) -> QueueRow | None:
    """The queued mail a bounce is about: by the VERP address it was sent back to, else by the
    Message-ID of ours that the report quotes."""
    secret = settings.installation_secret(store)
    for address in msg.recipients:
        queue_id = parse_verp(secret, address)
        row = queue.get(store, queue_id) if queue_id else None
        if row:
            return row
    for found in _QUOTED_ID.findall(raw):
        row = queue.with_message_id(store, found.decode("ascii", "replace"))
        if row:
            return row
    return None
