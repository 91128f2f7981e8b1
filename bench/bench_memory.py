"""Peak RSS of `ticketctl process` on mailboxes of large messages (a benchmark), in two cases:

- attachments: a few messages each carrying one attachment of `--attachment-mb` (plus small questions);
- text bodies: a message whose plain-text body is `--text-mb` of ordinary lines, and one whose body is
  a single line of that size (plus small questions).

    python bench/bench_memory.py [--messages 3] [--attachment-mb 20] [--text-mb 24] [--case NAME]

Starts a private Dovecot, delivers each case's messages to its own user, runs `python -m ticketctl
--config ... process --json` over IMAP into a fresh database with the directory outbox, and reports the
peak RSS (wait4) against the bound: 64 MB plus twice the case's largest message. Prints a table and
writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
from email.utils import formatdate, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import Run, measure, print_table, write_json  # noqa: E402
from bench.bench_ingest import process, question, setup_store, text, write_config  # noqa: E402
from tests.servers.dovecot import Dovecot, dovecot_available  # noqa: E402

BASE_MB = 64


def attachment_case(rng: random.Random, args: argparse.Namespace) -> list[bytes]:
    size = int(args.attachment_mb * 1024 * 1024)
    batch = [question(rng, f"big{i}", html=False, attachment=size) for i in range(args.messages)]
    return batch + [question(rng, f"small{i}", html=True) for i in range(10)]


def text_case(rng: random.Random, args: argparse.Namespace) -> list[bytes]:
    size = int(args.text_mb * 1024 * 1024)
    lines = text(rng, size // 90 + 1)[:size]
    one_line = ("x" * 63 + " ") * (size // 64)
    batch = [long_text(f"lines{size}", lines), long_text(f"line{size}", one_line)]
    return batch + [question(rng, f"small{i}", html=True) for i in range(10)]


def long_text(sender: str, body: str) -> bytes:
    """A plain-text mail as a mailer sends it: 8bit, the body's lines as they are (one may be huge)."""
    head = (
        f"From: Customer <{sender}@customer.example>\r\nTo: support@example.com\r\n"
        f"Subject: A long text from {sender}\r\nDate: {formatdate()}\r\n"
        f"Message-ID: {make_msgid(domain='customer.example')}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode() + body.replace("\n", "\r\n").encode() + b"\r\n"


CASES = {"attachments": attachment_case, "text bodies": text_case}


def run_case(server: Dovecot, work: Path, batch: list[bytes]) -> tuple[Run, int]:
    largest = max(len(m) for m in batch)
    # a 20 MB attachment makes a ~27 MB message (base64), above the 25 MiB default limit; the server
    # hands LF-only lines out as CRLF (RFC822.SIZE ~1.3% larger than the bytes delivered)
    limit = int(largest * 1.05) + 2**20
    work.mkdir()
    config = write_config(work, f"limits:\n  max_message_bytes: {limit}\n")
    user = server.new_user()
    setup_store(config, server, user)
    server.deliver(user.name, batch)
    run = measure(process(config), env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    return run, server.count(user.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=3)
    parser.add_argument("--attachment-mb", type=float, default=20)
    parser.add_argument("--text-mb", type=float, default=24)
    parser.add_argument("--case", choices=sorted(CASES), action="append", help="Only this case (repeatable).")
    args = parser.parse_args()
    if not dovecot_available():
        print("Dovecot is not installed; scripts/install-test-servers installs it.", file=sys.stderr)
        return 2
    rows, results, failed = [], [], False
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    server = Dovecot().start()
    try:
        for name in args.case or list(CASES):
            batch = CASES[name](random.Random(7), args)
            largest_mb = max(len(m) for m in batch) / 1024 / 1024
            run, left = run_case(server, work / name.replace(" ", "-"), batch)
            if run.returncode != 0:
                print(run.stdout, run.stderr, file=sys.stderr)
                failed = True
            bound = BASE_MB + 2 * largest_mb
            within = run.peak_rss_mb <= bound
            failed = failed or not within
            rows.append([name, len(batch), f"{largest_mb:.1f}", f"{run.seconds:.2f}", f"{run.peak_rss_mb:.1f}",
                         f"{bound:.0f}", left, "yes" if within else "NO"])  # fmt: skip
            results.append(
                {
                    "case": name,
                    "messages": len(batch),
                    "largest_mb": largest_mb,
                    "seconds": run.seconds,
                    "peak_rss_mb": run.peak_rss_mb,
                    "bound_mb": bound,
                    "within_bound": within,
                    "messages_left_on_server": left,
                    "summary": run.stdout,
                }
            )
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print_table(
        ["case", "messages", "largest MB", "seconds", "peak RSS MB", "bound MB", "left on server", "within"], rows
    )
    print("ABOVE BOUND or failed" if failed else "within bound")
    path = write_json("memory", {"cases": results})
    print(f"wrote {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
