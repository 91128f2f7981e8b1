"""Sending while taking in: during a run with a long backlog, a child process drains the email queue
while the parent records messages, so notices go out from the first committed batch on and the two
halves of the work use two CPUs.

The child sees only committed rows and claims them as any drain does (pending -> sending in one commit),
so the parent's final drain, which always runs, never sends a row twice. It stops when the parent says
the mailboxes are done and a last pass finds nothing due, when a send error stops every mail (server
down, login refused), or when the parent is gone.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from typing import Any

from ticketctl.engine.config import Config

# Between two passes: a pass takes what the run queued while the last one went (a pass lasts a few of
# the run's batches), in a few commits (each holds the write lock for its fsync, which the run then
# waits for), rather than two commits per batch. Not longer: whatever waits when the run is done is
# the run's last wait (5,000 messages: 1.3-1.8 s with 0.5 s between passes, 0.5-0.9 s with 0.1 s).
WAIT_SECONDS = 0.1


@dataclass
class Sent:
    sent: int = 0
    failed: int = 0  # to be tried again, or failed for good
    error: str | None = None


class BackgroundDrain:
    def __init__(self, config: Config) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or connections shared
        self._done = context.Event()
        self._results, child_end = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_drain_until_done, args=(config, self._done, child_end), name="ticketctl-send", daemon=True
        )
        self._process.start()
        child_end.close()

    def finish(self) -> Sent:
        """Tell the child the mailboxes are done; wait for its last pass and return what it sent."""
        self._done.set()
        try:
            result: Sent = self._results.recv()
        except EOFError:
            result = Sent(error="the background sender stopped unexpectedly; the queue is drained in the run")
        self._process.join()
        return result


def _drain_until_done(config: Config, done: Any, results: Any) -> None:
    from ticketctl.engine.outbound import delivery
    from ticketctl.engine.store import secrets
    from ticketctl.engine.store.connection import Store

    total = Sent()
    parent = multiprocessing.parent_process()
    store = Store(config.database, config.data_dir)
    # the run's checkpoint threshold: with SQLite's own (1,000 pages) every commit here, small as it is,
    # copied the WAL the run had written since the last one into the database (a third of all the bytes
    # written in a 5,000-message run, and their fsyncs)
    store.tune_for_intake()
    secrets.use_key_file(store, config.secret_key_file)
    try:
        while parent is None or parent.is_alive():
            finishing = done.is_set()
            report = delivery.drain(store, config)
            total.sent += len(report.sent)
            total.failed += len(report.retry) + len(report.failed)
            if report.error:
                total.error = report.error
                break
            if finishing and not report.attempted:
                break
            if not finishing:
                done.wait(WAIT_SECONDS)
    except Exception as exc:  # the parent's own drain still runs; it only needs to know
        total.error = f"the background sender failed ({type(exc).__name__}: {exc})"
    finally:
        store.close()
    results.send(total)
