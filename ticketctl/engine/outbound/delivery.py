"""Draining the email queue, one recipient at a time where it matters.

Rows with a recipient due are claimed a batch at a time (one commit; the claim names this process, so
after a crash the next drain takes a dead process's claims back at once, claims.py). Each mail goes in
one transaction to its recipients that are due; what the server said is recorded per recipient: sent,
tried again after a backoff (4xx, or the connection broke), or failed for good (5xx, or out of
attempts). Nobody who accepted it gets it again. An attempt counts when a send was tried, never at claim.

Claiming a mail also asks holds.py whom to keep back: a recipient whose address bounced is suppressed,
one over a rate window is held until the window has room; they are not tried, and count no attempt.

With SMTP each mail is recorded as soon as the server accepted it, so a crash can resend at most the
one mail in flight; the resend is byte-identical (mailbuild.py), with the same Message-ID, so the
receiver can drop it. The directory sender (a resend rewrites the same file) records a batch at a time,
once every write of the batch is on disk.
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
from ticketctl.engine.outbound import claims, holds
from ticketctl.engine.outbound.mailbuild import FileAttachment, build_mail
from ticketctl.engine.outbound.senders import DirectorySender, MessageRefused, Refused, Sender, SmtpSender
from ticketctl.engine.store import blobs, mailboxes, queue, settings, tickets
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.queue import Attempt, QueueRow, Recipient

CLAIM_BATCH = 100  # rows claimed (pending → sending) in one commit
MAX_BACKOFF = timedelta(hours=6)


@dataclass
class DrainReport:
    """Mail ids by what this drain did for their recipients; a mail sent to one recipient and tried
    again later for another is in both `sent` and `retry`."""

    sent: list[int] = field(default_factory=list)  # reached at least one recipient
    retry: list[int] = field(default_factory=list)  # a recipient is tried again later
    failed: list[int] = field(default_factory=list)  # a recipient failed for good
    held: list[int] = field(default_factory=list)  # a recipient kept back: held (a rate window) or suppressed
    error: str | None = None  # why the run stopped early (server down, login refused)

    @property
    def attempted(self) -> int:
        return len({*self.sent, *self.retry, *self.failed})


@dataclass(frozen=True)
class _Handed:
    """A mail handed to the sender, for the recipients it was sent to; `refused` those the server refused."""

    row: QueueRow
    to: list[Recipient]
    refused: dict[str, Refused]


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
    """Send every due mail once to its due recipients. A refusal fails only what it refused; an error
    that stops every mail (server down, login refused) counts an attempt on the mail still due and ends
    this run."""
    now = now or datetime.now(UTC)
    report = DrainReport()
    found = queue.due(store, _iso(now), limit)
    remaining = [r for r in found if r.status == "pending" or claims.abandoned(r.claimed_by, r.claimed_at, now)]
    del remaining[limit or len(remaining) :]
    if not remaining:
        return report
    secret = settings.installation_secret(store)
    loop_id = msgid.installation_id(secret)
    me = claims.this_process()
    screen = _screen(store, config, now, report)
    claimed: list[queue.Claimed] = []
    handed: list[_Handed] = []  # handed to the sender, not yet recorded
    try:
        with sender or make_sender(store, config) as active:
            try:
                while remaining or claimed:
                    if not claimed:
                        # What the sender wrote is recorded and the next batch claimed in one commit: one
                        # wait for the write lock a batch, which a run taking mail in holds most of the time.
                        _flush(active, handed)
                        with store.transaction():
                            if handed:
                                _record(store, config, now, report, handed)
                            claimed = queue.claim_due(store, remaining[:CLAIM_BATCH], me, _iso(now), screen)
                        handed.clear()
                        del remaining[:CLAIM_BATCH]
                        continue
                    mail = claimed.pop(0)
                    row, to = mail.row, mail.to
                    try:
                        refused = _send_one(store, config, active, row, to, secret, loop_id)
                    except MessageRefused as exc:  # the mail itself, for every recipient
                        refusal = dict.fromkeys(_addresses(to), exc.refused)
                        _record(store, config, now, report, [_Handed(row, to, refusal)])
                        continue
                    except TicketctlError as exc:
                        _record(store, config, now, report, [_Handed(row, to, _all_later(to, str(exc)))])
                        raise
                    handed.append(_Handed(row, to, refused))
                    if not active.resend_is_harmless or not (claimed or remaining):
                        _settle(store, config, active, handed, now, report)
            finally:
                _settle(store, config, active, handed, now, report)
    except TicketctlError as exc:
        report.error = str(exc)
        # the mail still due, claimed or not yet: one attempt each, tried again after the backoff
        for mail in claimed + queue.claim_due(store, remaining, me, _iso(now), screen):
            _record(store, config, now, report, [_Handed(mail.row, mail.to, _all_later(mail.to, str(exc)))])
    return report


def _screen(store: Store, config: Config, now: datetime, report: DrainReport) -> queue.Screen:
    """holds.py's screen, noting in the report each mail it keeps a recipient of."""
    decide = holds.screen(store, config, now)

    def screen(row: QueueRow, due: list[Recipient]) -> list[queue.Hold]:
        kept = decide(row, due)
        if kept and row.id not in report.held:
            report.held.append(row.id)
        return kept

    return screen


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


def _send_one(
    store: Store, config: Config, sender: Sender, row: QueueRow, to: list[Recipient], secret: str, loop_id: str
) -> dict[str, Refused]:
    files = _attachments(store, config, row)
    data = build_mail(row, files, loop_id)  # attachments are read and encoded while the mail is written
    envelope = row.envelope_from or msgid.make_verp(secret, row.id, config.outbox.from_address)
    return sender.send(row.message_id, data, envelope, _addresses(to))


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


def _addresses(to: list[Recipient]) -> list[str]:
    return [r.address for r in to]


def _all_later(to: list[Recipient], error: str) -> dict[str, Refused]:
    return dict.fromkeys(_addresses(to), Refused(error, permanent=False))


def _settle(
    store: Store, config: Config, sender: Sender, handed: list[_Handed], now: datetime, report: DrainReport
) -> None:
    """Wait for the mails handed to the sender and record them (one commit)."""
    if not handed:
        return
    _flush(sender, handed)
    _record(store, config, now, report, handed)
    handed.clear()


def _flush(sender: Sender, handed: list[_Handed]) -> None:
    """Wait for the mails handed to the sender: a write that failed is tried again later for every
    recipient of that mail."""
    if not handed:
        return
    failed = sender.flush()
    handed[:] = [
        _Handed(h.row, h.to, _all_later(h.to, str(failed[h.row.message_id]))) if h.row.message_id in failed else h
        for h in handed
    ]


def _record(store: Store, config: Config, now: datetime, report: DrainReport, handed: list[_Handed]) -> None:
    """What each recipient's try did, in one commit: sent, tried again after the backoff, or failed for
    good (a 5xx, or its last attempt)."""
    attempts = []
    for h in handed:
        outcomes = set()
        for r in h.to:
            why = h.refused.get(r.address)
            if why is None:
                attempts.append(Attempt(r.id, h.row.id, "sent", _iso(now)))
                outcomes.add("sent")
                continue
            final = why.permanent or r.attempts + 1 >= config.outbox.max_attempts
            status = "failed" if final else "pending"
            later = _iso(now + backoff(config, r.attempts + 1))
            attempts.append(Attempt(r.id, h.row.id, status, _iso(now), why.code, why.error, later))
            outcomes.add(status)
        for status, ids in (("sent", report.sent), ("pending", report.retry), ("failed", report.failed)):
            if status in outcomes:
                ids.append(h.row.id)
    queue.record(store, attempts, release=tuple(h.row.id for h in handed))
