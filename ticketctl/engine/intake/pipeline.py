"""The processing run: lock, mailboxes in order (bounce mailboxes first), messages in small batches
(one fetch, one commit, one dispose each; every message its own savepoint in the batch's transaction)
through the rule chain, dispose only after the commit, then drain the email queue. Each mailbox
starts by finishing what a run killed mid-dispose left half done. See docs/ARCHITECTURE.md, "The flow
of one run"."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from ticketctl.engine.config import Config
from ticketctl.engine.errors import TemplateError, TicketctlError, detail
from ticketctl.engine.intake.ingest import Outcome, ingest, sha256_of
from ticketctl.engine.intake.lock import run_lock
from ticketctl.engine.intake.parsing import PARSE_AHEAD_MIN, ParseWorker
from ticketctl.engine.intake.rules import chain as rule_chain
from ticketctl.engine.intake.sources import Fetched, Source, Waiting, open_source
from ticketctl.engine.mail.message import ParsedMessage
from ticketctl.engine.oauth.tokens import token_source
from ticketctl.engine.outbound import delivery, templating
from ticketctl.engine.outbound.background import BackgroundDrain
from ticketctl.engine.store import blobs, ledger, mailboxes, tickets
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.mailboxes import Mailbox
from ticketctl.engine.store.view import MailboxView

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (mailbox name, done, total)

# With this many messages waiting in a mailbox, a child process sends while the run takes them in.
BACKGROUND_SEND_MIN = 200

# A batch is fetched in one round trip and committed once; this bounds the memory it holds. At 1 MiB a
# batch of the ingest mix held ~50 messages, and its commit (fsync, BEGIN, the ledger's look at the
# batch's uids, one dispose) cost the main thread 0.6 s more CPU for 5,000 messages than at 2 MiB
# (0.8 s more than at 3 MiB), where `limits.batch_messages` (100) ends most batches; peak RSS
# 53.7 -> 56.9 MB (58.9 at 3 MiB).
BATCH_BYTES = 2 * 1024 * 1024


@dataclass
class MailboxReport:
    mailbox: str
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    backlog: str | None = None  # why the mail was taken in without notifying anyone, if it was
    left: int = 0  # messages still waiting after this run (--limit)

    @property
    def failed(self) -> bool:
        return self.error is not None

    def summary(self) -> str:
        total = sum(self.counts.values())
        parts = ", ".join(f"{n} {d}" for d, n in sorted(self.counts.items())) or "nothing waiting"
        line = f"{self.mailbox}: {total} message(s): {parts}"
        if self.backlog and total:
            line += f"; taken in as a backlog ({self.backlog}): nobody was notified"
        if self.left:
            line += f"; {self.left} left for the next run"
        return f"{line}; FAILED: {detail(self.error, f'Mailbox {self.mailbox!r}')}" if self.error else line


@dataclass
class ProcessReport:
    mailboxes: list[MailboxReport] = field(default_factory=list)
    sent: int = 0
    send_failed: int = 0
    send_error: str | None = None
    dry_run: bool = False

    @property
    def failed(self) -> bool:
        return any(m.failed for m in self.mailboxes) or self.send_error is not None


def mailboxes_to_process(store: Store, only: str | None = None) -> list[Mailbox]:
    """Mailboxes with an active ticket type, bounce mailboxes first; or the one named (even without one)."""
    boxes = mailboxes.to_process(store)
    if only is None:
        return boxes
    wanted = mailboxes.named(store, only)
    return [m for m in boxes if m.id == wanted.id] or [wanted]


def first_run(store: Store, mailbox: Mailbox) -> bool:
    """Nothing was ever taken from this mailbox: whatever waits there is old mail."""
    return mailbox.last_success_at is None and not ledger.has_any(store, mailbox.id)


def default_backlog(store: Store, config: Config, mailbox: Mailbox, waiting: int) -> str | None:
    """Why a run without --backlog or --notify takes this mailbox's mail in without notifying anyone,
    or None: a first run with more than `limits.first_run_backlog` messages waiting (years of old mail
    must not become hundreds of notices), and the runs after it until that backlog is taken in whole
    (a --limit, or a dropped connection, leaves part of it)."""
    if mailbox.backlog_open:
        return "the rest of its first run's backlog"
    threshold = config.limits.first_run_backlog
    if waiting > threshold and first_run(store, mailbox):
        return f"a first run with {waiting} messages waiting, over limits.first_run_backlog ({threshold})"
    return None


def run(
    store: Store,
    config: Config,
    *,
    mailbox: str | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    notify: bool | None = None,
    progress: Progress | None = None,
    lock_wait: float = 10.0,
) -> ProcessReport:
    """One processing run. `notify`: True sends what new tickets and replies send, False takes mail in
    as a backlog (nothing sent), None (the default) notifies except on a mailbox's first run with more
    than `limits.first_run_backlog` messages waiting. Raises LockHeld when another run holds the database,
    and TemplateError (no mail taken in) when an override in templates_dir is broken: every mail would
    become an error ticket."""
    _check_overrides(config)
    store.tune_for_intake()
    with run_lock(config.lock_path, lock_wait):
        report = ProcessReport(dry_run=dry_run)
        if not dry_run:
            blobs.sweep_parts(config.data_dir)
            _seal_plain_secrets(store)
        sending = _Sending(config, enabled=not dry_run and notify is not False)
        for box in mailboxes_to_process(store, mailbox):
            report.mailboxes.append(
                process_mailbox(
                    store, config, box, dry_run=dry_run, limit=limit, notify=notify, progress=progress, sending=sending
                )
            )
        if not dry_run:
            sending.finish(report)
            _drain(store, config, report)
            tickets.refresh_statistics(store)
        return report


class _Sending:
    """Starts a background sender (outbound/background.py) once a mailbox has a backlog worth it."""

    def __init__(self, config: Config, enabled: bool) -> None:
        self.config = config
        self.enabled = enabled
        self.started: BackgroundDrain | None = None

    def backlog(self, waiting: int) -> None:
        if self.enabled and self.started is None and waiting >= BACKGROUND_SEND_MIN:
            self.started = BackgroundDrain(self.config)

    def finish(self, report: ProcessReport) -> None:
        if self.started is not None:
            done = self.started.finish()
            report.sent += done.sent
            report.send_failed += done.failed
            report.send_error = report.send_error or done.error


def process_mailbox(
    store: Store,
    config: Config,
    mailbox: Mailbox,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    notify: bool | None = None,
    progress: Progress | None = None,
    sending: _Sending | None = None,
) -> MailboxReport:
    report = MailboxReport(mailbox.name)
    counts: Counter[str] = Counter()
    run_id = None if dry_run else _start_run(store, mailbox)
    source = None
    try:
        spool_dir = config.data_dir / "spool"  # large messages download here: a link away from the blob store
        tokens = token_source(store, mailbox) if mailbox.auth == "oauth2" else None
        source = open_source(mailbox, config.limits, tokens, spool_dir=spool_dir)
        if not dry_run:
            _finish_earlier(store, config, mailbox, source)
        everything = source.waiting()
        waiting = everything[: limit or None]
        report.backlog = _backlog(store, config, mailbox, notify, len(everything), dry_run)
        log.info("mailbox %s: %d message(s) waiting%s", mailbox.name, len(everything), _backlog_note(report))
        if sending is not None and not report.backlog:
            sending.backlog(len(waiting))
        _take_in(
            store,
            config,
            mailbox,
            source,
            waiting,
            counts,
            dry_run=dry_run,
            notify=not report.backlog,
            progress=progress,
        )
        source.close()
        report.left = len(everything) - len(waiting)
        if not report.left and not dry_run and (mailbox.backlog_open or report.backlog):
            with store.transaction():
                mailboxes.set_backlog_open(store, mailbox.id, False)
    except TicketctlError as exc:
        report.error = str(exc)
    except (OSError, EOFError) as exc:  # a connection that dropped mid-run
        report.error = (
            f"the connection to {mailbox.host or mailbox.maildir_path} failed ({exc}); "
            "nothing unrecorded was deleted, and the next run goes on from here"
        )
    except Exception as exc:
        log.debug("mailbox %s failed", mailbox.name, exc_info=True)
        report.error = (
            f"unexpected {type(exc).__name__}: {exc}; nothing unrecorded was deleted "
            "(run with --debug for the traceback)"
        )
    finally:
        if report.error and source is not None:
            _quietly(source.abort)
    report.counts = dict(counts)
    if run_id is not None:
        _finish_run(store, mailbox, run_id, report)
    return report


def _backlog(
    store: Store, config: Config, mailbox: Mailbox, notify: bool | None, waiting: int, dry_run: bool
) -> str | None:
    """Why this run takes the mailbox's mail in without notifying anyone, or None; a backlog that
    starts here is marked open until a run takes in what waits in full."""
    if notify is not None:
        return None if notify else "--backlog"
    why = default_backlog(store, config, mailbox, waiting)
    if why and not dry_run and not mailbox.backlog_open:
        with store.transaction():
            mailboxes.set_backlog_open(store, mailbox.id, True)
    return why


def _backlog_note(report: MailboxReport) -> str:
    return f"; taken in as a backlog ({report.backlog}), nobody notified" if report.backlog else ""


def _take_in(
    store: Store,
    config: Config,
    mailbox: Mailbox,
    source: Source,
    waiting: list[Waiting],
    counts: Counter[str],
    *,
    dry_run: bool,
    notify: bool,
    progress: Progress | None,
) -> None:
    """The waiting messages, batch by batch: fetch, ingest in one commit, then dispose."""
    view = MailboxView(store, mailbox.id, config.limits.max_message_bytes)
    chain = rule_chain.load()
    max_bytes = config.limits.max_message_bytes
    planned = list(batches(waiting, max_bytes, config.limits.batch_messages))
    parser = ParseWorker() if len(waiting) >= PARSE_AHEAD_MIN else None
    where = f" of {mailbox.name}"
    done = 0
    with ThreadPoolExecutor(1, thread_name_prefix="fetch") as fetcher:

        def download(index: int) -> Future[tuple[list[Fetched], Sequence[ParsedMessage | None]]] | None:
            if index >= len(planned):
                return None
            return fetcher.submit(_fetch, source, [w.uid for w in planned[index]], max_bytes, parser, where)

        # The fetch thread owns the connection: it downloads the next batch (and hands it to the parse
        # worker, which parses while this one is taken in), then disposes of this one once its commit is
        # done. Its tasks run in the order given, so a dispose follows the download before it; the run
        # waits for each dispose before it gives the next, and for the last before it ends.
        following = download(0)
        disposing: Future[None] | None = None
        try:
            for number, batch in enumerate(planned):
                assert following is not None
                fetched, parsed = following.result()
                following = download(number + 1)
                # One commit for the batch (each message a savepoint of it), after its files are on disk.
                with nullcontext() if dry_run else store.transaction(), blobs.synced_together():
                    if not dry_run:
                        ledger.expect(store, mailbox.id, [f.uid for f in fetched])
                    outcomes = [
                        ingest(store, config, mailbox, f, chain, view, notify=notify, dry_run=dry_run, parsed=msg)
                        for f, msg in zip(fetched, parsed, strict=True)
                    ]
                counts.update(outcome.disposition for outcome in outcomes)
                if disposing is not None:
                    disposing.result()
                    disposing = None
                if not dry_run:
                    disposing = fetcher.submit(_dispose, source, fetched, outcomes)
                done += len(batch)
                log.info("mailbox %s: %d of %d message(s) taken in", mailbox.name, done, len(waiting))
                if progress:
                    progress(mailbox.name, done, len(waiting))
            if disposing is not None:
                disposing.result()
        finally:
            if parser is not None:
                pending: list[Future[Any]] = [f for f in (following, disposing) if f is not None]
                wait(pending)  # the worker and the connection are the fetch thread's until it is done
                parser.close()


def _fetch(
    source: Source, uids: list[str], max_bytes: int, parser: ParseWorker | None, where: str
) -> tuple[list[Fetched], Sequence[ParsedMessage | None]]:
    """One batch from the server, handed to the parse worker when there is one (its messages come
    back parsed as the run reads them), else ingest parses each."""
    fetched = source.fetch_many(uids, max_bytes)
    return fetched, parser.parse_many(fetched, where) if parser else [None] * len(fetched)


def _dispose(source: Source, fetched: list[Fetched], outcomes: list[Outcome]) -> None:
    """After the batch's commit: remove (or move) what was recorded; set aside what could not be kept.
    A message an earlier run had recorded already meets its disposal `again` (that run may have begun it)."""
    pairs = list(zip(fetched, outcomes, strict=True))
    again = {f.uid for f, o in pairs if not o.recorded}
    source.dispose_many([f.uid for f, o in pairs if not o.keep_on_server], again)
    for f, o in pairs:
        if o.keep_on_server:
            source.set_aside(f.uid, f.uid in again)


def _finish_earlier(store: Store, config: Config, mailbox: Mailbox, source: Source) -> None:
    """Finish removing what an earlier run recorded and began to remove (killed between IMAP's \\Deleted
    flag and its expunge). A half-removed message is ours when the ledger recorded these very bytes
    under its uid; any other (another client's flagged mail) is left as it is."""
    left = source.unfinished()
    known = ledger.hashes_by_uid(store, mailbox.id, [w.uid for w in left]) if left else {}
    max_bytes = config.limits.max_message_bytes
    for batch in batches([w for w in left if w.uid in known], max_bytes, config.limits.batch_messages):
        fetched = source.fetch_many([w.uid for w in batch], max_bytes)
        source.finish([f.uid for f in fetched if sha256_of(f) in known[f.uid]])


def batches(waiting: list[Waiting], max_bytes: int, most: int) -> Iterator[list[Waiting]]:
    """Small messages in batches of up to `most` messages and BATCH_BYTES (one fetch, one commit, one
    dispose each); a message larger than that, or over the size limit, on its own."""
    batch: list[Waiting] = []
    size = 0
    for item in waiting:
        alone = item.size > BATCH_BYTES or item.size > max_bytes
        if batch and (alone or len(batch) >= most or size + item.size > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item.size
        if alone:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _check_overrides(config: Config) -> None:
    try:
        templating.check_overrides(config.templates_dir)
    except TemplateError as exc:
        reason = str(exc)
        raise TemplateError(f"No mail was taken in, because {reason[:1].lower()}{reason[1:]}") from exc


def _seal_plain_secrets(store: Store) -> None:
    """Secrets an older version stored in the clear are sealed by the first run that has the key (made
    now if the database never had one); without it they keep working as they are, and `status` says so."""
    try:
        sealed = mailboxes.seal_plain(store)
    except TicketctlError as exc:
        log.warning("the secrets stored in the clear stay so for now: %s", exc)
        return
    if sealed:
        log.info("sealed %d secret(s) stored in the clear by an older version", sealed)


def _drain(store: Store, config: Config, report: ProcessReport) -> None:
    result = delivery.drain(store, config)
    report.sent += len(result.sent)
    report.send_failed += len(result.retry) + len(result.failed)
    report.send_error = report.send_error or result.error


def _start_run(store: Store, mailbox: Mailbox) -> int:
    with store.transaction():
        return mailboxes.start_run(store, mailbox.id)


def _finish_run(store: Store, mailbox: Mailbox, run_id: int, report: MailboxReport) -> None:
    with store.transaction():
        mailboxes.finish_run(store, mailbox.id, run_id, report.counts, report.error)


def _quietly(action: Callable[[], None]) -> None:
    try:
        action()
    except Exception:
        log.debug("ignored error while aborting", exc_info=True)
