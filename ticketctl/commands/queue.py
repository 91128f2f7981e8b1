"""`ticketctl queue`: send, list, show and retry the outgoing mail."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ticketctl.commands.common import (
    JsonOption,
    WideOption,
    lazy,
    page_footer,
    paging,
    print_json,
    print_record,
    print_table,
    safe,
    say,
    state,
    when,
)
from ticketctl.engine.enums import QueueState
from ticketctl.engine.errors import SendError

if TYPE_CHECKING:
    from ticketctl.engine.store.queue import QueueRow

delivery = lazy("ticketctl.engine.outbound.delivery")
outbox = lazy("ticketctl.engine.outbound.outbox")

app = typer.Typer(help="See and push the outgoing mail queue.", no_args_is_help=True)

QueueId = typer.Argument(..., help="The queued mail's id (see `ticketctl queue list`).")


@app.command("send")
def send(
    ctx: typer.Context,
    limit: int = typer.Option(None, "--limit", min=1, help="Send at most this many mails."),
    json: bool = JsonOption,
) -> None:
    """Send the mail that is due now (what `ticketctl process` does after reading mail)."""
    st = state(ctx)
    report = delivery.drain(st.store, st.config, limit=limit)
    if json:
        print_json(report)
    else:
        went = (
            f"Written {len(report.sent)} to {st.config.outbox.directory} (the directory outbox sends nothing)"
            if st.config.outbox.kind == "directory"
            else f"Sent {len(report.sent)} through {st.config.outbox.smtp.host}"
        )
        held = f", held back {len(report.held)} (see `ticketctl queue list`)" if report.held else ""
        say(f"{went}, will retry {len(report.retry)}, failed {len(report.failed)}{held}.")
    if report.error:
        raise SendError(report.error)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: QueueState = typer.Option(
        None,
        "--status",
        help="Only the mail in this state; held: over a rate window, suppressed: its address bounced.",
    ),
    limit: int = typer.Option(50, "--limit", metavar="N", min=1, help="Mails per page (at least 1)."),
    page: int = typer.Option(None, "--page", metavar="N", min=1, help="Page number, from 1 (with --limit)."),
    offset: int = typer.Option(None, "--offset", metavar="N", min=0, help="Skip this many mails (instead of --page)."),
    wide: bool = WideOption,
    json: bool = JsonOption,
) -> None:
    """List queued mail, newest first, with paging as `tickets list`; mail that came back as a bounce says
    so; held mail shows when it goes (Next try) and, under the table, why; the footer gives the total."""
    store = state(ctx).store
    found = outbox.list_page(store, status=status, limit=limit, offset=paging(limit, page, offset))
    bounced = outbox.bounced(store, [r.id for r in found.rows])
    if json:
        print_json(
            {
                "rows": [{**r.public(), "bounced": bounced.get(r.id)} for r in found.rows],
                "limit": found.limit,
                "offset": found.offset,
                "has_more": found.has_more,
                "total": found.total,
                "total_exact": found.total_exact,
            }
        )
        return
    print_table(
        "Email queue",
        ["ID", "Status", "Purpose", "To", "Subject", "Tries", "Next try", "Created"],
        [
            (
                r.id,
                bounced[r.id] if r.id in bounced and r.status == "sent" else r.state,  # sent, then it bounced
                r.purpose,
                safe(r.to_email, oneline=True),
                safe(r.subject, oneline=True),
                r.attempts,
                when(r.next_try),
                when(r.created_at),
            )
            for r in found.rows
        ],
        wide=wide,
        footer=page_footer(
            "mail", "mails", found.offset, len(found.rows), found.total, found.total_exact, found.has_more
        ),
        empty="No mail in the queue." if found.offset == 0 else None,
    )
    for line in _kept_back(found.rows):
        say(line)


def _kept_back(rows: list[QueueRow]) -> list[str]:
    """One line per reason the mail on the page is kept back: 'Held 12, 14: At most ...'."""
    reasons: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r.kept_back and r.hold_reason:
            reasons.setdefault((r.kept_back, r.hold_reason), []).append(str(r.id))
    return [f"{kept.capitalize()} {', '.join(ids)}: {safe(why, oneline=True)}" for (kept, why), ids in reasons.items()]


@app.command("show")
def show(ctx: typer.Context, queue_id: int = QueueId, json: bool = JsonOption) -> None:
    """Show one queued mail: headers, state, attempts, next try, the last error, each recipient's delivery,
    and its bounces."""
    store = state(ctx).store
    row = outbox.get(store, queue_id)
    data = row.public()
    data["bounces"] = [
        f"#{b.id} {b.address or '(unread address)'} {b.kind} {b.status_code or ''}".rstrip()
        + (" (resolved)" if b.resolved else " (unresolved)")
        for b in outbox.bounces_of(store, queue_id)
    ]
    recipients = outbox.recipients(store, row)
    if json:
        print_json({**data, "recipients": [r.public() for r in recipients]})
        return
    order = (
        "id",
        "state",
        "attempts",
        "next_try",
        "last_error",
        "sent_at",
        "purpose",
        "ticket_id",
        "log_id",
        "from_email",
        "to_email",
        "cc",
        "reply_to",
        "subject",
        "message_id",
        "in_reply_to",
        "references",
        "envelope_from",
        "attachments",
        "auto_submitted",
        "created_at",
        "bounces",
        "body_text",
    )
    print_record(f"Queued mail {queue_id}", {k: _shown(data[k]) for k in order})
    print_table(
        "Recipients",
        ["Address", "As", "Status", "Tries", "Next try", "Last error, or why kept back"],
        [
            (
                safe(r.address),
                r.role,
                r.status,
                r.attempts,
                when(r.next_try),
                safe(r.reason if r.status in ("held", "suppressed") else r.last_error, oneline=True),
            )
            for r in recipients
        ],
    )


def _shown(value: object) -> object:
    if isinstance(value, list):
        return [str(v) for v in value]
    return value if value is None or isinstance(value, str) else str(value)


@app.command("retry")
def retry(
    ctx: typer.Context,
    queue_id: int = typer.Argument(None, help="The queued mail to try again now."),
    all_failed: bool = typer.Option(False, "--all-failed", help="Try every failed mail again."),
    json: bool = JsonOption,
) -> None:
    """Make a failed or waiting mail due now, with a fresh count of attempts; `queue send` sends it. Held
    and suppressed mail is not retried: its window, or resolving its bounce, lets it go."""
    ids = outbox.retry(state(ctx).store, queue_id, all_failed=all_failed)
    if json:
        print_json({"retried": ids})
    else:
        say(f"{len(ids)} mail(s) will be tried again at the next send." if ids else "No failed mail to retry.")
