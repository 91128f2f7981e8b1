"""Whose claim a `sending` queue row is. A drain names its process in every claim ("host/pid/start
time"), so a later drain can tell a claim of a process that is gone, which it takes back at once, from
one of a process still at work, which it leaves alone (taking it would send the mail twice). A claim
made on another host cannot be checked from here: it counts as gone once it is SENDING_STALE old.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

SENDING_STALE = timedelta(minutes=10)

_mine: dict[int, str] = {}  # by pid: a forked child is another process


def this_process() -> str:
    """The name this process puts on its claims."""
    pid = os.getpid()
    if pid not in _mine:
        _mine[pid] = f"{socket.gethostname()}/{pid}/{_started(pid) or ''}"
    return _mine[pid]


def abandoned(claimed_by: str | None, claimed_at: str | None, now: datetime) -> bool:
    """True when nobody works on the claim any more: its process is gone (or, on another host, the
    claim is older than SENDING_STALE). A claim that names no process (made by a ticketctl before
    claims did) is abandoned too."""
    host, _, rest = (claimed_by or "").partition("/")
    pid, _, started = rest.partition("/")
    if not pid.isdigit():
        return True
    if host == socket.gethostname():
        return not _running(int(pid), started)
    try:
        moment = datetime.fromisoformat((claimed_at or "").replace("Z", "+00:00"))
    except ValueError:
        return True
    return now - moment.astimezone(UTC) > SENDING_STALE


def _running(pid: int, started: str) -> bool:
    """The process `pid` is alive and is the one that started at `started` (pids are reused)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    stat = _stat(pid)
    if stat is None:  # gone since os.kill, or no /proc to ask (not Linux: the pid alone has to do)
        return not Path("/proc/self/stat").exists()
    state, start = stat
    return state not in ("Z", "X") and (not started or start == started)


def _started(pid: int) -> str | None:
    stat = _stat(pid)
    return stat[1] if stat else None


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) from /proc/PID/stat, or None without /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces
    return fields[0], fields[19]
