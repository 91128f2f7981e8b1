"""SQL statements per message of `process`, by kind of message, on the ingest mix (bench_ingest.py).

A local Maildir mailbox (no server needed), a warm-up of one question per reply to come, then the mix
(70% new questions, 30% replies, half by their `[Support #T-L]` tag and half by In-Reply-To, a notice
to the admin per new ticket, a relay per reply) taken in by `pipeline.run` in this process with a trace
callback on the store's connection.
Each statement is counted against the message being ingested, else against the run (BEGIN and COMMIT
of each batch, the run's own bookkeeping), and the drain of the queue is counted apart (in process: the
background sender is not started). Python-level fsyncs (blob files and their folders) are counted the
same way (those of a batch's blobs run at its end: counted to the run); SQLite's own (one per COMMIT in
WAL mode, listed among the run's statements) are not seen here.

    .venv/bin/python bench/bench_statements.py [--messages 1000] [--top 12]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sqlite3
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import clean_up, print_table  # noqa: E402
from bench.bench_ingest import add_support_type, build_batch, question, warm_tickets, write_config  # noqa: E402

_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+\b|X'[0-9A-Fa-f]*'|(?<=\bsp)\d+")


def shape(sql: str) -> str:
    """A traced statement with its bound values taken out, so that statements of one kind count together."""
    return " ".join(_LITERALS.sub("?", sql).split())[:150]


def deliver(maildir: Path, messages: list[bytes], prefix: str) -> None:
    for i, raw in enumerate(messages):
        name = f"{prefix}.{i:06d}.bench"
        (maildir / "tmp" / name).write_bytes(raw)
        os.rename(maildir / "tmp" / name, maildir / "new" / name)


class Tally:
    """Statements and fsyncs, counted against whatever is going on when they run."""

    def __init__(self) -> None:
        self.current = "run"
        self.statements: Counter[str] = Counter()
        self.fsyncs: Counter[str] = Counter()
        self.shapes: dict[str, Counter[str]] = {}
        self.messages: Counter[str] = Counter()
        self.one: Counter[str] = Counter()  # the statements of the message being ingested, by shape
        self.examples: dict[str, str] = {}  # one statement of each shape, as it ran

    def trace(self, sql: str) -> None:
        self.statements[self.current] += 1
        self.examples.setdefault(shape(sql), sql)
        if self.current == "message":
            self.one[shape(sql)] += 1
        else:
            self.shapes.setdefault(self.current, Counter())[shape(sql)] += 1

    def message(self, kind: str, fsyncs: int) -> None:
        """The message just ingested was of `kind`: its statements and fsyncs count there."""
        self.messages[kind] += 1
        self.statements[kind] += sum(self.one.values())
        self.shapes.setdefault(kind, Counter()).update(self.one)
        self.fsyncs[kind] += fsyncs
        self.one.clear()

    def during(self, what: str, action: Callable[[], Any]) -> Any:
        before, self.current = self.current, what
        try:
            return action()
        finally:
            self.current = before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top", type=int, default=0, help="list the N most frequent statements of each kind")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--plans", action="store_true", help="print the statements whose plan scans a table")
    args = parser.parse_args()

    from ticketctl.engine.admin import mailboxes
    from ticketctl.engine.config import load_config
    from ticketctl.engine.intake import pipeline
    from ticketctl.engine.store import blobs
    from ticketctl.engine.store.connection import Store

    rng = random.Random(args.seed)
    count = args.messages
    n_replies = count * 3 // 10
    work = Path(tempfile.mkdtemp(prefix="bench-statements-"))
    maildir = work / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    config_path = write_config(work)
    os.chdir(work)
    config = load_config(config_path)
    store = Store(config.database, config.data_dir, create=True)
    mailboxes.add(store, name="support", kind="maildir", maildir_path=str(maildir))
    add_support_type(store)
    pipeline.BACKGROUND_SEND_MIN = 10**9  # the drain runs here, on the traced connection

    deliver(maildir, [question(rng, f"warm{i}", html=False) for i in range(n_replies)], "warm")
    pipeline.run(store, config, notify=True)
    warm = warm_tickets(work / "ticketctl.db")
    assert len(warm) == n_replies, f"warm-up made {len(warm)} tickets with a notice, expected {n_replies}"
    deliver(maildir, build_batch(rng, count, warm), "mix")

    tally = Tally()
    ingest, drain, fsync = pipeline.ingest, pipeline._drain, os.fsync

    def counted_ingest(*a: Any, **k: Any) -> Any:
        fsyncs = tally.fsyncs["message"]
        outcome = tally.during("message", lambda: ingest(*a, **k))
        tally.message(str(outcome.disposition), tally.fsyncs["message"] - fsyncs)
        return outcome

    def counted_fsync(fd: int) -> None:
        tally.fsyncs[tally.current] += 1
        fsync(fd)

    pipeline.ingest = counted_ingest  # type: ignore[assignment]
    pipeline._drain = lambda *a: tally.during("drain", lambda: drain(*a))  # type: ignore[assignment]
    os.fsync = counted_fsync
    blobs.os.fsync = counted_fsync  # type: ignore[attr-defined]
    store.conn.set_trace_callback(tally.trace)
    try:
        report = pipeline.run(store, config, notify=True)
    finally:
        store.conn.set_trace_callback(None)
        os.fsync = fsync
    store.close()

    taken = sum(tally.messages.values())
    assert taken == count, f"took in {taken} messages, expected {count}"
    rows = []
    for kind, n in sorted(tally.messages.items()):
        rows.append([kind, str(n), f"{tally.statements[kind] / n:.2f}", f"{tally.fsyncs[kind] / n:.2f}"])
    total = tally.statements["message"] + tally.statements["run"]
    rows.append(["run (batches, bookkeeping)", "-", f"{tally.statements['run'] / count:.2f}", "-"])
    fsyncs = tally.fsyncs["message"] + tally.fsyncs["run"]
    rows.append(["taking in, all", str(count), f"{total / count:.2f}", f"{fsyncs / count:.2f}"])
    sent = max(report.sent, 1)
    rows.append(
        [
            "drain (per mail sent)",
            str(report.sent),
            f"{tally.statements['drain'] / sent:.2f}",
            f"{tally.fsyncs['drain'] / sent:.2f}",
        ]
    )
    print(f"process: {count} messages of the ingest mix ({n_replies} replies, half tagged), Maildir, in process")
    print_table(["kind", "messages", "statements/msg", "fsyncs/msg"], rows)
    if args.top:
        kinds = [*sorted(tally.messages), "run", "drain"]
        for kind in kinds:
            n = tally.messages.get(kind) or (count if kind == "run" else max(report.sent, 1))
            print(f"\n{kind}: the {args.top} most frequent statements (per message)")
            for sql, k in tally.shapes.get(kind, Counter()).most_common(args.top):
                print(f"  {k / n:6.2f}  {sql}")
    if args.plans:
        print_scans(work / "ticketctl.db", tally.examples.values())
    clean_up(work, args.keep)
    return 0


def print_scans(db: Path, statements: Iterable[str]) -> None:
    """The statements run whose plan reads a whole table (SCAN, not SEARCH), with that plan."""
    conn = sqlite3.connect(db)
    try:
        for sql in statements:
            if not sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
                continue
            plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
            if any(step.startswith("SCAN") for step in plan):
                print(f"\nscans: {shape(sql)}")
                for step in plan:
                    print(f"    {step}")
    finally:
        conn.close()


if __name__ == "__main__":
    raise SystemExit(main())
