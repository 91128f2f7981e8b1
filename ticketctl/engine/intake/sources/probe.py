"""Check a mailbox end to end without changing it: connect, log in, open the folder, count what waits."""

from __future__ import annotations

from dataclasses import dataclass

from ticketctl.engine.config import LimitsConfig
from ticketctl.engine.intake.sources import open_source
from ticketctl.engine.oauth.tokens import AccessTokenSource
from ticketctl.engine.store.mailboxes import Mailbox


@dataclass(frozen=True)
class ProbeResult:
    count: int
    total_bytes: int


def probe(mailbox: Mailbox, limits: LimitsConfig, tokens: AccessTokenSource | None = None) -> ProbeResult:
    """How many messages wait and their total size; raises SourceError or MailboxAuthError."""
    source = open_source(mailbox, limits, tokens)
    try:
        waiting = source.waiting()
    except BaseException:
        source.abort()
        raise
    source.close()
    return ProbeResult(len(waiting), sum(w.size for w in waiting))
