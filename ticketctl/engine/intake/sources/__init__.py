"""Mail sources behind one interface: say what waits, fetch messages (one, or a batch of small ones in
one round trip), dispose of them.

The pipeline calls `dispose` only after the transaction recording the message has committed, and
`close` at the end of a good run (POP3 deletions take effect at QUIT); `abort` forgets pending
deletions (POP3 RSET) and drops the connection, so a failed run deletes nothing it had not recorded.

Disposal can take several steps (IMAP without MOVE: COPY, STORE \\Deleted, UID EXPUNGE) and a run can be
killed between them, so each run finishes what an earlier one began: `unfinished` lists the messages
left half removed, `finish` completes those the ledger shows are ours, and a message `dispose_many` or
`set_aside` is told it meets `again` (recorded by an earlier run) is first looked for where an
interrupted move may already have put it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from ticketctl.engine.config import LimitsConfig
from ticketctl.engine.oauth.tokens import AccessTokenSource
from ticketctl.engine.store.mailboxes import Mailbox

# A message larger than this is written to a scratch file while it downloads instead of being held in
# memory (the parse and the blob store then work from the file), so a run's memory does not grow with it.
SPOOL_BYTES = 1024 * 1024
SPOOL_PREFIX = "ticketctl-spool-"
STALE_SPOOL_SECONDS = 24 * 3600  # left behind by a run that died; removed by a later run


@dataclass(frozen=True)
class Waiting:
    """A message waiting on the server: its stable uid and its size in bytes."""

    uid: str
    size: int


class Spool:
    """A message written to a private scratch directory as it downloaded, hashed on the way. Parsing
    decodes its large attachments into the same directory. The directory is removed by `discard()`,
    or at the latest when the object is garbage-collected."""

    def __init__(self, directory: Path, sha256: str, size: int) -> None:
        self.dir = directory
        self.sha256 = sha256
        self.size = size
        self._remove = weakref.finalize(self, shutil.rmtree, directory, ignore_errors=True)

    @property
    def path(self) -> Path:
        return self.dir / "message"

    def discard(self) -> None:
        self._remove()


class SpoolWriter:
    """Writes one message into a new scratch directory (0700, file 0600) under `parent` (the system's
    temporary directory when None), hashing as it goes; `finish()` gives the Spool. Used as a context
    manager it removes the directory when the download fails."""

    def __init__(self, parent: Path | None) -> None:
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _sweep(parent)
        self.dir = Path(tempfile.mkdtemp(prefix=SPOOL_PREFIX, dir=parent))
        fd = os.open(self.dir / "message", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    def finish(self) -> Spool:
        self._file.close()
        return Spool(self.dir, self._hash.hexdigest(), self.size)

    def __enter__(self) -> SpoolWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None:
            self._file.close()
            shutil.rmtree(self.dir, ignore_errors=True)


def _sweep(parent: Path) -> None:
    """Remove scratch directories a killed run left behind (only old ones: a live run owns the new)."""
    cutoff = time.time() - STALE_SPOOL_SECONDS
    try:
        with os.scandir(parent) as entries:
            for entry in entries:
                if entry.name.startswith(SPOOL_PREFIX) and entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry.path, ignore_errors=True)
    except OSError:
        pass


@dataclass(frozen=True)
class Fetched:
    """One message: its bytes in `raw`, or in `spool` when it is larger than SPOOL_BYTES. Both are
    None when it is over the size limit; then `headers` holds only its header block (the body was
    not downloaded)."""

    uid: str
    size: int
    raw: bytes | None
    headers: bytes | None = None
    spool: Spool | None = None

    @property
    def oversized(self) -> bool:
        return self.raw is None and self.spool is None

    def read(self) -> bytes | None:
        """The whole message in memory, wherever it is (for tests and small messages); None if oversized."""
        return self.spool.path.read_bytes() if self.spool else self.raw


class Source(Protocol):
    def waiting(self) -> list[Waiting]: ...

    def unfinished(self) -> list[Waiting]:
        """Messages a session began to remove and did not finish (IMAP: flagged \\Deleted, not expunged)."""
        ...

    def fetch(self, uid: str, max_bytes: int) -> Fetched: ...

    def fetch_many(self, uids: list[str], max_bytes: int) -> list[Fetched]: ...

    def dispose(self, uid: str) -> None: ...

    def dispose_many(self, uids: list[str], again: Collection[str] = ()) -> None: ...

    def set_aside(self, uid: str, again: bool = False) -> None: ...

    def finish(self, uids: list[str]) -> None:
        """Complete the removal of these `unfinished` messages (and of no other)."""
        ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class OneAtATime:
    """For sources where a batch costs what its messages cost one by one (Maildir, POP3), and where
    disposing of a message is one step a crash cannot leave half done (a POP3 session's deletions
    apply at QUIT or not at all; a Maildir file is renamed or removed), so nothing is ever unfinished."""

    def fetch_many(self, uids: list[str], max_bytes: int) -> list[Fetched]:
        return [self.fetch(uid, max_bytes) for uid in uids]  # type: ignore[attr-defined]

    def dispose_many(self, uids: list[str], again: Collection[str] = ()) -> None:
        for uid in uids:
            self.dispose(uid)  # type: ignore[attr-defined]

    def unfinished(self) -> list[Waiting]:
        return []

    def finish(self, uids: list[str]) -> None:
        """Nothing is ever left half done."""


def open_source(
    mailbox: Mailbox,
    limits: LimitsConfig,
    tokens: AccessTokenSource | None = None,
    *,
    spool_dir: Path | None = None,
) -> Source:
    """Connect and log in to the mailbox's server (or open its Maildir); raises SourceError or
    MailboxAuthError with a sentence on failure. Large messages are spooled under `spool_dir` (best
    on the data directory's file system, so storing the raw message is a link, not a copy)."""
    if mailbox.kind == "maildir":
        from ticketctl.engine.intake.sources.maildir import MaildirSource

        return MaildirSource(mailbox, spool_dir=spool_dir)
    if mailbox.kind == "imap":
        from ticketctl.engine.intake.sources.imap import ImapSource

        return ImapSource(mailbox, limits, tokens, spool_dir=spool_dir)
    from ticketctl.engine.intake.sources.pop3 import Pop3Source

    return Pop3Source(mailbox, limits, tokens, spool_dir=spool_dir)
