"""Time `tickets list` pages on a large database (a benchmark, not a test).

    python bench/bench_tickets_list.py [--tickets 1000000] [--db PATH] [--keep]

Fills a fresh database with N tickets (one transaction, executemany), then times one page (50) for each
filter the CLI offers, prints a table and writes JSON to bench/results/. The query plan of each case is
recorded too, so a missing index shows up as a SCAN.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ticketctl.engine import tickets  # noqa: E402
from ticketctl.engine.store import Store  # noqa: E402

MAILBOXES = 5
TYPES = 10
CONTACTS = 100_000
STATUSES = ("new", "open", "answered", "waiting", "resolved", "closed")
STATUS_WEIGHTS = (5, 10, 10, 5, 40, 30)
WORDS = "printer invoice refund login password exam course network laptop access delivery order".split()


def fill(store: Store, count: int, seed: int = 7) -> float:
    rng = random.Random(seed)
    start = time.perf_counter()
    conn = store.conn
    conn.execute("PRAGMA synchronous = OFF")
    base = datetime(2020, 1, 1, tzinfo=UTC)
    with store.transaction():
        conn.executemany(
            "INSERT INTO mailboxes (id, name, kind, maildir_path, created_at, updated_at)"
            " VALUES (?, ?, 'maildir', '/tmp/x', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')",
            [(i, f"box{i}") for i in range(1, MAILBOXES + 1)],
        )
        conn.executemany(
            "INSERT INTO ticket_types (id, name, task, email_to, workflow_tag, mailbox_id, admin_email,"
            " created_at, updated_at) VALUES (?, ?, 'simple_storage', '[\"t@example.org\"]', ?, ?,"
            " 'admin@example.org', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')",
            [(i, f"type{i}", f"Tag{i}", (i - 1) % MAILBOXES + 1) for i in range(1, TYPES + 1)],
        )
        conn.executemany(
            "INSERT INTO contacts (id, email, name, created_at) VALUES (?, ?, ?, '2020-01-01T00:00:00Z')",
            [(i, f"user{i}@example.com", f"User {i}") for i in range(1, CONTACTS + 1)],
        )

        def rows():
            for i in range(1, count + 1):
                created = base + timedelta(seconds=i * 90)
                updated = created + timedelta(seconds=rng.randrange(0, 30 * 86400))
                roll = rng.random()
                kind = "invalid" if roll < 0.01 else "error" if roll < 0.015 else "normal"
                type_id = None if kind != "normal" else rng.randrange(1, TYPES + 1)
                contact = None if kind == "error" else rng.randrange(1, CONTACTS + 1)
                subject = f"{rng.choice(WORDS)} {rng.choice(WORDS)} question {i}"
                yield (
                    i,
                    type_id,
                    rng.randrange(1, MAILBOXES + 1),
                    contact,
                    kind,
                    rng.choices(STATUSES, STATUS_WEIGHTS)[0],
                    subject,
                    f"user{contact or 0}@example.com",
                    f"User {contact or 0}",
                    created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
                )

        conn.executemany(
            "INSERT INTO tickets (id, type_id, mailbox_id, contact_id, kind, status, subject, from_email,"
            " from_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )
    conn.execute("ANALYZE")
    conn.execute("PRAGMA synchronous = FULL")
    return time.perf_counter() - start


def cases(count: int) -> list[tuple[str, tickets.TicketFilters, str, int]]:
    F = tickets.TicketFilters
    recent = (datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=count * 90 - 7 * 86400)).strftime("%Y-%m-%d")
    return [
        ("no filter", F(), "updated", 0),
        ("no filter, sort created", F(), "created", 0),
        ("no filter, sort id asc", F(), "id:asc", 0),
        ("status new", F(statuses=("new",)), "updated", 0),
        ("status new+open+waiting", F(statuses=("new", "open", "waiting")), "updated", 0),
        ("status open, sort created", F(statuses=("open",)), "created", 0),
        ("type", F(type_name="type3"), "updated", 0),
        ("mailbox", F(mailbox="box2"), "updated", 0),
        ("contact", F(contact="user4242@example.com"), "updated", 0),
        ("invalid", F(invalid=True), "updated", 0),
        ("error", F(error=True), "updated", 0),
        ("since (last week)", F(since=recent), "updated", 0),
        ("type + status", F(type_name="type3", statuses=("new",)), "updated", 0),
        ("search common word", F(search="printer"), "updated", 0),
        ("search rare (1 hit)", F(search=f"question {count // 2}"), "updated", 0),
        ("search none + status new", F(search="no such text", statuses=("new",)), "updated", 0),
        ("invalid, sort created", F(invalid=True), "created", 0),
        ("type + status waiting, asc", F(type_name="type3", statuses=("waiting",)), "updated:asc", 0),
        ("mailbox + contact", F(mailbox="box1", contact="user77@example.com"), "updated", 0),
        ("page 100 (offset 4950)", F(), "updated", 4950),
    ]


def time_case(store: Store, filters: tickets.TicketFilters, sort: str, offset: int, repeat: int) -> dict:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        page = tickets.list_tickets(store, filters, sort=sort, limit=50, offset=offset)
        timings.append(time.perf_counter() - start)
    return {
        "best_ms": min(timings) * 1000,
        "median_ms": sorted(timings)[len(timings) // 2] * 1000,
        "rows": len(page.tickets),
    }


def plan(store: Store, filters: tickets.TicketFilters, sort: str, offset: int) -> str:
    captured: list[str] = []

    def trace(statement: str) -> None:
        if statement.lstrip().upper().startswith("SELECT T.ID"):
            captured.append(statement)  # the last one is the query that answered

    store.conn.set_trace_callback(trace)
    tickets.list_tickets(store, filters, sort=sort, limit=50, offset=offset)
    store.conn.set_trace_callback(None)
    if not captured:
        return ""
    rows = store.conn.execute("EXPLAIN QUERY PLAN " + captured[-1]).fetchall()
    return "; ".join(r[3] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="Reuse or create the database here (default: a temp dir).")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ticketctl-bench-"))
    db = args.db or workdir / "bench.db"
    fresh = not db.exists()
    store = Store(db, workdir / "data")
    fill_seconds = fill(store, args.tickets) if fresh else None
    results = []
    for name, filters, sort, offset in cases(args.tickets):
        result = {
            "case": name,
            **time_case(store, filters, sort, offset, args.repeat),
            "plan": plan(store, filters, sort, offset),
        }
        results.append(result)
    print(f"{args.tickets:,} tickets; fill {fill_seconds:.1f} s" if fill_seconds else f"{db} reused")
    print(f"{'case':<28} {'best ms':>9} {'median ms':>10} {'rows':>5}  plan")
    for r in results:
        print(f"{r['case']:<28} {r['best_ms']:>9.1f} {r['median_ms']:>10.1f} {r['rows']:>5}  {r['plan']}")
    out = ROOT / "bench" / "results" / f"tickets_list-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "tickets": args.tickets,
                "fill_seconds": fill_seconds,
                "sqlite": sqlite3.sqlite_version,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written {out.relative_to(ROOT)}")
    store.close()


if __name__ == "__main__":
    main()
