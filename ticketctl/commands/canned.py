"""`ticketctl canned`: the canned responses staff reply with (Jinja2 over ticket, contact and type)."""

from __future__ import annotations

from pathlib import Path

import typer

from ticketctl.commands.common import (
    JsonOption,
    WideOption,
    lazy,
    plural,
    print_json,
    print_record,
    print_table,
    safe,
    say,
    state,
    when,
)
from ticketctl.commands.editor import edit_text, read_text_file

canned = lazy("ticketctl.engine.admin.canned")


app = typer.Typer(help="Manage canned responses for `ticketctl tickets reply --canned`.", no_args_is_help=True)

Name = typer.Argument(..., help="The canned response's name.")
Subject = typer.Option(
    None,
    "--subject",
    help="Subject template (empty: the ticket's subject). Variables: ticket, contact, type.",
)
Body = typer.Option(None, "--body", help="The body template, e.g. 'Hello {{ contact.name }}, ...'.")
BodyFile = typer.Option(None, "--body-file", help="Read the body template from this UTF-8 file.")


def _body(body: str | None, body_file: Path | None, initial: str | None) -> str | None:
    """The body from --body, --body-file, or (when `initial` is given) the editor."""
    if body is not None and body_file is not None:
        raise typer.BadParameter("Give --body or --body-file, not both.")
    if body_file is not None:
        return read_text_file(body_file)
    if body is not None or initial is None:
        return body
    return edit_text(initial, suffix=".j2")


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = Name,
    subject: str = Subject,
    body: str = Body,
    body_file: Path = BodyFile,
    json: bool = JsonOption,
) -> None:
    """Add a canned response; without --body or --body-file, $EDITOR opens. Checked in the sandbox."""
    text = _body(body, body_file, initial="")
    response = canned.add(state(ctx).store, name, text or "", subject or "")
    if json:
        print_json(response.public())
    else:
        say(f"Added canned response '{response.name}'.")


@app.command("list")
def list_(ctx: typer.Context, wide: bool = WideOption, json: bool = JsonOption) -> None:
    """List the canned responses."""
    items = canned.list_all(state(ctx).store)
    if json:
        print_json([c.public() for c in items])
        return
    print_table(
        "Canned responses",
        ["Name", "Subject", "First line", "Updated"],
        [
            (
                safe(c.name, oneline=True),
                safe(c.subject, oneline=True),
                safe((c.body.strip().splitlines() or [""])[0], oneline=True),
                when(c.updated_at),
            )
            for c in items
        ],
        wide=wide,
        footer=plural(len(items), "canned response") + ".",
        empty="No canned responses yet; add one with `ticketctl canned add NAME --body TEXT`.",
    )


@app.command("show")
def show(ctx: typer.Context, name: str = Name, json: bool = JsonOption) -> None:
    """Show one canned response with its full body."""
    data = canned.get(state(ctx).store, name).public()
    if json:
        print_json(data)
    else:
        print_record(f"Canned response {data['name']}", {k: str(v) for k, v in data.items()})


@app.command("edit")
def edit(
    ctx: typer.Context,
    name: str = Name,
    new_name: str = typer.Option(None, "--name", metavar="NEW_NAME", help="Rename the canned response."),
    subject: str = Subject,
    body: str = Body,
    body_file: Path = BodyFile,
    json: bool = JsonOption,
) -> None:
    """Change a canned response; with no option at all, its body opens in $EDITOR."""
    store = state(ctx).store
    nothing_given = new_name is None and subject is None and body is None and body_file is None
    initial = canned.get(store, name).body if nothing_given else None
    text = _body(body, body_file, initial)
    response = canned.edit(store, name, new_name=new_name, subject=subject, body=text)
    if json:
        print_json(response.public())
    else:
        say(f"Updated canned response '{response.name}'.")


@app.command("remove")
def remove(ctx: typer.Context, name: str = Name, json: bool = JsonOption) -> None:
    """Remove a canned response."""
    store = state(ctx).store
    response = canned.get(store, name)
    canned.remove(store, name)
    if json:
        print_json({"removed": response.public()})
    else:
        say(f"Removed canned response '{name}'.")
