"""Bounces: which addresses failed (flufl.bounce reads DSNs and many MTAs' own formats), matched back
to the queued mail (through the VERP envelope address or the Message-ID it quotes), the ticket and
the contact. Recorded unresolved until staff resolve them."""

from __future__ import annotations

import logging
import re
import sqlite3

from ticketctl.engine.intake.rules import StoreView
from ticketctl.engine.mail.message import ParsedMessage
from ticketctl.engine.store.connection import utcnow

log = logging.getLogger(__name__)

SCAN_BYTES = 2 * 1024 * 1024
_QUOTED_ID = re.compile(rb"^message-id:\s*<([^<>\s]+)>", re.IGNORECASE | re.MULTILINE)
_STATUS = re.compile(rb"^status:\s*([245]\.\d{1,3}\.\d{1,3})", re.IGNORECASE | re.MULTILINE)
_DIAGNOSTIC = re.compile(rb"^diagnostic-code:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def failures(raw: bytes) -> tuple[set[str], set[str]]:
    """(temporary, permanent) failed addresses, lower-cased."""
    import email

    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(email.message_from_bytes(raw))
    except Exception:  # a detector choking on a broken report must not lose the bounce
        log.debug("flufl.bounce failed", exc_info=True)
        return set(), set()
    decode = lambda items: {a.decode("utf-8", "replace").lower() for a in items}  # noqa: E731
    return decode(temporary), decode(permanent)


def record(conn: sqlite3.Connection, ledger_id: int, msg: ParsedMessage, view: StoreView) -> int | None:
    """Write one bounce row per failed address; returns the ticket the bounced mail belonged to."""
    raw = _raw(conn, ledger_id, view)
    temporary, permanent = failures(raw)
    queue = _queued_mail(conn, raw, msg, view)
    ticket_id = queue["ticket_id"] if queue else None
    if not temporary and not permanent and queue:
        permanent = {queue["to_email"]}
    status = _STATUS.search(raw)
    diagnostic = _DIAGNOSTIC.search(raw)
    for address, is_permanent in [(a, True) for a in sorted(permanent)] + [(a, False) for a in sorted(temporary)]:
        contact = conn.execute("SELECT id FROM contacts WHERE email = ?", (address,)).fetchone()
        conn.execute(
            "INSERT INTO bounces (ledger_id, queue_id, ticket_id, contact_id, address, permanent, status_code,"
            " diagnostic, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ledger_id,
                queue["id"] if queue else None,
                ticket_id,
                contact[0] if contact else None,
                address,
                int(is_permanent),
                status.group(1).decode() if status else None,
                diagnostic.group(1).decode("utf-8", "replace").strip()[:500] if diagnostic else None,
                utcnow(),
            ),
        )
    return ticket_id


def _raw(conn: sqlite3.Connection, ledger_id: int, view: StoreView) -> bytes:
    """The report as stored, up to SCAN_BYTES: its own parts come first, and a returned copy of a large
    mail after them would cost many times its size to parse for nothing."""
    from ticketctl.engine.store import rawstore

    row = conn.execute("SELECT raw_id, raw_path FROM ledger WHERE id = ?", (ledger_id,)).fetchone()
    return (rawstore.read(conn, view.store.data_dir, row[0], row[1], limit=SCAN_BYTES) if row else None) or b""


def _queued_mail(conn: sqlite3.Connection, raw: bytes, msg: ParsedMessage, view: StoreView) -> sqlite3.Row | None:
    """The queued mail a bounce is about: by the VERP address it was sent back to, else by the
    Message-ID of ours that the report quotes."""
    from ticketctl.engine.mail.msgid import parse_verp
    from ticketctl.engine.outbound.outbox import installation_secret

    secret = installation_secret(conn)
    for address in msg.recipients:
        queue_id = parse_verp(secret, address)
        if queue_id:
            row = conn.execute("SELECT * FROM email_queue WHERE id = ?", (queue_id,)).fetchone()
            if row:
                return row
    for found in _QUOTED_ID.findall(raw):
        row = conn.execute(
            "SELECT * FROM email_queue WHERE message_id = ?", (found.decode("ascii", "replace"),)
        ).fetchone()
        if row:
            return row
    return None
