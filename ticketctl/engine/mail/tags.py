"""The subject tag `[Tag #TicketId-LogId]`: make it, and find it in a reply's subject."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Re:, Fwd:, AW:, SV:, RE[2]:, Fw: ... as mail clients in many languages prefix replies
_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|sv|vs|wg|tr|rv|odp|antw|res|ref)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)
_TAG = re.compile(r"\[\s*([A-Za-z][A-Za-z0-9_-]{0,31})\s*#\s*(\d{1,18})\s*-\s*(\d{1,18})\s*\]")


@dataclass(frozen=True)
class Tag:
    workflow_tag: str
    ticket_id: int
    log_id: int

    def __str__(self) -> str:
        return f"[{self.workflow_tag} #{self.ticket_id}-{self.log_id}]"


def make_subject(workflow_tag: str, ticket_id: int, log_id: int, subject: str) -> str:
    """`[Tag #T-L] Subject`, with any earlier tag and reply prefixes taken off the subject."""
    return f"{Tag(workflow_tag, ticket_id, log_id)} {strip(subject)}".rstrip()


def find(subject: str) -> list[Tag]:
    """Every tag in a subject, in order (prefixes, case and spacing do not matter)."""
    return [Tag(m.group(1), int(m.group(2)), int(m.group(3))) for m in _TAG.finditer(subject or "")]


def strip(subject: str) -> str:
    """The subject without reply prefixes and without our tags."""
    text = _TAG.sub(" ", subject or "")
    text = _PREFIX.sub("", text.strip())
    return re.sub(r"\s{2,}", " ", text).strip()
