"""`ticketctl process`: the run cron starts every few minutes."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import TYPE_CHECKING

import typer

from ticketctl.commands.common import JsonOption, error_console, lazy, print_json, safe, say, state
from ticketctl.engine.errors import LockHeld

if TYPE_CHECKING:
    from rich.progress import TaskID

    from ticketctl.engine.config import Config

pipeline = lazy("ticketctl.engine.intake.pipeline")


def process(
    ctx: typer.Context,
    mailbox: str = typer.Option(None, "--mailbox", metavar="NAME", help="Process only this mailbox."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Fetch and decide, but write and delete nothing."),
    limit: int = typer.Option(None, "--limit", metavar="N", min=1, help="At most this many messages per mailbox."),
    backlog: bool = typer.Option(
        None,
        "--backlog/--notify",
        help="--backlog: take the mail in as tickets without notifying anyone (old mail). --notify: send "
        "what new tickets and replies send, even on a first run. Default: notify, except on a mailbox's "
        "first run with more than limits.first_run_backlog (50) messages waiting, which is taken in as "
        "a backlog.",
        show_default=False,
    ),
    wait: float = typer.Option(
        10.0, "--wait", metavar="SECONDS", min=0, help="Seconds to wait for another run to finish."
    ),
    json: bool = JsonOption,
) -> None:
    """Turn every waiting mail into a ticket, a reply or a recorded decision, then send queued mail.

    On a terminal it shows a progress bar; otherwise (cron) one line per mailbox, each with the time."""
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
                notify=None if backlog is None else not backlog,
                progress=progress,
                lock_wait=wait,
            )
        except LockHeld as exc:
            if json:
                print_json({"busy": True, "message": str(exc)})
            else:
                _line(str(exc))
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
                "outbox": _outbox(st.config),
                "mailboxes": [
                    {"mailbox": m.mailbox, "counts": m.counts, "error": m.error, "backlog": m.backlog, "left": m.left}
                    for m in report.mailboxes
                ],
            }
        )
    else:
        for box in report.mailboxes:
            _line(box.summary(), error=box.failed)
        if not report.mailboxes:
            _line("No mailbox has an active ticket type; nothing to do (see `ticketctl type add`).")
        if report.sent or report.send_failed:
            _line(f"queue: {report.sent} {_went(st.config)}, {report.send_failed} to retry or failed")
        if report.send_error:
            _line(f"sending mail failed: {report.send_error}", error=True)
    if report.failed:
        raise typer.Exit(1)


def _outbox(config: Config) -> dict[str, str]:
    if config.outbox.kind == "directory":
        return {"kind": "directory", "directory": str(config.outbox.directory)}
    return {"kind": "smtp", "host": config.outbox.smtp.host}


def _went(config: Config) -> str:
    """What became of sent mail: the directory outbox only writes files, it sends nothing."""
    if config.outbox.kind == "directory":
        return f"written to {config.outbox.directory} (the directory outbox: nothing was sent)"
    return f"sent through {config.outbox.smtp.host}"


def _line(text: str, error: bool = False) -> None:
    """One line of the summary; not on a terminal (cron, a log file) it starts with the time."""
    from datetime import datetime

    stamp = "" if sys.stdout.isatty() else datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S ")
    if error:
        error_console().print(f"{stamp}[bold red]Error:[/] {safe(text, oneline=True)}")  # it quotes servers, mail
    else:
        say(stamp + text)


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
