"""The ticket statuses and their allowed transitions (`ticketctl.engine.desk.tickets` explains them).

Plain data in a module of its own, so the CLI can list the statuses in its help without loading the
engine.
"""

from __future__ import annotations

STATUSES = ("new", "open", "answered", "waiting", "resolved", "closed")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("open", "answered", "waiting", "resolved", "closed"),
    "open": ("answered", "waiting", "resolved", "closed"),
    "answered": ("open", "waiting", "resolved", "closed"),
    "waiting": ("open", "answered", "resolved", "closed"),
    "resolved": ("open", "closed"),
    "closed": ("open",),
}
