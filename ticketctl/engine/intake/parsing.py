"""Parsing what a batch fetched, on the run's main thread or, with a long backlog, in a child process.

Parsing is pure Python and holds the GIL, so a thread cannot overlap it with the recording. With
PARSE_AHEAD_MIN messages waiting, the run starts a `ParseWorker`: a child process (a fresh interpreter,
nothing shared) that parses each batch as it downloads, while the main thread records the batch
before it; for a mail that looks like a reply it also cuts the quoted history from the text. The
child only turns bytes into ParsedMessage values: it touches neither the store nor the server, so
what it does cannot lose or duplicate mail. It ends when the run closes it, and by itself when the
run is gone (the pipe it reads reaches its end). Should it fail, the run parses on its main thread,
as it does for a short run, and for a message spooled to disk or too large to fetch.
"""

from __future__ import annotations

import logging
import multiprocessing
from typing import Any

from ticketctl.engine.intake.sources import Fetched
from ticketctl.engine.mail import message, quotes
from ticketctl.engine.mail.message import ParsedMessage

log = logging.getLogger(__name__)

# With this many messages waiting in a mailbox, a child process parses while the run records.
PARSE_AHEAD_MIN = 200


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
    """A child process that parses the in-memory messages of a batch; `parse_many` gives the batch's
    messages parsed, each where it is cheapest (spooled and oversized ones here)."""

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
        self._alive = True

    def parse_many(self, batch: list[Fetched], where: str = "") -> list[ParsedMessage]:
        in_memory = [f for f in batch if f.raw is not None]  # not spooled, not too large to fetch
        parsed: dict[int, ParsedMessage] = {}
        if self._alive and in_memory:
            try:
                # one message at a time each way, never the whole batch in one buffer: a batch's bytes
                # and its parsed messages are each in memory once
                self._jobs.send_bytes(len(in_memory).to_bytes(4, "big"))
                for f in in_memory:
                    self._jobs.send_bytes(f.raw or b"")
                parsed = {id(f): self._results.recv() for f in in_memory}
            except (OSError, EOFError, ValueError) as exc:
                log.warning("the parsing process stopped (%s); the run parses on its own from here", exc)
                self.close()
        out = []
        for f in batch:
            msg = parsed.get(id(f))
            if msg is None:
                msg = parse_fetched(f, where)
            else:
                msg.size = f.size
            out.append(msg)
        return out

    def close(self) -> None:
        if not self._alive:
            return
        self._alive = False
        self._jobs.close()  # the child reads the end of its jobs and exits
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._results.close()


def _parse_until_closed(jobs: Any, results: Any) -> None:
    while True:
        try:  # the whole batch first: the run sends it all before it reads a result
            raws = [jobs.recv_bytes() for _ in range(int.from_bytes(jobs.recv_bytes(), "big"))]
        except (EOFError, OSError):  # the run closed its end, or is gone
            return
        for raw in raws:
            results.send(_read_ahead(message.parse(raw)))
        del raws


def _read_ahead(msg: ParsedMessage) -> ParsedMessage:
    """What else the run would compute from the message alone, and costs it most: a reply's text
    without its quoted history (quotes.py)."""
    if quotes.looks_like_reply(msg.in_reply_to, msg.references, msg.subject):
        msg.history = quotes.history_of(msg.body_text)
    return msg
