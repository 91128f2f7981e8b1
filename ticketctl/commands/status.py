"""`ticketctl status`: health at a glance for admins and monitoring; exit 1 when a person is needed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ticketctl import exit_codes
from ticketctl.commands.common import JsonOption, lazy, print_json, print_table, safe, say, state

health_ = lazy("ticketctl.engine.admin.health")

if TYPE_CHECKING:
    from ticketctl.engine.admin.health import HealthReport


def status(ctx: typer.Context, json: bool = JsonOption) -> None:
    """Show each mailbox's last run, the email queue, bounces and expiring credentials.

    Exits 0 when all is well and 1 when anything needs a person, for cron mail and monitoring checks.
    """
    st = state(ctx)
    report = health_.health(st.store, st.config)
    if json:
        print_json(report)
    else:
        _render(report)
    if not report.healthy:
        raise typer.Exit(exit_codes.FAILURE)


def _render(report: HealthReport) -> None:
    print_table(
        "Mailboxes",
        ["Name", "Kind", "Last run", "Last success", "Failed runs", "Last error", "Token expires"],
        [
            (
                safe(m.name),
                m.kind,
                m.last_run_at or "never",
                m.last_success_at or "never",
                str(m.failed_runs),
                safe(m.last_error, oneline=True),
                m.refresh_token_expires_at or "",
            )
            for m in report.mailboxes
        ],
    )
    q = report.queue
    oldest = f", oldest pending since {q.oldest_pending_at}" if q.oldest_pending_at else ""
    stuck = f" ({q.stuck} left by a send that stopped)" if q.stuck else ""
    say(f"Email queue: {q.pending} pending, {q.sending} sending{stuck}, {q.failed} failed{oldest}.")
    say(f"Unresolved bounces: {report.unresolved_bounces}.")
    if report.healthy:
        say("All healthy.")
        return
    say("Needs attention:")
    for problem in report.problems:
        say(f"- {problem}")
