"""`ticketctl type`: add, list, show, edit and remove ticket types."""

from __future__ import annotations

import typer

from ticketctl.commands.common import (
    JsonOption,
    WideOption,
    YesOption,
    confirm,
    lazy,
    plural,
    print_json,
    print_record,
    print_table,
    safe,
    say,
    state,
)
from ticketctl.engine.enums import Task

tickettypes = lazy("ticketctl.engine.admin.tickettypes")


app = typer.Typer(
    help="Manage ticket types: which mail becomes which ticket, and who handles it.", no_args_is_help=True
)

TASK_HELP = (
    "What the type's tickets do. simple_storage: questions; a new mail becomes a ticket and its admin "
    "is told, the admin's answers are relayed to the customer and the customer's replies to the admin. "
    "bounce_back: the mailbox receives delivery failure reports (bounces) of the mail we send; they are "
    "matched to the mail and the contact and wait in `ticketctl bounces`. assignment: a course's "
    "students hand in work and their tutors answer (not built yet)."
)
Name = typer.Argument(..., help="The ticket type's name.")
Task_ = typer.Option(None, "--task", help=TASK_HELP)
Description = typer.Option(None, help="What this type is for.", metavar="TEXT")
EmailTo = typer.Option(
    None,
    "--email-to",
    metavar="ADDRESS",
    help="An address whose mail becomes this type's tickets (repeat for several); case and +detail are "
    "ignored. Two active types cannot share one.",
)
Tag = typer.Option(None, "--tag", metavar="TAG", help="The workflow tag that goes into subjects: [TAG #ticket-log].")
Mailbox = typer.Option(
    None, "--mailbox", metavar="MAILBOX", help="The mailbox this type reads (`ticketctl mailbox list`)."
)
Admin = typer.Option(None, "--admin-email", metavar="ADDRESS", help="Who handles these tickets.")
Forward = typer.Option(None, "--email-forward", metavar="ADDRESS", help="Also send new-ticket notices here.")
SaveTable = typer.Option(
    None,
    "--save-table",
    metavar="TABLE",
    help="Also copy each new ticket's sender, subject and body into this table of the database, for reports "
    "or another program to read; it is created on first use, one row per ticket (with ticket_id), in the "
    "columns named by --save-from, --save-subject and --save-body.",
)
SaveFrom = typer.Option(None, "--save-from", metavar="COLUMN", help="The save table's column for the sender.")
SaveSubject = typer.Option(None, "--save-subject", metavar="COLUMN", help="The save table's column for the subject.")
SaveBody = typer.Option(None, "--save-body", metavar="COLUMN", help="The save table's column for the text of the body.")
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
    task: Task = typer.Option(Task.QUESTION, "--task", help=TASK_HELP, show_default=True),
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
    json: bool = JsonOption,
) -> None:
    """Add a ticket type."""
    ticket_type = tickettypes.add(
        state(ctx).store,
        name=name,
        task=task,
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
    if json:
        print_json(ticket_type.public())
        return
    say(f"Added ticket type '{ticket_type.name}' [{ticket_type.workflow_tag}] on mailbox '{ticket_type.mailbox}'.")


@app.command("list")
def list_(ctx: typer.Context, wide: bool = WideOption, json: bool = JsonOption) -> None:
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
                safe(t.name, oneline=True),
                t.task,
                safe(t.workflow_tag),
                safe(", ".join(t.email_to), oneline=True),
                safe(t.mailbox, oneline=True),
                safe(t.admin_email, oneline=True),
                "yes" if t.active else "no",
            )
            for t in types
        ],
        wide=wide,
        footer=plural(len(types), "ticket type") + ".",
        empty="No ticket types yet; add one with `ticketctl type add NAME --email-to ADDRESS --mailbox MAILBOX …`.",
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
    new_name: str = typer.Option(None, "--name", metavar="NEW_NAME", help="Rename the type."),
    task: Task = Task_,
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
    json: bool = JsonOption,
) -> None:
    """Change fields of a ticket type; options left out keep their value (--email-to replaces the list)."""
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
    if json:
        print_json(ticket_type.public())
    else:
        say(f"Updated ticket type '{ticket_type.name}'.")


@app.command("remove")
def remove(ctx: typer.Context, name: str = Name, yes: bool = YesOption, json: bool = JsonOption) -> None:
    """Remove a ticket type that no ticket or course uses; asks first (--yes does not)."""
    store = state(ctx).store
    ticket_type = tickettypes.removable(store, name)
    confirm(
        f"Remove ticket type '{ticket_type.name}' [{ticket_type.workflow_tag}] "
        f"({ticket_type.task}, {', '.join(ticket_type.email_to)} on mailbox '{ticket_type.mailbox}')?",
        yes,
    )
    removed = tickettypes.remove(store, name)
    if json:
        print_json({"removed": removed.public()})
    else:
        say(f"Removed ticket type '{removed.name}'.")
