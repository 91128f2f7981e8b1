"""`ticketctl report`: volume, speed, backlog and mail health as a picture in the terminal, plain numbers
in a pipe, `--json` and `--csv` for spreadsheets and monitoring."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from ticketctl.commands import charts
from ticketctl.commands.common import JsonOption, console, lazy, print_json, safe, state
from ticketctl.engine.errors import ConfigError

if TYPE_CHECKING:
    from ticketctl.engine.desk.report import Backlog, MailHealthItem, PeriodVolume, Report, Speed, Times

report_ = lazy("ticketctl.engine.desk.report")

GAP = 2  # between two columns: a space of padding and the space that divides them
MIN_GIVE = 12  # the narrowest a name or subject column gets, however wide the figures beside it
TYPE_BESIDE_SUBJECT = 20  # the widest a type's name gets beside a subject
MAIL_WORDS = {  # what became of the mail taken in (the ledger's disposition): one, several
    "new_ticket": ("new ticket", "new tickets"),
    "reply": ("reply", "replies"),
    "bounce": ("bounce", "bounces"),
    "error_ticket": ("error ticket", "error tickets"),
    "invalid_ticket": ("invalid ticket", "invalid tickets"),
    "rejected": ("refused", "refused"),
    "ignored": ("ignored", "ignored"),
    "duplicate": ("duplicate", "duplicates"),
}


def report(
    ctx: typer.Context,
    since: str = typer.Option(
        None, "--since", metavar="DATE", help="First day (YYYY-MM-DD, UTC); default: 14 days, 8 weeks or 12 months."
    ),
    until: str = typer.Option(None, "--until", metavar="DATE", help="Last day, included (YYYY-MM-DD); default: today."),
    type_name: str = typer.Option(
        None, "--type", metavar="NAME", help="Only tickets of this type, and mail of its mailbox."
    ),
    mailbox: str = typer.Option(None, "--mailbox", metavar="NAME", help="Only tickets and mail of this mailbox."),
    by: str = typer.Option("week", "--by", metavar="PERIOD", help="day, week (Monday to Sunday) or month."),
    answer_within: str = typer.Option(
        "24h", "--answer-within", metavar="TIME", help="Count first answers slower than this (90m, 24h, 3d, 2w)."
    ),
    resolve_within: str = typer.Option(
        "7d", "--resolve-within", metavar="TIME", help="Count resolutions slower than this."
    ),
    json: bool = JsonOption,
    csv: bool = typer.Option(False, "--csv", help="Print CSV (section, period, type, metric, value) instead."),
) -> None:
    """How much mail arrives, how fast the team answers, where it piles up.

    Volume: tickets opened and resolved per period, by type, and the mail taken in.

    First answer: the first mail from staff to the customer (a `tickets reply`, or the admin's answer
    relayed by the engine), for the tickets opened in the window, whenever it came.

    Resolution: a ticket's first move to resolved or closed, timed from its creation and counted in the
    period it happened. Tickets resolved before ticketctl kept a status history are timed at their last
    update, and the report says how many.

    Medians, and 90th percentiles by nearest rank: 90% of the tickets were answered (resolved) within it.

    Backlog: the tickets open now (new, open, answered, waiting) by age.

    Mail health: error and invalid tickets, ignored and refused mail, bounces and failed outgoing mail in
    the window, each with the command that lists them.

    On a terminal the figures come with bars and sparklines; piped, plain numbers. Times are UTC.
    """
    if json and csv:
        raise ConfigError("Give --json or --csv, not both.")
    request = report_.ReportRequest(
        since=since,
        until=until,
        type_name=type_name,
        mailbox=mailbox,
        by=by,
        answer_within=answer_within,
        resolve_within=resolve_within,
    )
    result = report_.build(state(ctx).store, request)
    if json:
        print_json(result)
    elif csv:
        _write_csv(result)
    else:
        _render(result)


# --- text ------------------------------------------------------------------------------------


def _render(r: Report) -> None:
    out = console()
    picture = out.is_terminal
    w = r.window
    scope = f"type {safe(w.type)}" if w.type else "all types"
    scope += f", mailbox {safe(w.mailbox)}" if w.mailbox else ", all mailboxes"
    out.print(f"[bold]Report {w.since} to {w.until}[/] (UTC), by {w.by}; {scope}", soft_wrap=True)
    _volume(out, r, picture)
    _speed(out, r)
    _backlog(out, r.backlog, picture)
    _mail_health(out, r.mail_health)
    for note in r.notes:
        out.print(f"Note: {safe(note)}", soft_wrap=False)


def _table(
    out: Any,
    title: str,
    columns: list[str],
    rows: list[list[Any]],
    left: tuple[int, ...] = (0,),
    give: int = 0,
    caps: dict[int, int] | None = None,
) -> None:
    """Print a table whose rows stay one line at the console's width: numbers right, `left` columns left;
    only column `give` (a name or subject) gives way, with an ellipsis, so no figure is ever cut. `caps`
    bounds other text columns (a type's name beside a subject)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    def width(cell: Any) -> int:
        return (cell if isinstance(cell, Text) else Text.from_markup(str(cell))).cell_len

    caps = caps or {}
    needed = [max([width(name)] + [width(row[i]) for row in rows]) for i, name in enumerate(columns)]
    needed = [min(w, caps.get(i, w)) for i, w in enumerate(needed)]
    room = out.width - sum(w for i, w in enumerate(needed) if i != give) - GAP * (len(columns) - 1)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    for i, name in enumerate(columns):
        table.add_column(
            name,
            justify="left" if i in left else "right",
            no_wrap=True,
            overflow="ellipsis",
            min_width=None if i == give else needed[i],
            max_width=max(MIN_GIVE, room) if i == give else caps.get(i),
        )
    for row in rows:
        table.add_row(*row)
    out.print(f"[italic]{title}[/]")  # above the table, not its title: Rich would wrap it to the table's width
    out.print(table)


def _volume(out: Any, r: Report, picture: bool) -> None:
    heading = {"day": "Day", "week": "Week of", "month": "Month"}[r.window.by]
    drawn = r.types if len(r.types) <= len(charts.SERIES) else r.types[: len(charts.SERIES) - 1]
    if picture:
        bar = max(8, (out.width - 40) // 2)
        top = max([max(p.opened, p.resolved) for p in r.volume] + [0])
        rows = [
            [
                p.label,
                str(p.opened),
                charts.bar(_series(p.opened_by_type, drawn), top, bar),
                str(p.resolved),
                charts.bar(_series(p.resolved_by_type, drawn), top, bar),
                str(p.mail_in),
            ]
            for p in r.volume
        ]
        _table(out, "Volume", [heading, "Opened", "", "Resolved", "", "Mail in"], rows, left=(0, 2, 4))
    else:
        rows = [[p.label, str(p.opened), str(p.resolved), str(p.mail_in)] for p in r.volume]
        _table(out, "Volume", [heading, "Opened", "Resolved", "Mail in"], rows)
    if picture and r.types:
        legend = [f"[{style}]{fill}[/] {safe(name)}" for name, (fill, style) in zip(drawn, charts.SERIES, strict=False)]
        if len(r.types) > len(drawn):
            fill, style = charts.SERIES[len(drawn)]
            legend.append(f"[{style}]{fill}[/] other")
        out.print("  ".join(legend))
    opened = ", ".join(f"{safe(t)} {sum(p.opened_by_type.get(t, 0) for p in r.volume)}" for t in r.types)
    out.print(f"Opened by type: {opened or 'none'}")
    mail = ", ".join(
        f"{n} {MAIL_WORDS.get(d, (d, d))[n != 1]}" for d, n in sorted(r.mail_in.items(), key=lambda i: -i[1])
    )
    out.print(f"Mail in: {sum(r.mail_in.values())}" + (f" ({mail})" if mail else ""))
    if picture and len(r.volume) > 1:
        per = r.window.by
        _trend(out, f"Mail in per {per}", [float(p.mail_in) for p in r.volume], lambda n: str(int(n)))
        _trend(out, f"First answer, median per {per}", [p.first_answer_median_seconds for p in r.volume], human)


def _series(by_type: dict[str, int], drawn: list[str]) -> list[tuple[float, int]]:
    parts: list[tuple[float, int]] = [(float(by_type.get(t, 0)), i) for i, t in enumerate(drawn)]
    other = sum(n for t, n in by_type.items() if t not in drawn)
    return [*parts, (float(other), len(drawn))]


def _trend(out: Any, title: str, values: list[float | None], show: Any) -> None:
    known = [v for v in values if v is not None]
    if not known or max(known) == 0:
        return
    low, high = show(min(known)), show(max(known))
    span = f"{low} to {high}" if low != high else f"{low} each"
    out.print(f"{title}: [cyan]{charts.sparkline(values)}[/] {span}", overflow="ellipsis", no_wrap=True)


def _speed(out: Any, r: Report) -> None:
    late = f"> {human(r.window.answer_within_seconds)}"
    names = ["all types" if s.type is None else safe(s.type) for s in r.speed]
    answers = [
        [name, str(s.tickets), *_times(s.first_answer), str(s.unanswered), str(s.unanswered_late)]
        for name, s in zip(names, r.speed, strict=True)
    ]
    columns = ["Type", "Tickets", "Answered", "Median", "90%", late, "Waiting", late]
    _table(out, "First answer (tickets opened in the window)", columns, answers)
    resolutions = [
        [name, *_times(s.resolution), str(s.resolution_estimated)] for name, s in zip(names, r.speed, strict=True)
    ]
    columns = ["Type", "Resolved", "Median", "90%", f"> {human(r.window.resolve_within_seconds)}", "Estimated"]
    _table(out, "Resolution (tickets resolved in the window)", columns, resolutions)


def _times(t: Times) -> list[str]:
    return [str(t.count), human(t.median_seconds), human(t.p90_seconds), str(t.late)]


def _backlog(out: Any, b: Backlog, picture: bool) -> None:
    statuses = ", ".join(f"{s} {n}" for s, n in b.by_status.items())
    title = f"Backlog now: {b.open} open ({statuses})"
    if picture:
        top = max([a.count for a in b.buckets] + [0])
        bars = [
            [a.label, str(a.count), charts.bar([(float(a.count), 0)], top, max(8, out.width - 24))] for a in b.buckets
        ]
        _table(out, title, ["Age", "Tickets", ""], bars, left=(0, 2), give=2)
        title = "Open tickets by type and age"
    totals = {t: sum(a.by_type.get(t, 0) for a in b.buckets) for a in b.buckets for t in a.by_type}
    types = sorted(totals, key=lambda t: (-totals[t], t))
    rows = [[safe(t), *(str(a.by_type.get(t, 0)) for a in b.buckets), str(totals[t])] for t in types]
    if len(types) > 1:
        rows.append(["all types", *(str(a.count) for a in b.buckets), str(b.open)])
    if rows:
        _table(out, title, ["Type", *(a.label for a in b.buckets), "Total"], rows)
    elif not picture:
        out.print(f"{title}.")
    if b.oldest:
        oldest = [
            [str(t.id), safe(t.type), t.status, human(t.age_seconds), safe(t.subject, oneline=True)] for t in b.oldest
        ]
        columns = ["Ticket", "Type", "Status", "Age", "Subject"]
        _table(out, "Oldest open tickets", columns, oldest, left=(1, 2, 4), give=4, caps={1: TYPE_BESIDE_SUBJECT})


def _mail_health(out: Any, items: list[MailHealthItem]) -> None:
    rows = [
        [str(item.count), item.label + (f" ({item.unresolved} unresolved)" if item.unresolved else ""), item.command]
        for item in items
    ]
    _table(out, "Mail health in the window", ["Count", "What", "Listed by"], rows, left=(1, 2), give=1)


def human(seconds: float | None) -> str:
    """A duration in the two largest units that matter: 45m, 5h 03m, 2d 4h, 12d."""
    if seconds is None:
        return "-"
    total = int(seconds / 60 + 0.5)  # whole minutes, halves up
    days, rest = divmod(total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days >= 10:
        return f"{days}d"
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    return f"{minutes}m"


# --- csv -------------------------------------------------------------------------------------


def _write_csv(r: Report) -> None:
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(("section", "period", "type", "metric", "value"))
    writer.writerows(_cells(row) for row in _csv_rows(r))


def _csv_rows(r: Report) -> list[tuple[str, str, str, str, Any]]:
    w = r.window
    scope = (("since", w.since), ("until", w.until), ("by", w.by), ("type", w.type), ("mailbox", w.mailbox))
    rows: list[tuple[str, str, str, str, Any]] = [("window", "", "", key, value or "all") for key, value in scope]
    for p in r.volume:
        rows += _period_rows(p)
    for s in r.speed:
        rows += _speed_rows(s)
    b = r.backlog
    rows.append(("backlog", "", "", "open", b.open))
    rows += [("backlog", "", "", f"status {s}", n) for s, n in b.by_status.items()]
    for a in b.buckets:
        rows.append(("backlog", "", "", f"age {a.label}", a.count))
        rows += [("backlog", "", t, f"age {a.label}", n) for t, n in a.by_type.items()]
    rows += [("backlog", "", t.type, "oldest open ticket", t.id) for t in b.oldest]
    rows += [("mail_in", "", "", d, n) for d, n in r.mail_in.items()]
    for item in r.mail_health:
        rows.append(("mail_health", "", "", item.key, item.count))
        if item.unresolved is not None:
            rows.append(("mail_health", "", "", f"{item.key} unresolved", item.unresolved))
    return rows


def _period_rows(p: PeriodVolume) -> list[tuple[str, str, str, str, Any]]:
    rows: list[tuple[str, str, str, str, Any]] = [
        ("volume", p.label, "", "opened", p.opened),
        ("volume", p.label, "", "resolved", p.resolved),
        ("volume", p.label, "", "mail in", p.mail_in),
        ("volume", p.label, "", "first answer median seconds", _number(p.first_answer_median_seconds)),
    ]
    rows += [("volume", p.label, t, "opened", n) for t, n in p.opened_by_type.items()]
    rows += [("volume", p.label, t, "resolved", n) for t, n in p.resolved_by_type.items()]
    return rows


def _speed_rows(s: Speed) -> list[tuple[str, str, str, str, Any]]:
    name = s.type if s.type is not None else "all types"
    figures: list[tuple[str, Any]] = [
        ("tickets", s.tickets),
        ("unanswered", s.unanswered),
        ("unanswered late", s.unanswered_late),
    ]
    for what, t in (("first answer", s.first_answer), ("resolution", s.resolution)):
        figures += [
            (f"{what} count", t.count),
            (f"{what} median seconds", _number(t.median_seconds)),
            (f"{what} p90 seconds", _number(t.p90_seconds)),
            (f"{what} late", t.late),
        ]
    figures.append(("resolution estimated", s.resolution_estimated))
    return [("speed", "", name, metric, value) for metric, value in figures]


def _number(value: float | None) -> Any:
    """Whole numbers without a trailing .0; nothing for no value."""
    if value is None:
        return ""
    return int(value) if float(value).is_integer() else value


def _cells(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A spreadsheet must not run a type name as a formula (=, +, -, @ start one)."""
    return tuple(f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in row)
