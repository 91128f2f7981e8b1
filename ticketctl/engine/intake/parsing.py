"""Parsing what a batch fetched, on the run's main thread or, with a long backlog, in a child process.

Parsing is pure Python and holds the GIL, so a thread cannot overlap it with the recording. With
PARSE_AHEAD_MIN messages waiting, the run starts a `ParseWorker`: a child process (a fresh interpreter,
nothing shared). The fetch thread hands it each batch as it downloads and goes on (a thread in the
child takes the bytes in); the child parses them in order while the main thread records, and the
main thread reads each message when it comes to it, so it records one while the next is parsed. For
a mail that looks like a reply the child also cuts the quoted history from the text, and for every
one it looks whether it may be a delivery report at all (the bounce rule's first look). The
child only turns bytes into ParsedMessage values: it touches neither the store nor the server, so
what it does cannot lose or duplicate mail. It ends when the run closes it, and by itself when the
run is gone (the pipe it reads reaches its end). Should it fail, the run parses on its main thread,
as it does for a short run, and for a message spooled to disk or too large to fetch.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any, overload

from ticketctl.engine.intake.sources import Fetched
from ticketctl.engine.mail import bouncereport, message, quotes
from ticketctl.engine.mail.message import ParsedMessage

log = logging.getLogger(__name__)

# With this many messages waiting in a mailbox, a child process parses while the run records.
PARSE_AHEAD_MIN = 200

# The pipes to and from the worker (bytes): 1 MiB is the most Linux grants a user who is not root
# (/proc/sys/fs/pipe-max-size).
PIPE_BYTES = 1024 * 1024


def parse_fetched(fetched: Fetched, where: str = "") -> ParsedMessage:
    """What the rules need from one fetched message, from its bytes, its spool file or (too large to
    fetch) its header block; a message the parser cannot read at all still yields one, saying why."""
    try:
        if fetched.oversized:
            msg = message.parse_headers(fetched.headers or b"")
        elif fetched.spool is not None:
            msg = message.parse_file(fetched.spool.path, fetched.spool.dir)
        else:
            msg = message.parse(fetched.raw or b"")
    except Exception as exc:  # parse() should never raise; if it does, the `parse` rule makes it a ticket
        log.warning("cannot parse message %s%s: %s", fetched.uid, where, exc)
        msg = ParsedMessage(message_id=None, subject="(unreadable message)", from_=None)
        msg.parse_error = f"{type(exc).__name__}: {exc}"
    msg.size = fetched.size
    return msg


class ParseWorker:
    """A child process that parses the in-memory messages of each batch: `parse_many` hands a batch
    over and gives its messages parsed (`ParsedBatch`), each where it is cheapest (spooled and
    oversized ones here). The fetch thread hands batches over; the run reads them, in the same order."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads, locks or connections
        jobs_in, self._jobs = context.Pipe(duplex=False)
        self._results, results_out = context.Pipe(duplex=False)
        self._process: Any = context.Process(
            target=_parse_until_closed, args=(jobs_in, results_out), name="ticketctl-parse", daemon=True
        )
        self._process.start()
        jobs_in.close()
        results_out.close()
        for end in (self._jobs, self._results):
            _widen(end)
        self._alive = True
        self._unread: deque[ParsedBatch] = deque()  # batches handed over whose results are not all read

    def send(self, batch: list[Fetched]) -> int:
        """Hand the batch's in-memory messages (not spooled, not too large to fetch) to the child, one
        at a time, never the batch in one buffer; how many it took. The fetch thread sends a batch as
        it downloads it, and goes on while the child parses."""
        sent = 0
        if not self._alive:
            return sent
        try:
            for f in batch:
                if f.raw is not None:
                    self._jobs.send_bytes(f.raw)
                    sent += 1
        except (OSError, ValueError) as exc:
            self._stopped(exc)
        return sent

    def parse_many(self, batch: list[Fetched], where: str = "") -> ParsedBatch:
        """The batch handed over now (`send`); its messages parsed, read as they are wanted."""
        parsed = ParsedBatch(self, batch, self.send(batch), where)
        if parsed.unread:
            self._unread.append(parsed)
        return parsed

    def _read_before(self, batch: ParsedBatch) -> None:
        """Results come back in the order the batches went: first read those of every batch before."""
        while self._unread and self._unread[0] is not batch:
            self._unread[0].read_all()

    def _all_read(self, batch: ParsedBatch) -> None:
        if self._unread and self._unread[0] is batch:
            self._unread.popleft()

    def _result(self) -> ParsedMessage | None:
        if not self._alive:
            return None
        try:
            parsed: ParsedMessage = self._results.recv()
        except (OSError, EOFError, ValueError) as exc:
            self._stopped(exc)
            return None
        return parsed

    def _stopped(self, exc: Exception) -> None:
        if self._alive:
            self._alive = False
            log.warning("the parsing process stopped (%s); the run parses on its own from here", exc)

    def close(self) -> None:
        while self._alive and self._unread:  # what was handed over is read before the child goes
            self._unread[0].read_all()
        self._alive = False
        self._jobs.close()  # the child reads the end of its jobs and exits
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._results.close()


def _widen(end: Any) -> None:
    """Make the pipe PIPE_BYTES long where Linux allows it. In a pipe of 64 KiB (the default) the worker
    was a few messages ahead and spent most of its time blocked on the run, and a message with an
    attachment came back through it in pieces, the two processes waking each other for each."""
    try:
        import fcntl

        fcntl.fcntl(end.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # not Linux, or over the user's pipe quota: 64 KiB it is
        pass


class ParsedBatch(Sequence[ParsedMessage]):
    """A batch's messages parsed, each read from the worker when first wanted (in memory and handed
    over: the first `sent` of them), any other parsed here, as is every one should the worker stop.
    The fetch thread hands a batch over and goes on; the run records each message while the next is
    parsed."""

    def __init__(self, worker: ParseWorker, batch: list[Fetched], sent: int, where: str) -> None:
        self._worker = worker
        self._batch = batch
        self.unread = sent  # results still to read from the worker
        self._where = where
        self._got: list[ParsedMessage] = []

    def _up_to(self, count: int) -> None:
        if len(self._got) < count and self.unread:
            self._worker._read_before(self)
        while len(self._got) < count:
            f = self._batch[len(self._got)]
            msg = None
            if f.raw is not None and self.unread:
                self.unread -= 1
                msg = self._worker._result()
                if not self.unread:
                    self._worker._all_read(self)
            if msg is None:
                msg = parse_fetched(f, self._where)
            else:
                msg.size = f.size
            self._got.append(msg)

    def read_all(self) -> None:
        self._up_to(len(self._batch))

    def __iter__(self) -> Iterator[ParsedMessage]:
        for n in range(len(self._batch)):
            self._up_to(n + 1)
            yield self._got[n]

    def __len__(self) -> int:
        return len(self._batch)

    @overload
    def __getitem__(self, index: int) -> ParsedMessage: ...
    @overload
    def __getitem__(self, index: slice) -> list[ParsedMessage]: ...
    def __getitem__(self, index: int | slice) -> ParsedMessage | list[ParsedMessage]:
        self.read_all()
        return self._got[index]

    def __eq__(self, other: object) -> bool:
        return list(self) == (list(other) if isinstance(other, ParsedBatch) else other)

    __hash__ = None  # type: ignore[assignment]  # a sequence that fills as it is read


def _parse_until_closed(jobs: Any, results: Any) -> None:
    """The child: a thread takes the jobs in as they come (the fetch thread never waits on parsing),
    this one parses them in order and sends each back."""
    waiting: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def take_in() -> None:
        try:
            while True:
                waiting.put(jobs.recv_bytes())
        except (EOFError, OSError):  # the run closed its end, or is gone
            waiting.put(None)

    threading.Thread(target=take_in, daemon=True).start()
    try:
        while (raw := waiting.get()) is not None:
            results.send(_read_ahead(message.parse(raw)))
            del raw
    except OSError:  # the run is gone
        return


def _read_ahead(msg: ParsedMessage) -> ParsedMessage:
    """What else the run would compute from the message alone, and costs it most: a reply's text
    without its quoted history (quotes.py), and whether the bounce rule need read it at all."""
    if quotes.looks_like_reply(msg.in_reply_to, msg.references, msg.subject):
        msg.history = quotes.history_of(msg.body_text)
    msg.report_hint = bouncereport.may_be_report(msg)
    return msg
