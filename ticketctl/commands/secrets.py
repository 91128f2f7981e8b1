"""`ticketctl secrets`: the key that seals the passwords, client secrets and tokens in the database."""

from __future__ import annotations

import typer

from ticketctl.commands.common import JsonOption, lazy, print_json, say, state

secrets_ = lazy("ticketctl.engine.admin.secrets")

app = typer.Typer(help="Manage the key that seals the secrets stored in the database.", no_args_is_help=True)


@app.command("rotate-key")
def rotate_key(ctx: typer.Context, json: bool = JsonOption) -> None:
    """Seal every stored secret under a new key, then drop the old key.

    With the key in a key file, a new key is made there. With $TICKETCTL_SECRET_KEY, put the new key in
    front of the old one first (TICKETCTL_SECRET_KEY=NEW,OLD), run this, then remove the old key.
    """
    report = secrets_.rotate(state(ctx).store)
    if json:
        print_json(report)
        return
    after = (
        "now remove the old key from it wherever ticketctl runs"
        if report.from_env
        else "the old key is gone: replace the key file's backup with the new one"
    )
    say(f"Sealed {report.sealed} secret(s) with the new key ({report.source}); {after}.")
