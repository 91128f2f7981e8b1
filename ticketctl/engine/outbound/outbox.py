"""The outbox as staff see it: list and show queued mail (one row per mail, and how it stands for each
recipient; held and suppressed mail with why), and push failed or waiting mail for a retry. Mail is
queued by the writer (writer.py), kept back by holds.py and sent by the drain (delivery.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ticketctl.engine.enums import QueueState, QueueStatus
from ticketctl.engine.errors import ConfigError, NotFound
from ticketctl.engine.outbound.mailbuild import envelope_recipients
from ticketctl.engine.store import bounces, queue
from ticketctl.engine.store.connection import Store, utcnow
from ticketctl.engine.store.queue import QueueRow, Recipient

STATUSES = tuple(str(s) for s in QueueState)
COUNT_CAP = 10_000  # a page's total is counted up to here


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    limit: int
    offset: int
    has_more: bool
    total: int  # rows of the status asked for, counted up to COUNT_CAP
    total_exact: bool  # False: there are more than `total`


def list_page(store: Store, status: str | None = None, limit: int = 50, offset: int = 0) -> QueuePage:
    """One page of queue rows, newest first, with the total (as `tickets list` pages tickets); `status`
    is a state (QueueState): `pending` leaves out the held and suppressed mail."""
    if status is not None and status not in STATUSES:
        raise ConfigError(f"'{status}' is not a queue status; expected one of: {', '.join(STATUSES)}.")
    found = queue.rows(store, status, limit + 1, offset)
    page, has_more = found[:limit], len(found) > limit
    total = offset + len(page)
    if has_more or (offset and not page):
        total = queue.count_rows(store, status, COUNT_CAP + 1)
    return QueuePage(page, limit, offset, has_more, min(total, COUNT_CAP), total <= COUNT_CAP)


def get(store: Store, queue_id: int) -> QueueRow:
    row = queue.get(store, queue_id)
    if row is None:
        raise NotFound(f"There is no queued mail {queue_id}; `ticketctl queue list` shows the ids.")
    return row


def bounced(store: Store, queue_ids: list[int]) -> dict[int, str]:
    """Which of these queued mails bounced: id -> "bounced" (a failure came back for it) or "delayed"
    (only delay warnings did). Read from the bounces, the queue's own state is left as delivery set it."""
    found = bounces.of_queue_rows(store, queue_ids)
    return {qid: "bounced" if any(b.kind != "delayed" for b in rows) else "delayed" for qid, rows in found.items()}


def bounces_of(store: Store, queue_id: int) -> list[bounces.BounceView]:
    return bounces.of_queue_rows(store, [queue_id]).get(queue_id, [])


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

    Returns the ids pushed. A sent row is refused: sending it again would deliver it twice; so is a
    held or suppressed one, which a retry cannot release (the window, or resolving the bounce, does).
    """
    if all_failed:
        ids = queue.failed_ids(store)
    elif queue_id is not None:
        row = get(store, queue_id)
        if row.status == QueueStatus.SENT:
            raise ConfigError(f"Mail {queue_id} was already sent at {row.sent_at}; it is not sent twice.")
        if row.kept_back == "held":
            raise ConfigError(f"Mail {queue_id} is held until {row.next_attempt_at}: {row.hold_reason}")
        if row.kept_back == "suppressed":
            raise ConfigError(f"Mail {queue_id} is suppressed: {row.hold_reason}")
        ids = [row.id]
    else:
        raise ConfigError("Name a queue id to retry, or use --all-failed.")
    with store.transaction():
        for qid in ids:
            queue.make_due(store, qid, utcnow())
    return ids
