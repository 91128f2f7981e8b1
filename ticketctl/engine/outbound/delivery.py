"""Draining the email queue: pending → sending → sent, with retries and a final `failed`.

Rows are claimed a batch at a time (one commit). Each is marked sent as soon as it went, or, with a
sender whose resend is harmless (the directory sender rewrites the same file, and writes in the
background), when its batch is done and every write of the batch is on disk.
A crash leaves the claimed rows in `sending` with `next_attempt_at` a few minutes ahead; once that
passes they are due again, and a row that had gone is resent with the same Message-ID (the receiving
side sees one message, perhaps twice, never two different ones).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ticketctl.engine.config import Config
from ticketctl.engine.errors import SendError, TicketctlError
from ticketctl.engine.mail import msgid
from ticketctl.engine.oauth.tokens import token_source
from ticketctl.engine.outbound.mailbuild import FileAttachment, build_mail, recipients
from ticketctl.engine.outbound.senders import DirectorySender, MessageRefused, Sender, SmtpSender
from ticketctl.engine.store import blobs, mailboxes, queue, settings, tickets
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.queue import QueueRow

SENDING_STALE = timedelta(minutes=10)  # a row `sending` this long belongs to a run that died
CLAIM_BATCH = 100  # rows claimed (pending → sending) in one commit
MAX_BACKOFF = timedelta(hours=6)


@dataclass
class DrainReport:
    sent: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)  # failed this time, tried again later
    failed: list[int] = field(default_factory=list)  # failed for good
    error: str | None = None  # why the run stopped early (server down, login refused)

    @property
    def attempted(self) -> int:
        return len(self.sent) + len(self.retry) + len(self.failed)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def backoff(config: Config, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: base, 2×base, 4×base … capped at 6 hours."""
    seconds = config.outbox.retry_base_seconds * 2 ** max(attempts - 1, 0)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


def drain(
    store: Store,
    config: Config,
    now: datetime | None = None,
    limit: int | None = None,
    *,
    sender: Sender | None = None,
) -> DrainReport:
    """Send every due row once. A refused mail fails only its row; an error that stops every mail
    (server down, login refused) counts an attempt on the rows still due and ends this run."""
    now = now or datetime.now(UTC)
    report = DrainReport()
    rows = queue.due(store, _iso(now), limit)
    if not rows:
        return report
    secret = settings.installation_secret(store)
    loop_id = msgid.installation_id(secret)
    remaining = list(rows)
    claimed: list[QueueRow] = []
    handed: list[QueueRow] = []  # handed to the sender, not yet marked sent
    try:
        with sender or make_sender(store, config) as active:
            try:
                while remaining or claimed:
                    if not claimed:
                        claimed = queue.claim(store, remaining[:CLAIM_BATCH], _iso(now + SENDING_STALE))
                        del remaining[:CLAIM_BATCH]
                        continue
                    row = claimed.pop(0)
                    try:
                        _send_one(store, config, active, row, secret, loop_id)
                    except MessageRefused as exc:
                        _fail(store, config, row.id, row.attempts, str(exc), now, report, exc.permanent)
                        continue
                    except TicketctlError as exc:
                        _fail(store, config, row.id, row.attempts, str(exc), now, report, False)
                        raise
                    handed.append(row)
                    if not claimed or not active.resend_is_harmless:
                        _settle(store, config, active, handed, now, report)
            finally:
                _settle(store, config, active, handed, now, report)
    except TicketctlError as exc:
        report.error = str(exc)
        for row in claimed:  # claimed (their attempt counted) but not tried: due again after the backoff
            _fail(store, config, row.id, row.attempts, str(exc), now, report, False)
        for waiting in remaining:
            if queue.count_attempt(store, waiting):
                _fail(store, config, waiting.id, waiting.attempts + 1, str(exc), now, report, False)
    return report


def make_sender(store: Store, config: Config) -> Sender:
    """The sender the configuration names; secrets are read here, never stored in the config."""
    box = config.outbox
    if box.kind == "directory":
        return DirectorySender(box.directory)
    smtp = box.smtp
    password = token = None
    username = smtp.username
    if smtp.auth == "password":
        if not smtp.password_env or not os.environ.get(smtp.password_env):
            where = f"${smtp.password_env}" if smtp.password_env else "outbox.smtp.password_env"
            raise SendError(
                f"The SMTP password is not set ({where} is empty); "
                "set outbox.smtp.password_env to a variable that holds it."
            )
        password = os.environ[smtp.password_env]
    elif smtp.auth == "oauth2":
        token, username = _oauth_token(store, smtp.oauth_mailbox, smtp.username)
    return SmtpSender(smtp, password=password, token=token, username=username)


def _oauth_token(store: Store, mailbox: str | None, username: str | None) -> tuple[Callable[[], str], str | None]:
    """The access-token source of the mailbox whose OAuth2 sign-in sends mail, and the user to log in as
    (outbox.smtp.username, else that mailbox's username)."""
    if not mailbox:
        raise SendError(
            "outbox.smtp.auth is oauth2 but outbox.smtp.oauth_mailbox is not set; "
            "name the mailbox whose OAuth2 sign-in sends mail."
        )
    tokens = token_source(store, mailbox)
    return tokens, username or mailboxes.named(store, mailbox).username


def _send_one(store: Store, config: Config, sender: Sender, row: QueueRow, secret: str, loop_id: str) -> None:
    files = _attachments(store, config, row)
    data = build_mail(row, files, loop_id)  # attachments are read and encoded while the mail is written
    envelope = row.envelope_from or msgid.make_verp(secret, row.id, config.outbox.from_address)
    sender.send(row.message_id, data, envelope, recipients(row))


def _attachments(store: Store, config: Config, row: QueueRow) -> list[FileAttachment]:
    files = []
    for attachment_id in row.attachments:
        stored = tickets.stored_file(store, attachment_id)
        if stored is None:
            raise MessageRefused(f"Attachment {attachment_id} of this mail no longer exists.", permanent=True)
        try:
            path, size = blobs.stored(config.data_dir, "attachments", stored.sha256)
        except TicketctlError as exc:
            raise MessageRefused(str(exc), permanent=True) from exc
        files.append(FileAttachment(stored.filename, stored.content_type, path=path, size=size))
    return files


def _settle(
    store: Store, config: Config, sender: Sender, rows: list[QueueRow], now: datetime, report: DrainReport
) -> None:
    """Wait for the mails handed to the sender; mark those that went sent (one commit), fail the others."""
    if not rows:
        return
    failed = sender.flush()
    for row in rows:
        if row.message_id in failed:
            _fail(store, config, row.id, row.attempts, str(failed[row.message_id]), now, report, False)
    sent = [row.id for row in rows if row.message_id not in failed]
    queue.mark_sent(store, sent, _iso(now))
    report.sent.extend(sent)
    rows.clear()


def _fail(
    store: Store,
    config: Config,
    queue_id: int,
    attempts: int,
    error: str,
    now: datetime,
    report: DrainReport,
    permanent: bool,
) -> None:
    final = permanent or attempts >= config.outbox.max_attempts
    queue.mark_failed(store, queue_id, error, final=final, next_attempt_at=_iso(now + backoff(config, attempts)))
    (report.failed if final else report.retry).append(queue_id)
