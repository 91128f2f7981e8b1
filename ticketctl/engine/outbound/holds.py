"""Which recipients of a mail about to go are kept back in the queue, and why: the one place that
decides it.

The drain asks when it claims the mail (`screen`, run by `queue.claim` in the commit that claims it), so
what one drain has claimed counts as sent for every other drain, and a window is never passed by two
at once. Counted at send time rather than when the mail is queued: the windows bound what leaves, and
mail queued long ago, tried again, or held before, is counted when it really goes.

- **Suppressed**: the address has an unresolved permanent bounce, or `suppression.temporary_failures`
  unresolved temporary failures within `suppression.within_days` (a staff reply too: it would bounce
  again). It has no time of its own: `release` (when a bounce is resolved) lets it go.
- **Held**: mail the engine sends by itself (every purpose but `EXEMPT`, a staff member's own words)
  over a window of `rate_limits.per_ticket` (the whole mail) or `rate_limits.per_address` (that
  recipient). It may go at the first moment every window has room again, after the mail already
  waiting for the same ticket or address; then it is checked again, and goes or waits once more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ticketctl.engine.config import Config, RateWindow
from ticketctl.engine.enums import Purpose
from ticketctl.engine.store import bounces, queue
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.queue import Hold, QueueRow, Recipient, Screen, Traffic

EXEMPT = (str(Purpose.REPLY),)  # a staff member's own reply: a person, not the engine, chose to send it


def screen(store: Store, config: Config, now: datetime) -> Screen:
    """What `queue.claim` asks for each mail it takes: the recipients due to keep back."""
    now = now.replace(microsecond=0)  # the stored times' precision: a slot is due at the second it names
    return lambda row, due: decide(store, config, row, due, now)


def decide(store: Store, config: Config, row: QueueRow, due: list[Recipient], now: datetime) -> list[Hold]:
    """The recipients of `row` due now that must not go yet: suppressed first, then the ticket's
    windows (for every recipient), then each address's."""
    kept = {r.id: hold for r in due if (hold := _suppressed(store, config, r, now))}
    left = [r for r in due if r.id not in kept]
    if not left or row.purpose in EXEMPT:
        return list(kept.values())
    limits = config.rate_limits
    if row.ticket_id is not None and limits.per_ticket:
        traffic = queue.on_ticket(
            store, row.ticket_id, *_span(limits.per_ticket, now), EXEMPT, row.id, _most(limits.per_ticket)
        )
        if wait := _wait(traffic, limits.per_ticket, now):
            window, until = wait
            reason = f"At most {window} go out on ticket {row.ticket_id} (rate_limits.per_ticket)."
            return [*kept.values(), *(Hold(r.id, "held", reason, _iso(until)) for r in left)]
    for r in left:
        if not limits.per_address:
            break
        traffic = queue.to_address(
            store, r.address, *_span(limits.per_address, now), EXEMPT, row.id, _most(limits.per_address)
        )
        if wait := _wait(traffic, limits.per_address, now):
            window, until = wait
            reason = f"At most {window} go to {r.address} (rate_limits.per_address)."
            kept[r.id] = Hold(r.id, "held", reason, _iso(until))
    return list(kept.values())


@dataclass(frozen=True)
class Released:
    """What resolving a bounce did to the mail it kept back."""

    released: list[int]  # mails due now again
    still: list[int]  # mails still suppressed: their address has another bounce
    by: int | None = None  # that bounce


def release(store: Store, config: Config, bounce: bounces.BounceRecord, now: datetime | None = None) -> Released:
    """After `bounce` was resolved: the mail suppressed at its addresses goes at the next send, unless
    the address is still blocked (another unresolved bounce), then it waits for that one. Inside the
    caller's transaction."""
    now = now or datetime.now(UTC)
    released: list[int] = []
    still: list[int] = []
    by = None
    for address in dict.fromkeys(a.lower() for a in (bounce.address, bounce.original_address) if a):
        blocked = _blocking(store, config, address, now)
        if blocked is None:
            released += queue.release_suppressed(store, address, _iso(now))
            continue
        by = blocked.bounce_ids[0]
        still += queue.suppress_again(store, address, by, _suppression_reason(address, blocked, config))
    return Released(sorted(set(released)), sorted(set(still)), by)


# --- suppression -------------------------------------------------------------------------------


def _suppressed(store: Store, config: Config, r: Recipient, now: datetime) -> Hold | None:
    blocked = _blocking(store, config, r.address, now)
    if blocked is None:
        return None
    reason = _suppression_reason(r.address, blocked, config)
    return Hold(r.id, "suppressed", reason, bounce_id=blocked.bounce_ids[0])


def _blocking(store: Store, config: Config, address: str, now: datetime) -> bounces.Blocking | None:
    rule = config.suppression
    since = _iso(now - timedelta(days=rule.within_days))
    return bounces.blocking(store, address, since, rule.temporary_failures)


def _suppression_reason(address: str, blocked: bounces.Blocking, config: Config) -> str:
    latest = blocked.bounce_ids[0]
    code = f", {blocked.status_code}" if blocked.status_code else ""
    if blocked.permanent:
        what = f"{address} bounced for good (bounce {latest}{code})"
    else:
        ids = ", ".join(str(i) for i in sorted(blocked.bounce_ids))
        what = (
            f"{address} failed for now {len(blocked.bounce_ids)} times within "
            f"{config.suppression.within_days} days (bounces {ids}{code})"
        )
    return f"{what}; `ticketctl bounces resolve {latest}` releases it."


# --- rate windows ------------------------------------------------------------------------------


def _most(windows: tuple[RateWindow, ...]) -> int:
    """How many of the latest mails the windows look at: a window of `count` at its latest `count`."""
    return max(w.count for w in windows)


def _span(windows: tuple[RateWindow, ...], now: datetime) -> tuple[str, str]:
    """(the start of the longest window, now) as stored times."""
    return _iso(now - timedelta(seconds=max(w.seconds for w in windows))), _iso(now)


def _wait(traffic: Traffic, windows: tuple[RateWindow, ...], now: datetime) -> tuple[RateWindow, datetime] | None:
    """None when every window has room now for one more mail; else when it may go and the window
    that decides it.

    It may go at the first moment, after every mail already waiting, at which each window of `count`
    holds fewer than `count` of the mails before it (those that went and those waiting, in order)."""
    went = [_parse(t) for t in traffic.went]
    if all(sum(t > now - timedelta(seconds=w.seconds) for t in went) < w.count for w in windows):
        return None
    times = sorted([*went, *(_parse(t) for t in traffic.waiting)])
    slots = [(w, times[-w.count] + timedelta(seconds=w.seconds)) for w in windows if len(times) >= w.count]
    window, at = max(slots, key=lambda slot: slot[1])  # one window at least is full: it has a slot
    return window, max([at, now, *times])


def _parse(stored: str) -> datetime:
    return datetime.fromisoformat(stored.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
