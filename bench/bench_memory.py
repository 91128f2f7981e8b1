"""Peak RSS of `ticketctl process` on a mailbox of messages with large attachments (a benchmark).

    python bench/bench_memory.py [--messages 3] [--attachment-mb 20]

Starts a private Dovecot, delivers a few messages each carrying one attachment of the given size (plus a
few small questions), runs `python -m ticketctl --config ... process --json` over IMAP into a fresh
database with the directory outbox, and reports its peak RSS (wait4) against the issue's bound:
64 MB plus twice the largest message. Prints a table and writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import measure, print_table, write_json  # noqa: E402
from bench.bench_ingest import process, question, setup_store, write_config  # noqa: E402
from tests.servers.dovecot import Dovecot, dovecot_available  # noqa: E402

BASE_MB = 64


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=3)
    parser.add_argument("--attachment-mb", type=float, default=20)
    args = parser.parse_args()
    if not dovecot_available():
        print("Dovecot is not installed; scripts/install-test-servers installs it.", file=sys.stderr)
        return 2
    rng = random.Random(7)
    size = int(args.attachment_mb * 1024 * 1024)
    batch = [question(rng, f"big{i}", html=False, attachment=size) for i in range(args.messages)]
    batch += [question(rng, f"small{i}", html=True) for i in range(10)]
    largest_mb = max(len(m) for m in batch) / 1024 / 1024
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    server = Dovecot().start()
    try:
        # a 20 MB attachment makes a ~27 MB message (base64), above the 25 MiB default limit; the server
        # hands LF-only lines out as CRLF (RFC822.SIZE ~1.3% larger than the bytes delivered)
        limit = int(largest_mb * 2**20 * 1.05) + 2**20
        config = write_config(work, f"limits:\n  max_message_bytes: {limit}\n")
        user = server.new_user()
        setup_store(config, server, user)
        server.deliver(user.name, batch)
        run = measure(process(config), env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
        left = server.count(user.name)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    if run.returncode != 0:
        print(run.stdout, run.stderr, file=sys.stderr)
        return 1
    bound = BASE_MB + 2 * largest_mb
    print_table(
        ["messages", "largest MB", "seconds", "peak RSS MB", "bound MB", "left on server"],
        [[len(batch), f"{largest_mb:.1f}", f"{run.seconds:.2f}", f"{run.peak_rss_mb:.1f}", f"{bound:.0f}", left]],
    )
    print("within bound" if run.peak_rss_mb <= bound else "ABOVE BOUND")
    path = write_json(
        "memory",
        {
            "messages": len(batch),
            "largest_mb": largest_mb,
            "seconds": run.seconds,
            "peak_rss_mb": run.peak_rss_mb,
            "bound_mb": bound,
            "messages_left_on_server": left,
            "summary": run.stdout,
        },
    )
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
