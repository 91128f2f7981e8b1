"""`ticketctl queue`: send, list, show and retry the outgoing mail."""

from __future__ import annotations

import typer

from ticketctl.commands.common import JsonOption, lazy, print_json, print_record, print_table, safe, say, state
from ticketctl.engine.errors import SendError

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
        say(f"Sent {len(report.sent)}, will retry {len(report.retry)}, failed {len(report.failed)}.")
    if report.error:
        raise SendError(report.error)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: str = typer.Option(None, "--status", help="Only rows in this state: pending, sending, sent, failed."),
    limit: int = typer.Option(100, "--limit", min=1, help="Show at most this many rows (newest first)."),
    json: bool = JsonOption,
) -> None:
    """List queued mail, newest first."""
    rows = outbox.list_rows(state(ctx).store, status=status, limit=limit)
    if json:
        print_json([r.public() for r in rows])
        return
    print_table(
        "Email queue",
        ["Id", "Status", "Purpose", "To", "Subject", "Tries", "Next try", "Created"],
        [
            (
                r.id,
                r.state,
                r.purpose,
                safe(r.to_email),
                safe(r.subject),
                r.attempts,
                r.next_try or "",
                r.created_at,
            )
            for r in rows
        ],
    )


@app.command("show")
def show(ctx: typer.Context, queue_id: int = QueueId, json: bool = JsonOption) -> None:
    """Show one queued mail: headers, state, attempts, next try, the last error, and each recipient's delivery."""
    store = state(ctx).store
    row = outbox.get(store, queue_id)
    data = row.public()
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
        "body_text",
    )
    print_record(f"Queued mail {queue_id}", {k: _shown(data[k]) for k in order})
    print_table(
        "Recipients",
        ["Address", "As", "Status", "Tries", "Next try", "Last error"],
        [
            (safe(r.address), r.role, r.status, r.attempts, r.next_try or "", safe(r.last_error, oneline=True))
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
) -> None:
    """Make a failed or waiting mail due now, with a fresh count of attempts; `queue send` sends it."""
    ids = outbox.retry(state(ctx).store, queue_id, all_failed=all_failed)
    say(f"{len(ids)} mail(s) will be tried again at the next send." if ids else "No failed mail to retry.")
