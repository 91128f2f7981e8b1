"""Invariants 1 and 2 under SIGKILL to the whole process group: no message lost, none recorded twice, no
duplicate ticket or mail; after a clean run the server holds nothing flagged and the processed folder
holds each message once; claimed notices go out at the next run, and a mail the SMTP server got twice
(the one in flight at a kill) is the same bytes both times.

Over IMAP the runs go through a loopback proxy (tests/servers/imap_proxy.py) that can hide MOVE and kill
the run at an exact command: between STORE \\Deleted and UID EXPUNGE, between COPY and STORE.

Figures: `pytest -q -s tests/pipeline/test_crash.py` prints one line per test (kills, duplicates).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest

from tests.pipeline.helpers import deliver, mail, setup_support, waiting
from tests.servers.fixtures import mailbox_fields
from tests.servers.imap_proxy import ImapProxy
from tests.servers.smtp import SmtpServer, make_cert
from ticketctl.engine.admin import mailboxes, tickettypes

REPO = Path(__file__).resolve().parents[2]
PROCESSED = "Processed"
SMTP_PASSWORD = "crash-test-pw"
# Every notice goes to the one admin: no rate window here (kills while holding: tests/outbox/test_holds_crash.py).
NO_WINDOWS = "rate_limits:\n  per_address: []\n  per_ticket: []\n"


def start_run(workdir: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETCTL_")}
    env["PYTHONPATH"] = str(REPO)
    env["CRASH_SMTP_PASSWORD"] = SMTP_PASSWORD
    return subprocess.Popen(
        [sys.executable, "-m", "ticketctl", "process", "--notify", "--wait", "30"],  # notices: counted below
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the kill takes the background sender too
    )


def kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def clean_run(workdir: Path) -> None:
    final = start_run(workdir)
    _, err = final.communicate(timeout=180)
    assert final.returncode == 0, err.decode()


def check_invariants(store, count):
    assert store.one("SELECT count(*) FROM ledger")[0] == count
    assert store.one("SELECT count(DISTINCT sha256) FROM ledger")[0] == count
    assert store.one("SELECT count(*) FROM tickets")[0] == count
    assert store.one("SELECT count(*) FROM ticket_logs WHERE direction = 'in'")[0] == count
    assert store.one("SELECT count(*) FROM email_queue")[0] == count
    assert store.one("SELECT max(n) FROM (SELECT count(*) AS n FROM email_queue GROUP BY ticket_id)")[0] == 1
    assert store.one("SELECT count(*) FROM email_queue WHERE status != 'sent'")[0] == 0, "every notice went out"


def message_ids(raws: list[bytes]) -> Counter[str]:
    parse = BytesHeaderParser().parsebytes
    return Counter(str(parse(raw)["Message-ID"]) for raw in raws)


@dataclass
class Mailbox:
    """The mailbox the Support type reads, as the test sees it on the server."""

    put: object  # (raws) -> None
    inbox: object  # () -> int: messages left, flagged \Deleted ones included
    processed: object  # () -> list[bytes] | None: the processed folder's messages (None: no such folder)
    proxy: ImapProxy | None = None


SOURCES = ["maildir", "maildir-processed", "pop3", "imap", "imap-processed", "imap-processed-nomove"]


def make_mailbox(kind: str, request, workdir, store, relay_ports) -> Mailbox:
    maildir = workdir / "mail"
    folder = PROCESSED if kind.endswith(("-processed", "-nomove")) else None
    setup_support(store, maildir)
    if kind.startswith("maildir"):
        mailboxes.edit(store, "local", processed_folder=folder)
        return Mailbox(
            lambda raws: deliver(maildir, *raws),
            lambda: len(waiting(maildir)),
            lambda: (
                [p.read_bytes() for sub in ("cur", "new") for p in (maildir / f".{folder}" / sub).glob("*")]
                if folder
                else None
            ),
        )
    dovecot = request.getfixturevalue("dovecot")
    user = dovecot.new_user()
    protocol = kind.split("-")[0]
    fields = mailbox_fields(dovecot, user, protocol, "none", "password", name="server", processed_folder=folder)
    proxy = None
    if protocol == "imap":
        proxy = ImapProxy(fields["port"], hide=("MOVE",) if kind.endswith("-nomove") else ())
        relay_ports.append(proxy)
        fields["port"] = proxy.port
    mailboxes.add(store, **fields)
    tickettypes.edit(store, "Support", mailbox="server")
    return Mailbox(
        lambda raws: dovecot.deliver(user.name, list(raws)),
        lambda: dovecot.count(user.name, include_deleted=True),
        lambda: dovecot.messages(user.name, folder, include_deleted=True) if folder else None,
        proxy,
    )


@pytest.fixture
def proxies():
    made: list[ImapProxy] = []
    yield made
    for proxy in made:
        proxy.close()


def check_server(box: Mailbox, sent: list[bytes]) -> None:
    assert box.inbox() == 0, "nothing left on the server, flagged or not"
    held = box.processed()
    if held is not None:
        assert message_ids(held) == message_ids(sent), "the processed folder holds each message once"


def fill(box: Mailbox, workdir: Path, count: int) -> list[bytes]:
    """`count` questions on the server, taken in by runs in small batches (the ledger grows a committed
    batch at a time: small ones show progress often, and make many disposals)."""
    (workdir / "ticketctl.yaml").write_text("limits:\n  batch_messages: 10\n" + NO_WINDOWS)
    sent = [mail(frm=f"customer{i}@example.org", subject=f"Question {i}") for i in range(count)]
    box.put(sent)
    return sent


@pytest.mark.parametrize("kind", SOURCES)
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(request, workdir, store, proxies, kind):
    box = make_mailbox(kind, request, workdir, store, proxies)
    count = 300
    sent = fill(box, workdir, count)
    rng = random.Random(20261126)
    kills = 0
    for _ in range(15):
        proc = start_run(workdir)
        # kill at a random point while messages are being recorded (sometimes within a message)
        target = store.one("SELECT count(*) FROM ledger")[0] + rng.randint(1, 40)
        while proc.poll() is None and store.one("SELECT count(*) FROM ledger")[0] < target:
            time.sleep(rng.uniform(0, 0.01))
        if proc.poll() is None:
            kill(proc)
            kills += 1
        proc.wait()
        if not box.inbox():
            break
    clean_run(workdir)
    print(f"\n{kind}: {kills} kills at random moments, {count} mails: none lost, none twice")
    assert kills >= 5, "the runs finished before they could be killed; make the mailbox bigger"
    check_server(box, sent)
    check_invariants(store, count)


# (command the run dies at, which occurrence of it in the run), run after run
STEPS = {
    "imap": [(rb"UID EXPUNGE", 2), (rb"UID EXPUNGE", 1), (rb"UID EXPUNGE", 3), (rb"UID EXPUNGE", 1)],
    "imap-processed-nomove": [
        (rb"UID STORE", 2),  # copied, not flagged
        (rb"UID EXPUNGE", 1),  # flagged, not expunged
        (rb"UID STORE", 1),
        (rb"UID EXPUNGE", 2),
        (rb"UID COPY", 2),
        (rb"UID EXPUNGE", 1),
    ],
}


@pytest.mark.parametrize("kind", sorted(STEPS))
def test_a_run_killed_between_two_steps_of_a_disposal_is_finished_by_the_next(request, workdir, store, proxies, kind):
    box = make_mailbox(kind, request, workdir, store, proxies)
    count = 60
    sent = fill(box, workdir, count)
    assert box.proxy is not None
    kills = 0
    for command, nth in STEPS[kind]:
        run: list[subprocess.Popen] = []
        box.proxy.on_command(command, nth, lambda run=run: kill(run[0]))
        run.append(start_run(workdir))
        run[0].wait(timeout=120)
        kills += box.proxy.fired.is_set()
    assert kills == len(STEPS[kind]), "every run died at its step"
    clean_run(workdir)
    print(f"\n{kind}: {kills} kills between disposal steps ({b', '.join(c for c, _ in STEPS[kind]).decode()})")
    check_server(box, sent)
    check_invariants(store, count)


def test_notices_claimed_by_a_killed_run_go_at_once_and_a_resent_one_is_the_same_bytes(
    workdir, store, tmp_path_factory
):
    maildir = workdir / "mail"
    setup_support(store, maildir)
    cert, key = make_cert(tmp_path_factory.mktemp("crash-smtp"))
    smtp = SmtpServer(cert, key, users={b"crash": SMTP_PASSWORD.encode()}).start()
    try:
        (workdir / "ticketctl.yaml").write_text(
            "limits:\n  batch_messages: 10\noutbox:\n  kind: smtp\n  smtp:\n    host: 127.0.0.1\n"
            f"    port: {smtp.port}\n    security: starttls\n    auth: password\n    username: crash\n"
            f"    password_env: CRASH_SMTP_PASSWORD\n    ca_file: {cert}\n" + NO_WINDOWS
        )
        count = 300
        deliver(maildir, *(mail(frm=f"customer{i}@example.org", subject=f"Question {i}") for i in range(count)))
        rng = random.Random(19)
        kills = 0
        windows = []  # per kill: mails the server had accepted that the killed run had not recorded
        for _ in range(40):
            if kills == 20 or len(smtp.messages) >= count:
                break
            claimed_before, received_before = set(claims(store)), len(smtp.messages)
            proc = start_run(workdir)
            target = len(smtp.messages) + rng.randint(1, 12)  # kill while the notices are being sent
            while proc.poll() is None and len(smtp.messages) < target:
                time.sleep(rng.uniform(0, 0.005))
            if proc.poll() is None:
                kill(proc)
                kills += 1
                proc.wait()
                accepted = {parse_id(m["data"]) for m in smtp.messages[received_before:]}
                windows.append(sum(mid in accepted for mid, _ in set(claims(store)) - claimed_before))
            proc.wait()
        clean_run(workdir)
        received = Counter(parse_id(m["data"]) for m in smtp.messages)
        extra = sum(n - 1 for n in received.values())
        print(f"\nSMTP: {kills} kills while sending, {count} notices, {extra} extra copies")
        print(f"accepted by the server and not yet recorded, at each kill: {windows}")
        assert kills == 20
        assert len(received) == count, "every notice reached the server"
        assert max(windows) <= 1 and extra <= kills, "at most the one mail in flight per kill"
        for mid in received:
            copies = {m["data"] for m in smtp.messages if parse_id(m["data"]) == mid}
            assert len(copies) == 1, f"the copies of {mid} differ"
        attempts = Counter(r[0] for r in store.query("SELECT attempts FROM email_recipients"))
        assert attempts == {1: count}, "a claim or a kill counts no attempt; one recorded send each"
        check_invariants(store, count)
    finally:
        smtp.stop()


def parse_id(data: bytes) -> str:
    return str(BytesHeaderParser().parsebytes(data)["Message-ID"])


def claims(store) -> list[tuple[str, str]]:
    """(<Message-ID>, claim) of the mails claimed for sending and not recorded since."""
    return [
        (f"<{r[0]}>", r[1])
        for r in store.query("SELECT message_id, claimed_by FROM email_queue WHERE status = 'sending'")
    ]


def test_two_runs_started_together_never_process_a_message_twice(workdir, store):
    maildir = workdir / "mail"
    setup_support(store, maildir)
    count = 150
    (workdir / "ticketctl.yaml").write_text(NO_WINDOWS)
    deliver(maildir, *(mail(frm=f"c{i}@example.org", subject=f"Q {i}") for i in range(count)))
    runs = [start_run(workdir) for _ in range(2)]
    for proc in runs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert waiting(maildir) == []
    check_invariants(store, count)
