"""`ticketctl status`: health at a glance for admins and monitoring; exit 1 when a person is needed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ticketctl import exit_codes
from ticketctl.commands.common import (
    JsonOption,
    WideOption,
    lazy,
    print_json,
    print_table,
    safe,
    say,
    state,
    warn,
    when,
)

health_ = lazy("ticketctl.engine.admin.health")

if TYPE_CHECKING:
    from ticketctl.engine.admin.health import HealthReport


def status(ctx: typer.Context, wide: bool = WideOption, json: bool = JsonOption) -> None:
    """Show each mailbox's last run, the email queue, bounces and expiring credentials, and warn about a
    set-up that works but probably not as meant (mail read from servers while the outbox only writes
    files; the default from_address).

    Exits 0 when all is well and 1 when anything needs a person, for cron mail and monitoring checks;
    warnings alone do not fail it. Mailboxes no active ticket type reads are listed, not checked."""
    st = state(ctx)
    report = health_.health(st.store, st.config)
    if json:
        print_json(report)
    else:
        _render(report, wide)
    if not report.healthy:
        raise typer.Exit(exit_codes.FAILURE)


def _render(report: HealthReport, wide: bool) -> None:
    print_table(
        "Mailboxes",
        ["Name", "Kind", "Last run", "Last success", "Failed runs", "Last error", "Token expires"],
        [
            (
                safe(m.name, oneline=True),
                m.kind,
                when(m.last_run_at, "never"),
                when(m.last_success_at, "never"),
                m.failed_runs,
                safe(m.last_error, oneline=True),
                when(m.refresh_token_expires_at),
            )
            for m in report.mailboxes
        ],
        wide=wide,
        empty="No mailbox is read: none has an active ticket type (`ticketctl type add`).",
    )
    if report.not_read:
        say(f"Not read, no active ticket type: {', '.join(report.not_read)}.")
    for warning in report.warnings:
        warn(warning)
    q = report.queue
    oldest = f", oldest pending since {q.oldest_pending_at}" if q.oldest_pending_at else ""
    stuck = f" ({q.stuck} left by a send that stopped)" if q.stuck else ""
    kept = "".join(f", {n} {what}" for n, what in ((q.held, "held"), (q.suppressed, "suppressed")) if n)
    say(f"Email queue: {q.pending} pending{kept}, {q.sending} sending{stuck}, {q.failed} failed{oldest}.")
    say(f"Unresolved bounces: {report.unresolved_bounces}.")
    if report.healthy:
        say("Healthy, but see the warning(s) above." if report.warnings else "All healthy.")
        return
    say("Needs attention:")
    for problem in report.problems:
        say(f"- {problem}")
