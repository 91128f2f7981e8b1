"""A claim names its process: one of a process that is gone is abandoned at once, one of a live process
never (on this host), one made elsewhere once it is old."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from ticketctl.engine.outbound import claims

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _claim_of(pid: int) -> str:
    started = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19]
    return f"{socket.gethostname()}/{pid}/{started}"


def test_this_process_is_at_work_and_a_process_that_exited_is_gone():
    assert claims.this_process() == _claim_of(os.getpid())
    assert not claims.abandoned(claims.this_process(), None, NOW)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    claim = _claim_of(child.pid)
    child.wait()
    assert claims.abandoned(claim, None, NOW)


def test_a_killed_process_not_yet_reaped_is_gone():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    claim = _claim_of(child.pid)
    assert not claims.abandoned(claim, None, NOW)
    os.kill(child.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while open(f"/proc/{child.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert claims.abandoned(claim, None, NOW), "a zombie sends nothing"
    child.wait()


def test_a_reused_pid_is_not_the_process_that_claimed():
    me = claims.this_process().rsplit("/", 1)[0]
    assert claims.abandoned(f"{me}/1", None, NOW)


def test_a_claim_from_another_host_is_abandoned_once_it_is_stale():
    fresh = (NOW - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old = (NOW - claims.SENDING_STALE - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert not claims.abandoned("elsewhere.example/123/456", fresh, NOW)
    assert claims.abandoned("elsewhere.example/123/456", old, NOW)


def test_a_claim_that_names_no_process_was_made_before_claims_did():
    assert claims.abandoned(None, None, NOW)
    assert claims.abandoned("", "2030-01-01T00:00:00Z", NOW)
