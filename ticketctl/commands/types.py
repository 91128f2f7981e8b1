"""`ticketctl type`: add, list, show, edit and remove ticket types."""

from __future__ import annotations

import typer

from ticketctl.commands.common import JsonOption, lazy, print_json, print_record, print_table, safe, say, state

tickettypes = lazy("ticketctl.engine.admin.tickettypes")


app = typer.Typer(
    help="Manage ticket types: which mail becomes which ticket, and who handles it.", no_args_is_help=True
)

Name = typer.Argument(..., help="The ticket type's name.")
Task = typer.Option(None, help="simple_storage (questions), assignment or bounce_back.")
Description = typer.Option(None, help="What this type is for.")
EmailTo = typer.Option(None, "--email-to", help="An address mail must be sent to (repeat for several).")
Tag = typer.Option(None, "--tag", help="The workflow tag that goes into subjects: [Tag #ticket-log].")
Mailbox = typer.Option(None, "--mailbox", help="The mailbox this type reads.")
Admin = typer.Option(None, "--admin-email", help="Who handles these tickets.")
Forward = typer.Option(None, "--email-forward", help="Also send new-ticket notices here.")
SaveTable = typer.Option(None, "--save-table", help="Also store from/subject/body into this table.")
SaveFrom = typer.Option(None, "--save-from", help="Column of the save table for the sender.")
SaveSubject = typer.Option(None, "--save-subject", help="Column of the save table for the subject.")
SaveBody = typer.Option(None, "--save-body", help="Column of the save table for the body.")
Active = typer.Option(None, "--active/--inactive", help="Whether mail is processed for this type.")
CcParticipants = typer.Option(
    None,
    "--cc-participants/--no-cc-participants",
    help="Whether people Cc'd on a customer's mail take part in the ticket: they may reply into it and get"
    " the answers in Cc (default: they do).",
)


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = Name,
    task: str = Task,
    description: str = Description,
    email_to: list[str] = EmailTo,
    tag: str = Tag,
    mailbox: str = Mailbox,
    admin_email: str = Admin,
    email_forward: str = Forward,
    save_table: str = SaveTable,
    save_from: str = SaveFrom,
    save_subject: str = SaveSubject,
    save_body: str = SaveBody,
    active: bool = Active,
    cc_participants: bool = CcParticipants,
) -> None:
    """Add a ticket type."""
    ticket_type = tickettypes.add(
        state(ctx).store,
        name=name,
        task=task or "simple_storage",
        description=description,
        email_to=email_to,
        workflow_tag=tag,
        mailbox=mailbox,
        admin_email=admin_email,
        email_forward=email_forward,
        save_table=save_table,
        save_from_column=save_from,
        save_subject_column=save_subject,
        save_body_column=save_body,
        active=active,
        cc_participants=cc_participants,
    )
    say(f"Added ticket type '{ticket_type.name}' [{ticket_type.workflow_tag}] on mailbox '{ticket_type.mailbox}'.")


@app.command("list")
def list_(ctx: typer.Context, json: bool = JsonOption) -> None:
    """List the ticket types."""
    types = tickettypes.list_all(state(ctx).store)
    if json:
        print_json([t.public() for t in types])
        return
    print_table(
        "Ticket types",
        ["Name", "Task", "Tag", "Email to", "Mailbox", "Admin", "Active"],
        [
            (
                safe(t.name),
                t.task,
                safe(t.workflow_tag),
                safe(", ".join(t.email_to)),
                safe(t.mailbox),
                safe(t.admin_email),
                "yes" if t.active else "no",
            )
            for t in types
        ],
    )


@app.command("show")
def show(ctx: typer.Context, name: str = Name, json: bool = JsonOption) -> None:
    """Show one ticket type with every field."""
    ticket_type = tickettypes.get(state(ctx).store, name).public()
    if json:
        print_json(ticket_type)
    else:
        print_record(f"Ticket type {ticket_type['name']}", ticket_type)


@app.command("edit")
def edit(
    ctx: typer.Context,
    name: str = Name,
    new_name: str = typer.Option(None, "--name", help="Rename the type."),
    task: str = Task,
    description: str = Description,
    email_to: list[str] = EmailTo,
    tag: str = Tag,
    mailbox: str = Mailbox,
    admin_email: str = Admin,
    email_forward: str = Forward,
    save_table: str = SaveTable,
    save_from: str = SaveFrom,
    save_subject: str = SaveSubject,
    save_body: str = SaveBody,
    active: bool = Active,
    cc_participants: bool = CcParticipants,
) -> None:
    """Change fields of a ticket type; options left out keep their value."""
    ticket_type = tickettypes.edit(
        state(ctx).store,
        name,
        name=new_name,
        task=task,
        description=description,
        email_to=email_to or None,
        workflow_tag=tag,
        mailbox=mailbox,
        admin_email=admin_email,
        email_forward=email_forward,
        save_table=save_table,
        save_from_column=save_from,
        save_subject_column=save_subject,
        save_body_column=save_body,
        active=active,
        cc_participants=cc_participants,
    )
    say(f"Updated ticket type '{ticket_type.name}'.")


@app.command("remove")
def remove(ctx: typer.Context, name: str = Name) -> None:
    """Remove a ticket type that no ticket or course uses."""
    tickettypes.remove(state(ctx).store, name)
    say(f"Removed ticket type '{name}'.")
