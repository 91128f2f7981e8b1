"""`ticketctl tickets`: work the ticket queue."""

from __future__ import annotations

from pathlib import Path

import typer

from ticketctl.commands.common import say, state
from ticketctl.commands.editor import edit_text, read_text_file
from ticketctl.engine import replies

app = typer.Typer(help="Work the ticket queue: list, show, reply, reassign, resolve.", no_args_is_help=True)


@app.command("reply")
def reply(
    ctx: typer.Context,
    ticket_id: int = typer.Argument(..., help="The ticket to answer."),
    canned: str = typer.Option(None, "--canned", help="Reply with this canned response."),
    message: str = typer.Option(None, "--message", "-m", help="The reply's text."),
    file: Path = typer.Option(None, "--file", help="Read the reply's text from this UTF-8 file."),
    attach: list[Path] = typer.Option(None, "--attach", help="Attach this file (repeat for more)."),
) -> None:
    """Answer a ticket's customer; with no --canned, --message or --file, $EDITOR opens.

    The reply is logged on the ticket, queued with the ticket's [Tag #T-L] subject and threaded to the
    customer's last mail; `ticketctl queue send` (or the next `process`) sends it.
    """
    if sum(x is not None for x in (canned, message, file)) > 1:
        raise typer.BadParameter("Give only one of --canned, --message and --file.")
    text = message
    if file is not None:
        text = read_text_file(file)
    elif canned is None and message is None:
        text = edit_text()
    result = replies.reply(state(ctx).store, state(ctx).config, ticket_id, text=text, canned=canned, attachments=attach)
    files = f" with {len(result.attachments)} attachment(s)" if result.attachments else ""
    say(f"Queued reply {result.queue_id} to {result.to_email}{files}: {result.subject}")
