"""Mail sources behind one interface: list what waits, fetch messages (one, or a batch of small ones in
one round trip), dispose of them.

The pipeline calls `dispose` only after the transaction recording the message has committed, and
`close` at the end of a good run (POP3 deletions take effect at QUIT); `abort` forgets pending
deletions (POP3 RSET) and drops the connection, so a failed run deletes nothing it had not recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ticketctl.engine.config import LimitsConfig
from ticketctl.engine.mailboxes import Mailbox

TokenProvider = Callable[[], str]  # returns a fresh OAuth2 access token for XOAUTH2


@dataclass(frozen=True)
class Waiting:
    """A message waiting on the server: its stable uid and its size in bytes."""

    uid: str
    size: int


@dataclass(frozen=True)
class Fetched:
    """One message. `raw` is the whole message, or None when it is over the size limit, in which
    case `headers` holds only its header block (the body was not downloaded)."""

    uid: str
    size: int
    raw: bytes | None
    headers: bytes | None = None

    @property
    def oversized(self) -> bool:
        return self.raw is None


class Source(Protocol):
    def list(self) -> list[Waiting]: ...

    def fetch(self, uid: str, max_bytes: int) -> Fetched: ...

    def fetch_many(self, uids: list[str], max_bytes: int) -> list[Fetched]: ...

    def dispose(self, uid: str) -> None: ...

    def dispose_many(self, uids: list[str]) -> None: ...

    def set_aside(self, uid: str) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class OneAtATime:
    """Batches for sources where a batch costs what its messages cost one by one (Maildir, POP3)."""

    def fetch_many(self, uids: list[str], max_bytes: int) -> list[Fetched]:
        return [self.fetch(uid, max_bytes) for uid in uids]  # type: ignore[attr-defined]

    def dispose_many(self, uids: list[str]) -> None:
        for uid in uids:
            self.dispose(uid)  # type: ignore[attr-defined]


def open_source(mailbox: Mailbox, limits: LimitsConfig, token_provider: TokenProvider | None = None) -> Source:
    """Connect and log in to the mailbox's server (or open its Maildir); raises SourceError or
    MailboxAuthError with a sentence on failure."""
    if mailbox.kind == "maildir":
        from ticketctl.engine.sources.maildir import MaildirSource

        return MaildirSource(mailbox)
    if mailbox.kind == "imap":
        from ticketctl.engine.sources.imap import ImapSource

        return ImapSource(mailbox, limits, token_provider)
    from ticketctl.engine.sources.pop3 import Pop3Source

    return Pop3Source(mailbox, limits, token_provider)
