"""Invariants 1 and 2 under SIGKILL: no message lost, none recorded twice, no duplicate ticket or mail."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pipeline.helpers import deliver, mail, setup_support, waiting
from tests.servers.fixtures import mailbox_fields
from ticketctl.engine.admin import mailboxes, tickettypes

REPO = Path(__file__).resolve().parents[2]


def start_run(workdir: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETCTL_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen(
        [sys.executable, "-m", "ticketctl", "process", "--notify", "--wait", "30"],  # notices: counted below
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def check_invariants(store, count):
    assert store.one("SELECT count(*) FROM ledger")[0] == count
    assert store.one("SELECT count(DISTINCT sha256) FROM ledger")[0] == count
    assert store.one("SELECT count(*) FROM tickets")[0] == count
    assert store.one("SELECT count(*) FROM ticket_logs WHERE direction = 'in'")[0] == count
    assert store.one("SELECT count(*) FROM email_queue")[0] == count
    assert store.one("SELECT max(n) FROM (SELECT count(*) AS n FROM email_queue GROUP BY ticket_id)")[0] == 1


@pytest.fixture(params=["maildir", "imap", "pop3"])
def mailbox_server(request, workdir, store):
    """(deliver, left): put messages on the mailbox the Support type reads; count what is left."""
    maildir = workdir / "mail"
    setup_support(store, maildir)
    if request.param == "maildir":
        return (lambda raws: deliver(maildir, *raws)), (lambda: len(waiting(maildir)))
    dovecot = request.getfixturevalue("dovecot")
    user = dovecot.new_user()
    fields = mailbox_fields(dovecot, user, request.param, "none", "password", name="server")
    mailboxes.add(store, **fields)
    tickettypes.edit(store, "Support", mailbox="server")
    return (lambda raws: dovecot.deliver(user.name, list(raws))), (lambda: dovecot.count(user.name))


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(workdir, store, mailbox_server):
    put, left = mailbox_server
    # small batches, so that the ledger (which grows a committed batch at a time) shows progress often
    (workdir / "ticketctl.yaml").write_text("limits:\n  batch_messages: 10\n")
    count = 300
    put(mail(frm=f"customer{i}@example.org", subject=f"Question {i}") for i in range(count))
    rng = random.Random(20261126)
    kills = 0
    for _ in range(15):
        proc = start_run(workdir)
        # kill at a random point while messages are being recorded (sometimes within a message)
        target = store.one("SELECT count(*) FROM ledger")[0] + rng.randint(1, 40)
        while proc.poll() is None and store.one("SELECT count(*) FROM ledger")[0] < target:
            time.sleep(rng.uniform(0, 0.01))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        if not left():
            break
    final = start_run(workdir)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()
    assert kills >= 5, "the runs finished before they could be killed; make the mailbox bigger"
    assert left() == 0
    check_invariants(store, count)


def test_two_runs_started_together_never_process_a_message_twice(workdir, store):
    maildir = workdir / "mail"
    setup_support(store, maildir)
    count = 150
    deliver(maildir, *(mail(frm=f"c{i}@example.org", subject=f"Q {i}") for i in range(count)))
    runs = [start_run(workdir) for _ in range(2)]
    for proc in runs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert waiting(maildir) == []
    check_invariants(store, count)
