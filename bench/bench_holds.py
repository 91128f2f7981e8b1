"""What deciding whom to keep back costs a drain (outbound/holds.py), a benchmark.

    python bench/bench_holds.py [--mails 2000] [--rounds 3]

One drain (`delivery.drain`, the directory outbox, as `ticketctl queue send` runs it) of N queued notices,
each on a ticket of its own, timed with the holds decided as shipped and, as the baseline in the same
run, with a screen that keeps nobody back (what the drain did before holds existed). Two cases:

- spread: the notices go to N/3 addresses (3 each): the default windows hold none back, so the ratio is
  what checking every recipient (bounces, the windows of its address and ticket) costs;
- burst: all N go to one address: the default windows let 30 go and hold the rest, each held one after
  the mail already waiting; the baseline sends all N (a cost linear in N). Run at N and 2N: holding
  that grew with the mail already waiting for the address would cost more than the baseline at 2N.

Each round restores the same database (copied before the first drain). Prints a table and writes JSON
to bench/results/. Target: each case <= 1.3x its baseline.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import print_table, write_json  # noqa: E402

TARGET = 1.3


def build(work: Path, mails: int, addresses: int) -> Path:
    """A database with `mails` notices queued, mail i to address i % addresses, each on its own ticket."""
    from ticketctl.engine.config import load_config
    from ticketctl.engine.store import queue
    from ticketctl.engine.store.connection import Store, utcnow

    config = load_config(write_config(work))
    store = Store(config.database, config.data_dir, create=True)
    now = utcnow()
    with store.transaction() as conn:
        box = conn.execute(
            "INSERT INTO mailboxes (name, kind, maildir_path, created_at, updated_at)"
            " VALUES ('support', 'maildir', '/nonexistent', ?, ?)",
            (now, now),
        ).lastrowid
        type_id = conn.execute(
            "INSERT INTO ticket_types (name, task, email_to, workflow_tag, mailbox_id, created_at, updated_at)"
            " VALUES ('Support', 'simple_storage', '[\"support@example.com\"]', 'Support', ?, ?, ?)",
            (box, now, now),
        ).lastrowid
        for i in range(1, mails + 1):
            ticket = conn.execute(
                "INSERT INTO tickets (type_id, mailbox_id, status, subject, from_email, created_at, updated_at)"
                " VALUES (?, ?, 'new', ?, ?, ?, ?)",
                (type_id, box, f"Question {i}", f"customer{i}@example.org", now, now),
            ).lastrowid
            to = f"admin{i % addresses}@example.com"
            mail = queue.NewMail(
                ticket_id=ticket, log_id=None, purpose="new_ticket", from_email="support@example.com",
                from_name="Support", to_email=to, to_name="", cc="", reply_to="support@example.com",
                subject=f"[Support #{ticket}-1] Question {i}", body_text="Where is my order?\n" * 20,
                body_html=None, message_id=f"bench-{i}@example.com", in_reply_to=None, references="",
                envelope_from="bounces@example.com", attachments=(), auto_submitted=True,
            )  # fmt: skip
            queue.add(store, queue.next_id(store), mail, ((to, "to"),))
    store.close()
    return config.database


def write_config(work: Path) -> Path:
    config = work / "ticketctl.yaml"
    config.write_text(
        "database: ticketctl.db\ndata_dir: data\n"
        "outbox:\n  kind: directory\n  directory: data/outbox\n  from_address: support@example.com\n"
    )
    return config


def drain(work: Path, snapshot: Path, keep_nobody: bool) -> tuple[float, int, int]:
    """Restore the snapshot and drain it once: (seconds, mails sent, mails held back)."""
    from ticketctl.engine.config import load_config
    from ticketctl.engine.outbound import delivery, holds
    from ticketctl.engine.store.connection import Store

    config = load_config(work / "ticketctl.yaml")
    shutil.rmtree(config.data_dir / "outbox", ignore_errors=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{config.database}{suffix}").unlink(missing_ok=True)
    shutil.copy(snapshot, config.database)
    store = Store(config.database, config.data_dir)
    shipped = holds.screen
    if keep_nobody:
        holds.screen = lambda store, config, now: lambda row, due: []
    try:
        start = time.perf_counter()
        report = delivery.drain(store, config)
        seconds = time.perf_counter() - start
    finally:
        holds.screen = shipped
        store.close()
    return seconds, len(report.sent), len(report.held)


@dataclass
class Result:
    case: str
    mails: int
    addresses: int
    holds_s: float  # median drain time with the holds decided
    baseline_s: float  # median drain time keeping nobody back
    sent_held: tuple[int, int]  # what the drain with holds sent and held back

    @property
    def ratio(self) -> float:
        return self.holds_s / self.baseline_s

    @property
    def per_mail_ms(self) -> float:
        return 1000 * self.holds_s / self.mails


def case(name: str, mails: int, addresses: int, rounds: int) -> Result:
    work = Path(tempfile.mkdtemp(prefix=f"bench-holds-{name}-"))
    try:
        snapshot = work / "snapshot.db"
        shutil.copy(build(work, mails, addresses), snapshot)
        times: dict[bool, list[float]] = {False: [], True: []}
        counts = (0, 0)
        for n in range(rounds):
            for keep_nobody in (n % 2 == 0, n % 2 == 1):  # alternate which goes first
                seconds, sent, held = drain(work, snapshot, keep_nobody)
                times[keep_nobody].append(seconds)
                if not keep_nobody:
                    counts = (sent, held)
        ours, base = statistics.median(times[False]), statistics.median(times[True])
        return Result(name, mails, addresses, ours, base, counts)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.mails
    spread, burst, double = (
        case("spread", n, max(n // 3, 1), args.rounds),
        case("burst", n, 1, args.rounds),
        case("burst", 2 * n, 1, args.rounds),
    )
    print_table(
        ["case", "mails", "holds s", "baseline s", "ratio", "sent/held", "ms per mail"],
        [
            [r.case, r.mails, f"{r.holds_s:.2f}", f"{r.baseline_s:.2f}", f"{r.ratio:.2f}x",
             f"{r.sent_held[0]}/{r.sent_held[1]}", f"{r.per_mail_ms:.2f}"]
            for r in (spread, burst, double)
        ],
    )  # fmt: skip
    for what, r in (
        ("spread (checking every recipient)", spread),
        (f"burst of {n}", burst),
        (f"burst of {2 * n}", double),
    ):
        print(f"{what}: {r.ratio:.2f}x the baseline (target <= {TARGET}x{'' if r.ratio <= TARGET else '; MISSED'})")
    path = write_json("holds", {"results": [asdict(r) for r in (spread, burst, double)]})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
