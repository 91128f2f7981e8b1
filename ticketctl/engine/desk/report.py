"""The figures of `ticketctl report`: how much mail arrives, how fast the team answers, where it piles up.

Definitions (the command's help and the README say the same):
- The window is whole UTC days, `since` to `until` inclusive, cut into periods (`by`): days, ISO weeks
  (Monday to Sunday) or calendar months; the first and last period may be cut by the window.
- Opened: tickets created in the period. Mail in: messages taken from the mailboxes (the ledger).
- First answer: the first mail from staff to the customer (an outgoing log whose receiver is the ticket's
  customer: a staff `tickets reply` or a relayed admin answer), for the tickets opened in the window that
  have a customer (all but error tickets), whenever the answer came.
- Resolution: a ticket's first move to `resolved` or `closed` (ticket_status_changes); its time is from
  creation. Resolved in a period: tickets whose first resolution falls in it. A ticket resolved before
  the status history existed has one estimated row, at its last update (`estimated` counts them).
- Median: the middle value (the mean of the two middle ones for an even count). 90th percentile: nearest
  rank, the smallest time within which 90% of the tickets were answered (resolved).
- Late: a first answer that took longer than `answer_within`, a ticket still unanswered that has waited
  longer than that now; a resolution that took longer than `resolve_within`.
- Backlog (now, whatever the window): open tickets (new, open, answered, waiting) by age since creation.
- Mail health: what needs a person, in the window, each with the command that lists it.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain

from ticketctl.engine.errors import ConfigError
from ticketctl.engine.store import mailboxes, report, types
from ticketctl.engine.store.connection import Store

PERIODS = ("day", "week", "month")
DEFAULT_PERIODS = {"day": 14, "week": 8, "month": 12}  # how many periods end at `until` when no `since`
MAX_PERIODS = 400
DAY = 86_400
BACKLOG_EDGES = (1, 3, 7)  # days: < 1 day, 1-3 days, 3-7 days, older
OLDEST = 5  # open tickets listed, oldest first
_UNITS = {"m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}

# What mail health counts in the ledger, the queue and the bounces: key, label, what it counts, the
# command that lists it. A new kind of mail that needs a person is one row here.
LEDGER_ITEMS = (
    ("error_tickets", "error tickets", "error_ticket", "ticketctl tickets list --error"),
    ("invalid_tickets", "invalid tickets", "invalid_ticket", "ticketctl tickets list --invalid"),
    ("ignored_mail", "ignored mail", "ignored", "ticketctl mail list --disposition ignored"),
    ("refused_mail", "refused mail", "rejected", "ticketctl mail list --disposition rejected"),
)
QUEUE_ITEMS = (
    ("failed_mail", "failed outgoing mail", "failed", "ticketctl queue list --status failed"),
    ("held_mail", "held outgoing mail", "held", "ticketctl queue list --status held"),
    ("suppressed_mail", "suppressed outgoing mail", "suppressed", "ticketctl queue list --status suppressed"),
)
BOUNCES_COMMAND = "ticketctl bounces list"


@dataclass(frozen=True)
class ReportRequest:
    since: str | None = None  # YYYY-MM-DD; default: DEFAULT_PERIODS[by] periods ending at `until`
    until: str | None = None  # YYYY-MM-DD, inclusive; default: today (UTC)
    type_name: str | None = None
    mailbox: str | None = None
    by: str = "week"
    answer_within: str = "24h"
    resolve_within: str = "7d"


@dataclass(frozen=True)
class Window:
    since: str  # first day
    until: str  # last day, inclusive
    by: str
    type: str | None
    mailbox: str | None
    answer_within_seconds: int
    resolve_within_seconds: int
    generated_at: str


@dataclass(frozen=True)
class PeriodVolume:
    label: str  # the period's first calendar day (a month: YYYY-MM)
    start: str  # first day in the window
    end: str  # last day in the window
    opened: int
    resolved: int
    mail_in: int
    first_answer_median_seconds: float | None  # of the tickets opened in this period
    opened_by_type: dict[str, int] = field(default_factory=dict)
    resolved_by_type: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Times:
    """How long some tickets took for one thing: their first answer, or their resolution."""

    count: int
    median_seconds: float | None
    p90_seconds: int | None
    late: int  # took longer than the threshold (answer_within, resolve_within)


@dataclass(frozen=True)
class Speed:
    type: str | None  # None: all types together
    tickets: int  # opened in the window with a customer
    first_answer: Times  # of those tickets, the answered ones
    unanswered: int
    unanswered_late: int  # still unanswered, waiting longer than answer_within now
    resolution: Times  # the tickets first resolved in the window
    resolution_estimated: int  # of those, resolved before the status history: timed at their last update


@dataclass(frozen=True)
class AgeBucket:
    label: str
    min_days: int
    max_days: int | None  # None: no upper bound
    count: int
    by_type: dict[str, int]


@dataclass(frozen=True)
class OpenTicket:
    id: int
    type: str
    status: str
    subject: str
    created_at: str
    age_seconds: int


@dataclass(frozen=True)
class Backlog:
    open: int
    by_status: dict[str, int]
    buckets: list[AgeBucket]  # oldest first
    oldest: list[OpenTicket]


@dataclass(frozen=True)
class MailHealthItem:
    key: str
    label: str
    count: int
    command: str
    unresolved: int | None = None  # bounces: how many of them are still unresolved


@dataclass(frozen=True)
class Report:
    window: Window
    types: list[str]  # every type in the figures, most tickets first
    volume: list[PeriodVolume]
    speed: list[Speed]  # one per type, then all types together
    backlog: Backlog
    mail_in: dict[str, int]  # the window's mail by what became of it (ledger disposition)
    mail_health: list[MailHealthItem]
    notes: list[str]


def build(store: Store, request: ReportRequest, now: datetime | None = None) -> Report:
    """Every figure of the report for `request`, as of `now` (default: the clock)."""
    now = now or datetime.now(UTC)
    if request.by not in PERIODS:
        raise ConfigError(f"--by '{request.by}' is not valid; use day, week or month.")
    answer_within = parse_duration(request.answer_within, "--answer-within")
    resolve_within = parse_duration(request.resolve_within, "--resolve-within")
    until = _date(request.until, "--until") if request.until else now.date()
    since = _date(request.since, "--since") if request.since else _default_since(until, request.by)
    if since > until:
        raise ConfigError(f"--since {since} is after --until {until}; give an earlier --since.")
    periods = _periods(since, until, request.by)
    calendar = _Calendar.of(since, periods)
    scope = _scope(store, request)
    window = (_stamp_day(since), _stamp_day(until + timedelta(days=1)))

    opened = [Counter[Key]() for _ in periods]
    for row in report.opened(store, scope, *window):
        opened[calendar.on(row.day)][row.type_id, row.kind] += row.count
    answers = _answers(report.first_answers(store, scope, *window), calendar, now, answer_within)
    resolutions = _resolutions(report.resolutions(store, scope, *window), calendar, len(periods))
    mail_in = [0] * len(periods)
    dispositions: Counter[str] = Counter()
    for m in report.mail_taken_in(store, scope, *window):
        mail_in[calendar.on(m.day)] += m.count
        dispositions[m.disposition] += m.count

    names = _Names(_type_names(store))
    opened_total, resolved_total = names.merge(*opened), names.merge(*resolutions.by_period)
    ordered = sorted(  # most opened first, then most resolved
        {*opened_total, *resolved_total},
        key=lambda name: (-opened_total.get(name, 0), -resolved_total.get(name, 0), name),
    )
    volume = [
        PeriodVolume(
            label=label,
            start=first.isoformat(),
            end=last.isoformat(),
            opened=sum(opened[i].values()),
            resolved=sum(resolutions.by_period[i].values()),
            mail_in=mail_in[i],
            first_answer_median_seconds=median(sorted(answers.by_period.get(i, ()))),
            opened_by_type=names.merge(opened[i]),
            resolved_by_type=names.merge(resolutions.by_period[i]),
        )
        for i, (label, first, last) in enumerate(periods)
    ]
    speed = [_speed(names.keys(t), t, answers, resolutions, answer_within, resolve_within) for t in ordered]
    speed = [s for s in speed if s.tickets or s.resolution.count]  # error tickets have no customer to answer
    if len(speed) != 1:
        speed.append(_speed(names.keys(None), None, answers, resolutions, answer_within, resolve_within))
    estimated = sum(resolutions.estimated.values())
    notes = []
    if estimated:
        notes.append(
            f"{estimated} resolution time(s) are estimated: those tickets were resolved before ticketctl "
            "recorded status changes, so their last update stands for the moment they were resolved."
        )
    return Report(
        window=Window(
            since=since.isoformat(),
            until=until.isoformat(),
            by=request.by,
            type=request.type_name,
            mailbox=request.mailbox,
            answer_within_seconds=answer_within,
            resolve_within_seconds=resolve_within,
            generated_at=_stamp(now),
        ),
        types=ordered,
        volume=volume,
        speed=speed,
        backlog=_backlog(store, scope, names, now),
        mail_in=dict(dispositions),
        mail_health=_mail_health(store, scope, window, dispositions),
        notes=notes,
    )


# --- speed -----------------------------------------------------------------------------------

Key = tuple[int | None, str]  # a ticket's (type id, kind); named once, at the end (_Names)


@dataclass(frozen=True)
class _Calendar:
    """Which period each day of the window is in."""

    first_day: date
    start: int  # the first second of first_day (Unix time)
    period_of: list[int]  # by days since first_day

    @classmethod
    def of(cls, since: date, periods: list[tuple[str, date, date]]) -> _Calendar:
        days = [i for i, (_, first, last) in enumerate(periods) for _ in range((last - first).days + 1)]
        return cls(since, int(datetime.combine(since, time(), UTC).timestamp()), days)

    def at(self, epoch: int) -> int:
        return self.period_of[(epoch - self.start) // DAY]

    def on(self, day: str) -> int:
        return self.period_of[(date.fromisoformat(day) - self.first_day).days]


class _Names:
    """The report's name for each (type id, kind): the type's name, or (invalid) / (error) for none."""

    def __init__(self, types: dict[int, str]) -> None:
        self.types = types
        self.seen: dict[Key, str] = {}

    def name(self, key: Key) -> str:
        if key not in self.seen:
            type_id, kind = key
            self.seen[key] = f"({kind})" if type_id is None else self.types.get(type_id, f"type {type_id}")
        return self.seen[key]

    def merge(self, *counts: Counter[Key]) -> dict[str, int]:
        merged: Counter[str] = Counter()
        for count in counts:
            for key, n in count.items():
                merged[self.name(key)] += n
        return dict(merged)

    def keys(self, name: str | None) -> list[Key]:
        """The keys named `name`; None: every key."""
        return [key for key, named in self.seen.items() if name is None or named == name]


@dataclass
class _Answers:
    times: defaultdict[Key, array[int]] = field(default_factory=lambda: defaultdict(lambda: array("q")))
    by_period: defaultdict[int, array[int]] = field(default_factory=lambda: defaultdict(lambda: array("q")))
    tickets: Counter[Key] = field(default_factory=Counter)
    unanswered: Counter[Key] = field(default_factory=Counter)
    unanswered_late: Counter[Key] = field(default_factory=Counter)


def _answers(rows: Iterable[report.Answer], calendar: _Calendar, now: datetime, within: int) -> _Answers:
    """Answer times per (type, kind) and per period, one row at a time."""
    found, now_epoch = _Answers(), int(now.timestamp())
    for type_id, kind, opened, answered in rows:
        key = (type_id, kind)
        found.tickets[key] += 1
        if answered is None:
            found.unanswered[key] += 1
            if now_epoch - opened > within:
                found.unanswered_late[key] += 1
        else:
            found.times[key].append(answered - opened)
            found.by_period[calendar.at(opened)].append(answered - opened)
    return found


@dataclass
class _Resolutions:
    by_period: list[Counter[Key]]
    times: defaultdict[Key, array[int]] = field(default_factory=lambda: defaultdict(lambda: array("q")))
    estimated: Counter[Key] = field(default_factory=Counter)


def _resolutions(rows: Iterable[report.Resolution], calendar: _Calendar, periods: int) -> _Resolutions:
    found = _Resolutions([Counter() for _ in range(periods)])
    for type_id, kind, resolved, seconds, estimated in rows:
        key = (type_id, kind)
        found.by_period[calendar.at(resolved)][key] += 1
        found.times[key].append(seconds)
        found.estimated[key] += estimated
    return found


def _speed(
    keys: list[Key],
    name: str | None,
    answers: _Answers,
    resolutions: _Resolutions,
    answer_within: int,
    resolve_within: int,
) -> Speed:
    """The speed of the tickets of `keys` (all of one name, or every key for all types together)."""
    return Speed(
        type=name,
        tickets=sum(answers.tickets[k] for k in keys),
        first_answer=_times(chain.from_iterable(answers.times.get(k, ()) for k in keys), answer_within),
        unanswered=sum(answers.unanswered[k] for k in keys),
        unanswered_late=sum(answers.unanswered_late[k] for k in keys),
        resolution=_times(chain.from_iterable(resolutions.times.get(k, ()) for k in keys), resolve_within),
        resolution_estimated=sum(resolutions.estimated[k] for k in keys),
    )


def _times(seconds: Iterable[int], within: int) -> Times:
    ordered = sorted(seconds)
    return Times(len(ordered), median(ordered), percentile(ordered, 90), len(ordered) - bisect_right(ordered, within))


def median(ordered: list[int]) -> float | None:
    """The middle of sorted values; for an even count the mean of the two middle ones. None for none."""
    n = len(ordered)
    if not n:
        return None
    middle = n // 2
    return float(ordered[middle]) if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def percentile(ordered: list[int], p: int) -> int | None:
    """Nearest rank: the smallest value that at least p% of the (sorted) values do not exceed."""
    if not ordered:
        return None
    rank = -(-p * len(ordered) // 100)  # ceil(p * n / 100)
    return ordered[max(rank, 1) - 1]


# --- backlog and mail health -----------------------------------------------------------------


def _backlog(store: Store, scope: report.Scope, names: _Names, now: datetime) -> Backlog:
    edges = [_stamp(now - timedelta(days=d)) for d in BACKLOG_EDGES]
    buckets = [Counter[str]() for _ in range(len(edges) + 1)]
    by_status: Counter[str] = Counter()
    for row in report.backlog(store, scope, edges):
        label = names.name((row.type_id, row.kind))
        upto = (0, *row.newer, row.count)  # created after no edge, after each edge, at all: newest first
        for i, bucket in enumerate(buckets):
            if upto[i + 1] > upto[i]:
                bucket[label] += upto[i + 1] - upto[i]
        by_status[row.status] += row.count
    lows, highs = (0, *BACKLOG_EDGES), (*BACKLOG_EDGES, None)
    ages = [
        AgeBucket(_bucket_label(low, high), low, high, sum(buckets[i].values()), dict(buckets[i]))
        for i, (low, high) in enumerate(zip(lows, highs, strict=True))
    ]
    oldest = [
        OpenTicket(
            id=t.id,
            type=names.name((t.type_id, t.kind)),
            status=t.status,
            subject=t.subject,
            created_at=t.created_at,
            age_seconds=int((now - _parse(t.created_at)).total_seconds()),
        )
        for t in report.oldest_open(store, scope, OLDEST)
    ]
    statuses = {s: by_status[s] for s in report.OPEN_STATUSES}
    return Backlog(open=sum(by_status.values()), by_status=statuses, buckets=ages[::-1], oldest=oldest)


def _bucket_label(low: int, high: int | None) -> str:
    if high is None:
        return f"{low}+ days"
    return "< 1 day" if low == 0 else f"{low}-{high} days"


def _mail_health(
    store: Store, scope: report.Scope, window: tuple[str, str], dispositions: Counter[str]
) -> list[MailHealthItem]:
    items = [MailHealthItem(key, label, dispositions[d], command) for key, label, d, command in LEDGER_ITEMS]
    bounced = report.bounces(store, scope, *window)
    items.append(MailHealthItem("bounces", "bounces", bounced.received, BOUNCES_COMMAND, bounced.unresolved))
    queued = report.queue_rows(store, scope, tuple(status for _, _, status, _ in QUEUE_ITEMS), *window)
    items += [MailHealthItem(key, label, queued.get(s, 0), command) for key, label, s, command in QUEUE_ITEMS]
    return items


# --- the window ------------------------------------------------------------------------------


def parse_duration(value: str, option: str) -> int:
    """'90m', '24h', '3d', '2w' as seconds."""
    found = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", value.lower())
    if not found or int(found.group(1)) == 0:
        raise ConfigError(f"{option} '{value}' is not a duration; give a number and a unit, like 90m, 24h, 3d or 2w.")
    return int(found.group(1)) * _UNITS[found.group(2)]


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{option} '{value}' is not a date; give it as YYYY-MM-DD.") from None


def _period_start(day: date, by: str) -> date:
    if by == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if by == "month" else day


def _next_period(start: date, by: str) -> date:
    if by == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=7 if by == "week" else 1)


def _default_since(until: date, by: str) -> date:
    start = _period_start(until, by)
    for _ in range(DEFAULT_PERIODS[by] - 1):
        start = _period_start(start - timedelta(days=1), by)
    return start


def _periods(since: date, until: date, by: str) -> list[tuple[str, date, date]]:
    """(label, first day, last day) of each period, cut to the window."""
    found = []
    start = _period_start(since, by)
    while start <= until:
        following = _next_period(start, by)
        label = start.strftime("%Y-%m") if by == "month" else start.isoformat()
        found.append((label, max(start, since), min(following - timedelta(days=1), until)))
        if len(found) > MAX_PERIODS:
            raise ConfigError(
                f"The window {since} to {until} has more than {MAX_PERIODS} periods of a {by}; "
                "give a later --since or a longer --by."
            )
        start = following
    return found


def _scope(store: Store, request: ReportRequest) -> report.Scope:
    """Tickets of the type and/or read from the mailbox; mail from the mailbox, else from the type's."""
    ticket_type = types.named(store, request.type_name) if request.type_name else None
    mailbox = mailboxes.named(store, request.mailbox) if request.mailbox else None
    ledger_mailbox = mailbox.id if mailbox else ticket_type.mailbox_id if ticket_type else None
    return report.Scope(
        type_id=ticket_type.id if ticket_type else None,
        mailbox_id=mailbox.id if mailbox else None,
        ledger_mailbox_id=ledger_mailbox,
    )


def _type_names(store: Store) -> dict[int, str]:
    return {t.id: t.name for t in types.list_all(store)}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp_day(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
