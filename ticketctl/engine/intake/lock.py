"""One `process` run per database: an exclusive advisory lock on a file beside it."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ticketctl.engine.errors import LockHeld
from ticketctl.engine.store.connection import make_private_dir


@contextmanager
def run_lock(path: Path, wait_seconds: float = 10.0) -> Iterator[None]:
    """Hold the lock for the block; wait up to `wait_seconds` for another run, then raise LockHeld.
    The kernel drops the lock when the process dies, so a crashed run never blocks the next."""
    make_private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockHeld(
                        "Another ticketctl run is busy with this database; this run did nothing "
                        "(the next one will take over)."
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)
