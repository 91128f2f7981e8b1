"""The outbox as staff see it: list and show queued mail (one row per mail, and how it stands for each
recipient), and push failed or waiting mail for a retry. Mail is queued by the writer (writer.py) and
sent by the drain (delivery.py)."""

from __future__ import annotations

from ticketctl.engine.enums import QueueStatus
from ticketctl.engine.errors import ConfigError, NotFound
from ticketctl.engine.outbound.mailbuild import envelope_recipients
from ticketctl.engine.store import queue
from ticketctl.engine.store.connection import Store, utcnow
from ticketctl.engine.store.queue import QueueRow, Recipient

STATUSES = tuple(str(s) for s in QueueStatus)


def list_rows(store: Store, status: str | None = None, limit: int | None = None) -> list[QueueRow]:
    """Queue rows, newest first, optionally of one status."""
    if status is not None and status not in STATUSES:
        raise ConfigError(f"'{status}' is not a queue status; expected one of: {', '.join(STATUSES)}.")
    return queue.rows(store, status, limit)


def get(store: Store, queue_id: int) -> QueueRow:
    row = queue.get(store, queue_id)
    if row is None:
        raise NotFound(f"There is no queued mail {queue_id}; `ticketctl queue list` shows the ids.")
    return row


def recipients(store: Store, row: QueueRow) -> list[Recipient]:
    """How the mail stands for each of its recipients. Mail sent before ticketctl tracked recipients
    has no rows of its own: every address of it got it."""
    found = queue.recipients(store, row.id)
    if found or row.status != QueueStatus.SENT:
        return found
    return [
        Recipient(0, row.id, address, role, row.status, row.attempts, row.next_attempt_at, None, None, None, None,
                  row.sent_at)
        for address, role in envelope_recipients(row.to_email, row.cc)
    ]  # fmt: skip


def retry(store: Store, queue_id: int | None = None, *, all_failed: bool = False) -> list[int]:
    """Make a failed or waiting row (or every failed row) due now, with a fresh count of attempts, for
    the recipients that have not got it.

    Returns the ids pushed. A sent row is refused: sending it again would deliver it twice.
    """
    if all_failed:
        ids = queue.failed_ids(store)
    elif queue_id is not None:
        row = get(store, queue_id)
        if row.status == QueueStatus.SENT:
            raise ConfigError(f"Mail {queue_id} was already sent at {row.sent_at}; it is not sent twice.")
        ids = [row.id]
    else:
        raise ConfigError("Name a queue id to retry, or use --all-failed.")
    with store.transaction():
        for qid in ids:
            queue.make_due(store, qid, utcnow())
    return ids
