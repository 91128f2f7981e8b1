"""`ticketctl oauth`: authorize Microsoft 365 mailboxes (url, exchange), watch their expiry (status),
and force a token refresh (refresh). Tokens and secrets are never printed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ticketctl import exit_codes
from ticketctl.commands.common import JsonOption, error_console, lazy, print_json, print_table, safe, say, state

if TYPE_CHECKING:
    from ticketctl.engine.oauth.microsoft import TokenGrant
    from ticketctl.engine.oauth.status import OAuthStatus

oauth = lazy("ticketctl.engine.oauth.microsoft")
oauth_status = lazy("ticketctl.engine.oauth.status")


app = typer.Typer(help="Authorize Microsoft 365 (OAuth2) mailboxes and watch their expiry.", no_args_is_help=True)

Name = typer.Argument(..., help="The mailbox's name.")


@app.command("url")
def url(ctx: typer.Context, name: str = Name, json: bool = JsonOption) -> None:
    """Print the Microsoft sign-in URL for a mailbox, and what to do with it."""
    request = oauth.authorize_url(state(ctx).store, name)
    if json:
        print_json(request)
        return
    say(f"Open this URL in a browser and sign in as {request.username or 'the mailbox user'}:")
    say("")
    say(request.url)
    say("")
    say(f"After you accept, the browser lands on {request.redirect_url}?code=... (the page itself may show")
    say("an error; that is fine). Copy the whole address from the address bar, then run:")
    say(f"  ticketctl oauth exchange {request.mailbox} --redirect-url 'ADDRESS'")
    say("The URL works once; run `oauth url` again for a new one.")


@app.command("exchange")
def exchange(
    ctx: typer.Context,
    name: str = Name,
    redirect_url: str = typer.Option(
        None, "--redirect-url", metavar="URL", help="The whole address the browser landed on after sign-in."
    ),
    code: str = typer.Option(
        None, "--code", metavar="CODE", help="Only the code from that address (the state then cannot be checked)."
    ),
    json: bool = JsonOption,
) -> None:
    """Trade the sign-in answer for tokens and store the refresh token."""
    grant = oauth.exchange(state(ctx).store, name, redirect_url=redirect_url, code=code)
    if json:
        print_json(grant)
        return
    who = f" as {grant.account}" if grant.account else ""
    say(f"Mailbox '{grant.mailbox}' is authorized{who}.")
    _say_lifetime(grant)


@app.command("refresh")
def refresh(ctx: typer.Context, name: str = Name, json: bool = JsonOption) -> None:
    """Fetch a new access token now and store the rotated refresh token."""
    grant = oauth.refresh(state(ctx).store, name)
    if json:
        print_json(grant)
    else:
        _say_lifetime(grant)


@app.command("status")
def status(
    ctx: typer.Context,
    name: str = typer.Argument(None, help="One mailbox (default: every OAuth2 mailbox)."),
    json: bool = JsonOption,
) -> None:
    """Show refresh-token age and expiry and client-secret expiry; exit 1 when anything has expired,
    ends within 30 days, or is not authorized yet (for monitoring from cron)."""
    found = oauth_status.status(state(ctx).store, name)
    if json:
        print_json([{**s.__dict__, "needs_attention": s.needs_attention} for s in found])
    elif not found:
        say("No mailbox uses OAuth2.")
    else:
        _render_status(found)
    if any(s.needs_attention for s in found):
        raise typer.Exit(exit_codes.FAILURE)


def _render_status(found: list[OAuthStatus]) -> None:
    print_table(
        "OAuth2 mailboxes",
        ["Mailbox", "User", "Refresh token age", "Refresh token expires", "Client secret expires"],
        [
            (
                safe(s.mailbox),
                safe(s.username),
                "not authorized" if s.refresh_token_age_days is None else f"{s.refresh_token_age_days} days",
                _expiry(s.refresh_token_expires_at, s.refresh_token_days_left),
                _expiry(s.client_secret_expires_at, s.client_secret_days_left),
            )
            for s in found
        ],
    )
    for s in found:
        for note in s.notes:
            say(f"Note: {note}")
        for problem in s.problems:
            error_console().print(f"[bold yellow]Warning:[/] {safe(problem)}")


def _expiry(moment: str | None, days_left: int | None) -> str:
    if moment is None:
        return "unknown"
    if days_left is None or days_left < 0:
        return f"{moment[:10]} (expired)"
    return f"{moment[:10]} ({days_left} days left)"


def _say_lifetime(grant: TokenGrant) -> None:
    say(
        f"The refresh token of '{grant.mailbox}' lasts until {grant.refresh_token_expires_at} "
        "(90 days from its last use; every `ticketctl process` run renews it); "
        f"the current access token until {grant.access_token_expires_at}."
    )
