"""`ticketctl contacts`: add, list, show, edit and import the people mail comes from and goes to."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ticketctl.commands.common import JsonOption, console, lazy, print_json, print_table, safe, say, state, who
from ticketctl.engine.enums import Role

if TYPE_CHECKING:
    from ticketctl.engine.admin.contacts import ContactView

contacts = lazy("ticketctl.engine.admin.contacts")

app = typer.Typer(
    help="Manage contacts: the people mail comes from and goes to, and their roles.", no_args_is_help=True
)

ROLES = ", ".join(str(r) for r in Role)
Email = typer.Argument(..., metavar="EMAIL", help="The contact's email address.")
NameOption = typer.Option(None, "--name", help="The contact's name.")
RoleOption = typer.Option(None, "--role", metavar="ROLE", help=f"One of: {ROLES}.")


@app.command("add")
def add(
    ctx: typer.Context,
    email: str = Email,
    name: str = NameOption,
    role: str = typer.Option("contact", "--role", metavar="ROLE", help=f"One of: {ROLES} (default: contact)."),
    json: bool = JsonOption,
) -> None:
    """Add a contact (the address is stored lower-cased, without spaces)."""
    contact = contacts.add(state(ctx).store, email, name or "", role)
    if json:
        print_json(contact)
    else:
        say(f"Added contact {who(contact.name, contact.email)} ({contact.role}).")


@app.command("list")
def list_(
    ctx: typer.Context,
    role: str = RoleOption,
    search: str = typer.Option(None, "--search", metavar="TEXT", help="Text in the address or the name."),
    limit: int = typer.Option(50, "--limit", metavar="N", min=1, help="Contacts per page."),
    offset: int = typer.Option(0, "--offset", metavar="N", min=0, help="Skip this many contacts."),
    json: bool = JsonOption,
) -> None:
    """List contacts by address, optionally of one role or matching a text."""
    found = contacts.list_all(state(ctx).store, role, search, limit + 1, offset)
    page = found[:limit]
    if json:
        print_json(page)
        return
    print_table(
        "Contacts",
        ["Email", "Name", "Role", "Since"],
        [(safe(c.email), safe(c.name), c.role, c.created_at) for c in page],
    )
    if not page:
        say("No contacts match.")
    elif len(found) > limit:
        say(f"Contacts {offset + 1}-{offset + len(page)}; more with --offset {offset + len(page)}.")


@app.command("show")
def show(
    ctx: typer.Context,
    email: str = Email,
    all_bounces: bool = typer.Option(False, "--all-bounces", help="Also list resolved bounces (default: unresolved)."),
    json: bool = JsonOption,
) -> None:
    """Show a contact with its tickets, assignments, courses and bounces."""
    view = contacts.show(state(ctx).store, email, all_bounces=all_bounces)
    if json:
        print_json(view)
        return
    _render(view)


def _render(v: ContactView) -> None:
    c = v.contact
    console().print(f"[bold]Contact {safe(who(c.name, c.email), oneline=True)}[/] ({c.role}, since {c.created_at})")
    print_table(
        "Tickets",
        ["ID", "Status", "Type", "Subject", "Updated"],
        [
            (t.id, t.status, safe(t.type) or f"({t.kind})", safe(t.subject, oneline=True), t.updated_at)
            for t in v.tickets
        ],
    )
    if v.more_tickets:
        say(f"Only the newest {len(v.tickets)}; all of them: ticketctl tickets list --contact {c.email}")
    print_table(
        "Assignments",
        ["ID", "Ticket", "Course", "Status", "Attempts", "Student", "Tutor"],
        [
            (a.id, a.ticket_id, safe(a.course), a.status, a.submissions, safe(a.student), safe(a.tutor))
            for a in v.assignments
        ],
    )
    if v.more_assignments:
        say(f"Only the newest {len(v.assignments)}; all of them: ticketctl assignments list --student {c.email}")
    print_table(
        "Courses",
        ["Course", "Name", "Student", "Tutor"],
        [(safe(e.course_code), safe(e.course_name), safe(e.student_email), safe(e.tutor_email)) for e in v.enrolments],
    )
    print_table(
        "Bounces",
        ["ID", "Address", "Kind", "State", "Status", "When"],
        [
            (
                b.id,
                safe(b.address),
                b.kind,
                "resolved" if b.resolved else "unresolved",
                safe(f"{b.status_code or ''} {b.diagnostic or ''}".strip(), oneline=True),
                b.created_at,
            )
            for b in v.bounces
        ],
    )


@app.command("edit")
def edit(
    ctx: typer.Context,
    email: str = Email,
    new_email: str = typer.Option(None, "--email", help="Change the contact's address."),
    name: str = NameOption,
    role: str = RoleOption,
    json: bool = JsonOption,
) -> None:
    """Change a contact's address, name or role; options left out keep their value."""
    contact = contacts.edit(state(ctx).store, email, new_email=new_email, name=name, role=role)
    if json:
        print_json(contact)
    else:
        say(f"Updated contact {who(contact.name, contact.email)} ({contact.role}).")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE.csv", help="A CSV file with the columns email, name, role."),
    json: bool = JsonOption,
) -> None:
    """Add or update contacts from a CSV file whose first line names the columns: email, and optionally
    name and role. A cell left empty keeps what the contact has. All or nothing: one bad row (no email,
    an unknown role) refuses the whole file, naming its line."""
    result = contacts.import_csv(state(ctx).store, file)
    if json:
        print_json(result)
    else:
        say(f"Imported {file}: {result.added} contact(s) added, {result.updated} updated.")
