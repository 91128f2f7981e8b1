"""`ticketctl process`: the run cron starts every few minutes."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import TYPE_CHECKING

import typer

from ticketctl.commands.common import error_console, lazy, print_json, safe, say, state
from ticketctl.engine.errors import LockHeld

if TYPE_CHECKING:
    from rich.progress import TaskID

    from ticketctl.engine.intake.pipeline import MailboxReport

pipeline = lazy("ticketctl.engine.intake.pipeline")


def process(
    ctx: typer.Context,
    mailbox: str = typer.Option(None, "--mailbox", help="Process only this mailbox."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Fetch and decide, but write and delete nothing."),
    limit: int = typer.Option(None, "--limit", min=1, help="At most this many messages per mailbox."),
    backlog: bool = typer.Option(
        False,
        "--backlog",
        help="Take in a mailbox's old mail as tickets without sending any notification (first connection).",
    ),
    wait: float = typer.Option(10.0, "--wait", min=0, help="Seconds to wait for another run to finish."),
    json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Turn every waiting mail into a ticket, a reply or a recorded decision, then send queued mail."""
    st = state(ctx)
    with ExitStack() as stack:
        progress = None if json or not sys.stdout.isatty() else stack.enter_context(_ProgressBar())
        try:
            report = pipeline.run(
                st.store,
                st.config,
                mailbox=mailbox,
                dry_run=dry_run,
                limit=limit,
                notify=not backlog,
                progress=progress,
                lock_wait=wait,
            )
        except LockHeld as exc:
            if json:
                print_json({"busy": True, "message": str(exc)})
            else:
                say(str(exc))
            return
    if json:
        print_json(
            {
                "busy": False,
                "dry_run": dry_run,
                "failed": report.failed,
                "sent": report.sent,
                "send_failed": report.send_failed,
                "send_error": report.send_error,
                "mailboxes": [{"mailbox": m.mailbox, "counts": m.counts, "error": m.error} for m in report.mailboxes],
            }
        )
    else:
        for box in report.mailboxes:
            (error_console().print if box.failed else say)(box.summary() if not box.failed else _escaped(box))
        if not report.mailboxes:
            say("No mailbox has an active ticket type; nothing to do (see `ticketctl type add`).")
        if report.sent or report.send_failed:
            say(f"queue: {report.sent} sent, {report.send_failed} to retry or failed")
        if report.send_error:
            error_console().print(f"Error: sending mail failed: {_escape(report.send_error)}")
    if report.failed:
        raise typer.Exit(1)


def _escape(text: str) -> str:
    return safe(text, oneline=True)  # errors quote servers and mail: control characters made visible


def _escaped(box: MailboxReport) -> str:
    return "Error: " + _escape(box.summary())


class _ProgressBar:
    """A Rich progress bar per mailbox, on a terminal only."""

    def __enter__(self) -> _ProgressBar:
        from rich.progress import Progress

        self.bar = Progress(transient=True)
        self.bar.__enter__()
        self.tasks: dict[str, TaskID] = {}
        return self

    def __call__(self, mailbox: str, done: int, total: int) -> None:
        if mailbox not in self.tasks:
            self.tasks[mailbox] = self.bar.add_task(mailbox, total=total)
        self.bar.update(self.tasks[mailbox], completed=done)

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)
