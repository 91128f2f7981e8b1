"""Check a mailbox end to end without changing it: connect, log in, open the folder, count what waits."""

from __future__ import annotations

from dataclasses import dataclass

from ticketctl.engine.admin.mailboxes import Mailbox
from ticketctl.engine.config import LimitsConfig
from ticketctl.engine.intake.sources import TokenProvider, open_source


@dataclass(frozen=True)
class ProbeResult:
    count: int
    total_bytes: int


def probe(mailbox: Mailbox, limits: LimitsConfig, token_provider: TokenProvider | None = None) -> ProbeResult:
    """How many messages wait and their total size; raises SourceError or MailboxAuthError."""
    source = open_source(mailbox, limits, token_provider)
    try:
        waiting = source.list()
    except BaseException:
        source.abort()
        raise
    source.close()
    return ProbeResult(len(waiting), sum(w.size for w in waiting))
