"""Ingest throughput of `ticketctl process` over IMAP against a bare fetch-and-parse floor (a benchmark).

    python bench/bench_ingest.py [--messages 5000] [--rounds 3] [--keep] [--profile FILE]

Starts a private Dovecot (tests/servers/dovecot.py; scripts/install-test-servers installs it) and
builds one batch of N messages, the issue's mix:
  - 70% new questions from distinct senders, half plain text, half multipart/alternative with HTML;
    10% of N (taken from those) carry a 50-200 KB attachment;
  - 30% replies from the ticket's own customer, half carrying the `[Support #T-L]` tag, half threaded
    by In-Reply-To and References alone (a reply-all from a phone drops the tag);
  - bodies with non-English words (so the notices that carry them go out quoted-printable).
The replies need tickets, so before anything is measured a warm-up round of questions (one per reply)
runs through `process` into the fresh database; the tags are read from the notices it queued to the
admin (email_queue), the Message-IDs from the questions' logs, and each reply comes from its ticket's
customer. The warm-up is not timed.

Then the same batch is delivered to two users (new ones every round, see `use_user`), each mailbox is
opened once so that Dovecot has indexed the new files before the clock starts (its first indexing is
not the engine's work, nor the floor's), and two children are timed (wall time, peak RSS and CPU seconds via wait4):
  - floor: a bare imapclient script that fetches every message, parses it with
    email.message_from_bytes(policy=default), reads its headers and body, and expunges;
  - ticketctl: `python -m ticketctl --config ... process --json` (directory outbox, IMAP over plain
    loopback with a password, one Support type).
Prints a table and writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import textwrap
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import Run, clean_up, measure, print_table, write_json  # noqa: E402
from tests.servers.dovecot import Dovecot, MailUser, dovecot_available  # noqa: E402

TARGET_RATIO = 1.0
FLOOR_RATIO = 0.8  # no round may fall below this (issue 20)
RSS_LIMIT_MB = 64

FLOOR_SCRIPT = textwrap.dedent(
    """
    import sys
    from email import message_from_bytes, policy
    from imapclient import IMAPClient

    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    client = IMAPClient(host, port=port, ssl=False)
    client.login(user, password)
    client.select_folder("INBOX")
    uids = client.search("ALL")
    seen = 0
    for start in range(0, len(uids), 100):
        batch = uids[start:start + 100]
        for uid, data in client.fetch(batch, ["BODY.PEEK[]"]).items():
            msg = message_from_bytes(data[b"BODY[]"], policy=policy.default)
            _ = (msg["From"], msg["To"], msg["Subject"], msg["Message-ID"], msg["Date"])
            body = msg.get_body(("plain", "html"))
            _ = body.get_content() if body is not None else ""
            seen += 1
        client.add_flags(batch, [b"\\\\Deleted"])
    client.expunge()
    client.logout()
    print(seen)
    """
)

WORDS = (
    "printer invoice refund login password exam course network laptop access delivery order the my is "
    "not working since yesterday please help urgent broken account screen error again "
    "Drucker funktioniert nicht über Grüße réunion déjà reçu contraseña año kontoret fungerar"
).split()


def text(rng: random.Random, lines: int) -> str:
    return "\n".join(" ".join(rng.choices(WORDS, k=12)) for _ in range(lines)) + "\n"


def question(rng: random.Random, sender: str, html: bool, attachment: int = 0) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Customer {sender} <{sender}@customer.example>"
    msg["To"] = "support@example.com"
    msg["Subject"] = " ".join(rng.choices(WORDS, k=6)).capitalize()
    msg["Date"] = formatdate()
    msg["Message-ID"] = make_msgid(domain="customer.example")
    body = text(rng, rng.randint(5, 40))
    msg.set_content(body)
    if html:
        paras = "".join(f"<p>{line}</p>" for line in body.splitlines())
        msg.add_alternative(f"<html><body><div>{paras}</div></body></html>", subtype="html")
    if attachment:
        msg.add_attachment(rng.randbytes(attachment), maintype="application", subtype="pdf", filename="report.pdf")
    return bytes(msg)


def reply(rng: random.Random, customer: str, subject: str, in_reply_to: str | None = None) -> bytes:
    """A reply to the ticket: by its tagged `subject`, or (with `in_reply_to`) by the Message-ID alone."""
    msg = EmailMessage()
    msg["From"] = customer
    msg["To"] = "support@example.com"
    msg["Subject"] = "Re: " + subject
    msg["Date"] = formatdate()
    msg["Message-ID"] = make_msgid(domain="customer.example")
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = f"<{in_reply_to}>"
    msg.set_content("Thanks, still broken.\n\n> " + text(rng, 3).replace("\n", "\n> "))
    return bytes(msg)


def write_config(work: Path, extra: str = "") -> Path:
    config = work / "ticketctl.yaml"
    config.write_text(
        extra + "database: ticketctl.db\n"
        "data_dir: data\n"
        "outbox:\n  kind: directory\n  directory: data/outbox\n  from_address: support@example.com\n"
        # every notice goes to the one admin: the mix measures sending all of it, not the rate windows
        # (bench_holds.py measures those)
        "rate_limits:\n  per_address: []\n  per_ticket: []\n"
    )
    return config


def setup_store(config: Path, server: Dovecot, user: MailUser) -> None:
    from ticketctl.engine.admin import mailboxes
    from ticketctl.engine.config import load_config
    from ticketctl.engine.store.connection import Store

    cfg = load_config(config)
    store = Store(cfg.database, cfg.data_dir, create=True)
    try:
        mailboxes.add(
            store,
            name="support",
            kind="imap",
            host=server.host,
            port=server.ports["imap"],
            security="none",
            username=user.name,
            auth="password",
            password=user.password,
        )
        add_support_type(store)
    finally:
        store.close()


def use_user(config: Path, user: MailUser) -> None:
    """Point the mailbox `support` at another Dovecot user. Each round takes new users: a user's
    transaction log (dovecot.index.log) keeps every round's flags and expunges, as Dovecot rotates it
    only after 5 minutes, and its imap process's CPU grew with it round after round (1.5, 3.4, 7.7 s
    for the same 5,000 messages), for the floor too: a later round measured Dovecot's history."""
    from ticketctl.engine.admin import mailboxes
    from ticketctl.engine.config import load_config
    from ticketctl.engine.store.connection import Store

    cfg = load_config(config)
    store = Store(cfg.database, cfg.data_dir)
    try:
        mailboxes.edit(store, "support", username=user.name, password=user.password)
    finally:
        store.close()


def add_support_type(store: Any) -> None:
    """The one ticket type of the mix: Support on the mailbox `support`, notices to its admin."""
    from ticketctl.engine.admin import tickettypes

    tickettypes.add(
        store,
        name="Support",
        task="simple_storage",
        email_to=["support@example.com"],
        workflow_tag="Support",
        mailbox="support",
        admin_email="lead@example.com",
    )


def process(config: Path) -> list[str]:
    return [sys.executable, "-m", "ticketctl", "--config", str(config), "process", "--json", "--notify", "--wait", "0"]


def warm_tickets(db: Path) -> list[tuple[str, str, str, str]]:
    """(customer address, tagged subject, subject, Message-ID of the question) of each ticket the warm-up
    made, from the notice it queued and the question's log."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT t.from_email, q.subject, t.subject, l.message_id FROM email_queue q"
            " JOIN tickets t ON t.id = q.ticket_id"
            " JOIN ticket_logs l ON l.ticket_id = t.id AND l.direction = 'in'"
            " WHERE q.purpose = 'new_ticket' ORDER BY q.id"
        ).fetchall()
    finally:
        conn.close()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def build_batch(rng: random.Random, count: int, warm: list[tuple[str, str, str, str]]) -> list[bytes]:
    replies = [
        reply(rng, to, tagged) if i % 2 == 0 else reply(rng, to, subject, in_reply_to=message_id)
        for i, (to, tagged, subject, message_id) in enumerate(warm)
    ]
    new = count - len(replies)
    attachments = set(rng.sample(range(new), count // 10))
    questions = [
        question(rng, f"new{i}", html=i % 2 == 1, attachment=rng.randint(50_000, 200_000) if i in attachments else 0)
        for i in range(new)
    ]
    batch = questions + replies
    rng.shuffle(batch)
    return batch


def index(server: Dovecot, user: MailUser) -> None:
    """Open the mailbox once and list it, as a mail client would: Dovecot indexes the new files now."""
    from imapclient import IMAPClient

    client = IMAPClient(server.host, port=server.ports["imap"], ssl=False)
    client.login(user.name, user.password)
    client.select_folder("INBOX", readonly=True)
    client.fetch(client.search("ALL"), ["RFC822.SIZE", "FLAGS"])
    client.logout()


def _snapshot(work: Path) -> Path:
    """A copy of the warmed-up database and data folder, so that every round starts from the same state."""
    snapshot = work / "snapshot"
    snapshot.mkdir()
    shutil.copy2(work / "ticketctl.db", snapshot / "ticketctl.db")
    shutil.copytree(work / "data", snapshot / "data", symlinks=True)
    return snapshot


def _restore(work: Path, snapshot: Path) -> None:
    for suffix in ("-wal", "-shm"):
        (work / f"ticketctl.db{suffix}").unlink(missing_ok=True)
    shutil.copy2(snapshot / "ticketctl.db", work / "ticketctl.db")
    shutil.rmtree(work / "data")
    shutil.copytree(snapshot / "data", work / "data", symlinks=True)


def _profiled(cmd: list[str], output: str) -> list[str]:
    return [sys.executable, "-m", "cProfile", "-o", output, "-m", "ticketctl", *cmd[3:]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds, floor and ticketctl alternating")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (database, outbox)")
    parser.add_argument("--profile", metavar="FILE", help="run process under cProfile in the last round, writing FILE")
    args = parser.parse_args()
    if not dovecot_available():
        print("Dovecot is not installed; scripts/install-test-servers installs it.", file=sys.stderr)
        return 2

    rng = random.Random(args.seed)
    count = args.messages
    n_replies = count * 3 // 10
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    server = Dovecot().start()
    try:
        config = write_config(work)
        floor_user, engine_user = server.new_user(), server.new_user()
        setup_store(config, server, engine_user)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}

        # warm-up (untimed): one ticket per reply to come
        server.deliver(engine_user.name, [question(rng, f"warm{i}", html=False) for i in range(n_replies)])
        warm = measure(process(config), env=env, cwd=ROOT)
        if warm.returncode != 0:
            print(warm.stdout, warm.stderr, file=sys.stderr)
            return 1
        warm_made = warm_tickets(work / "ticketctl.db")
        if len(warm_made) != n_replies:
            print(f"warm-up made {len(warm_made)} tickets with a notice, expected {n_replies}", file=sys.stderr)
            return 1

        batch = build_batch(rng, count, warm_made)
        size_mb = sum(len(m) for m in batch) / 1e6
        snapshot = _snapshot(work)
        floor_cmd = [sys.executable, "-c", FLOOR_SCRIPT, server.host, str(server.ports["imap"])]
        cmd = process(config)
        floors: list[Run] = []
        engines: list[Run] = []
        engine_users = [engine_user]
        for round_ in range(args.rounds):
            _restore(work, snapshot)
            if round_:
                floor_user, engine_user = server.new_user(), server.new_user()
                use_user(config, engine_user)
                engine_users.append(engine_user)
            server.deliver(floor_user.name, batch)
            server.deliver(engine_user.name, batch)
            for user in (floor_user, engine_user):
                index(server, user)
            os.sync()  # the copies, deletions and deliveries reach the disk now, not while a timed run fsyncs
            profiled = args.profile and round_ == args.rounds - 1
            runs = {
                "floor": lambda user=floor_user: measure([*floor_cmd, user.name, user.password]),
                "engine": lambda profiled=profiled: measure(
                    _profiled(cmd, args.profile) if profiled else cmd, env=env, cwd=ROOT
                ),
            }
            order = ["floor", "engine"] if round_ % 2 == 0 else ["engine", "floor"]  # alternate: noise hits both
            done = {name: runs[name]() for name in order}
            floor, engine = done["floor"], done["engine"]
            if floor.returncode != 0 or floor.stdout.strip() != str(count):
                print(floor.stdout, floor.stderr, file=sys.stderr)
                return 1
            if engine.returncode != 0:
                print(engine.stdout, engine.stderr, file=sys.stderr)
                return 1
            floors.append(floor)
            engines.append(engine)
        left = sum(server.count(user.name) for user in engine_users)
    finally:
        server.stop()

    ratios = [(count / e.seconds) / (count / f.seconds) for f, e in zip(floors, engines, strict=True)]
    ratio = statistics.median(ratios)
    floor_s = statistics.median(f.seconds for f in floors)
    engine_s = statistics.median(e.seconds for e in engines)
    floor_rss = max(f.peak_rss_mb for f in floors)
    engine_rss = max(e.peak_rss_mb for e in engines)
    floor_cpu = statistics.median(f.cpu_seconds for f in floors)
    engine_cpu = statistics.median(e.cpu_seconds for e in engines)
    rows = [
        [name, f"{wall:.2f}", f"{count / wall:.0f}", f"{cpu:.2f}", f"{rss:.1f}"]
        for name, wall, cpu, rss in (
            ("floor (imapclient + email)", floor_s, floor_cpu, floor_rss),
            ("ticketctl process", engine_s, engine_cpu, engine_rss),
        )
    ]
    print(
        f"ingest: {count} messages ({size_mb:.1f} MB; {n_replies} replies, half by tag, half by In-Reply-To), "
        "IMAP over loopback, "
        f"{args.rounds} rounds (medians; peak RSS: the highest)"
    )
    print_table(["run", "seconds", "msg/s", "CPU s", "peak RSS MB"], rows)
    lowest = min(ratios)
    verdict = "meets target" if ratio >= TARGET_RATIO else "below target"
    floor_ok = lowest >= FLOOR_RATIO
    verdict += "; every round above the floor" if floor_ok else f"; a round BELOW THE FLOOR ({lowest:.2f}x)"
    each = ", ".join(f"{r:.2f}" for r in ratios)
    print(
        f"ratio ticketctl/floor: {ratio:.2f}x, median of {each} "
        f"({verdict}; target {TARGET_RATIO}x for the median, floor {FLOOR_RATIO}x for each round)"
    )
    print(f"peak RSS {engine_rss:.1f} MB (limit {RSS_LIMIT_MB} MB); messages left on server: {left}")
    path = write_json(
        "ingest",
        {
            "messages": count,
            "replies": n_replies,
            "batch_mb": round(size_mb, 2),
            "rounds": args.rounds,
            "floor": {
                "seconds": [f.seconds for f in floors],
                "cpu_seconds": [f.cpu_seconds for f in floors],
                "msg_per_s": count / floor_s,
                "peak_rss_mb": floor_rss,
            },
            "ticketctl": {
                "seconds": [e.seconds for e in engines],
                "cpu_seconds": [e.cpu_seconds for e in engines],
                "msg_per_s": count / engine_s,
                "peak_rss_mb": engine_rss,
                "summary": engines[-1].stdout,
            },
            "ratios": ratios,
            "ratio": ratio,
            "messages_left_on_server": left,
        },
    )
    print(f"wrote {path.relative_to(ROOT)}")
    clean_up(work, args.keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
