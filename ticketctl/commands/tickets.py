"""`ticketctl tickets`: list, show, reply, reassign and resolve tickets; save attachments and originals."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ticketctl.commands.bounces import resolve_and_report
from ticketctl.commands.common import (
    JsonOption,
    WideOption,
    console,
    lazy,
    page_footer,
    paging,
    print_json,
    print_table,
    safe,
    say,
    state,
    when,
    who,
    write_raw,
)
from ticketctl.commands.editor import edit_text, read_text_file
from ticketctl.engine.desk.statuses import STATUSES

if TYPE_CHECKING:
    from ticketctl.engine.desk.tickets import TicketPage, TicketView
    from ticketctl.engine.store.participants import Participant
    from ticketctl.engine.store.tickets import LogView

replies = lazy("ticketctl.engine.desk.replies")
tickets = lazy("ticketctl.engine.desk.tickets")

app = typer.Typer(help="Work the ticket queue: list, show, reply, reassign, resolve.", no_args_is_help=True)

TicketId = typer.Argument(..., help="The ticket's number.", min=1)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: list[str] = typer.Option(
        None,
        "--status",
        metavar="STATUS",
        help="Only this status (repeat for several): " + ", ".join(STATUSES) + ".",
    ),
    type_name: str = typer.Option(None, "--type", metavar="NAME", help="Only tickets of this ticket type."),
    mailbox: str = typer.Option(None, "--mailbox", metavar="NAME", help="Only tickets read from this mailbox."),
    contact: str = typer.Option(None, "--contact", metavar="EMAIL", help="Only tickets of this contact."),
    invalid: bool = typer.Option(False, "--invalid", help="Only invalid tickets (no type matched)."),
    error: bool = typer.Option(False, "--error", help="Only error tickets (unreadable or too big)."),
    since: str = typer.Option(None, "--since", metavar="DATE", help="Only tickets updated on or after DATE."),
    search: str = typer.Option(None, "--search", metavar="TEXT", help="Text in the subject or sender."),
    damaged: bool = typer.Option(False, "--damaged", help="Only tickets with a mail that arrived damaged."),
    sort: str = typer.Option("updated", "--sort", metavar="KEY", help="updated, created or id."),
    ascending: bool = typer.Option(False, "--asc/--desc", help="Oldest first / newest first (default)."),
    limit: int = typer.Option(50, "--limit", metavar="N", min=1, help="Tickets per page (at least 1)."),
    page: int = typer.Option(None, "--page", metavar="N", min=1, help="Page number, from 1 (with --limit)."),
    offset: int = typer.Option(
        None, "--offset", metavar="N", min=0, help="Skip this many tickets (instead of --page)."
    ),
    wide: bool = WideOption,
    json: bool = JsonOption,
) -> None:
    """List tickets, newest activity first, with filters and paging; the footer gives the total."""
    start = paging(limit, page, offset)
    filters = tickets.TicketFilters(
        statuses=tuple(status or ()),
        type_name=type_name,
        mailbox=mailbox,
        contact=contact,
        invalid=invalid,
        error=error,
        since=since,
        search=search,
        damaged=damaged,
    )
    result = tickets.list_tickets(
        state(ctx).store, filters, sort=f"{sort}:{'asc' if ascending else 'desc'}", limit=limit, offset=start
    )
    if json:
        print_json(result)
        return
    _render_page(result, wide)


def _render_page(result: TicketPage, wide: bool) -> None:
    footer = page_footer(
        "ticket", "tickets", result.offset, len(result.tickets), result.total, result.total_exact, result.has_more
    )
    print_table(
        "Tickets",
        ["ID", "!", "Status", "Type", "Mailbox", "From", "Subject", "Updated"],
        [
            (
                t.id,
                "!" if t.damaged else "",
                t.status,
                safe(t.type, oneline=True) if t.type else f"({t.kind})" if t.kind != "normal" else "",
                safe(t.mailbox, oneline=True),
                safe(who(t.from_name, t.from_email), oneline=True),
                safe(t.subject, oneline=True),
                when(t.updated_at),
            )
            for t in result.tickets
        ],
        wide=wide,
        footer=footer,
        empty="No tickets match." if result.offset == 0 else None,
    )
    if any(t.damaged for t in result.tickets):
        say("! : a mail of the ticket arrived damaged; `ticketctl tickets show ID` says what.")


@app.command("show")
def show(
    ctx: typer.Context,
    ticket_id: int = TicketId,
    raw: int = typer.Option(
        None, "--raw", metavar="LOG", help="Print the stored original message of this log instead."
    ),
    json: bool = JsonOption,
) -> None:
    """Show a ticket: contact, type, status, the whole thread, attachments, assignment and bounces."""
    store = state(ctx).store
    if raw is not None:
        data = tickets.raw_message(store, ticket_id, raw)
        if json:
            import base64

            print_json(
                {
                    "ticket_id": ticket_id,
                    "log_id": raw,
                    "size": len(data),
                    "raw_base64": base64.b64encode(data).decode(),
                }
            )
        else:
            write_raw(data)
        return
    view = tickets.get_ticket(store, ticket_id)
    if json:
        print_json(view)
        return
    _render_ticket(view)


def _render_ticket(v: TicketView) -> None:
    out = console()
    contact = f"{who(v.contact.name, v.contact.email)} ({v.contact.role})" if v.contact else "none"
    fields = [
        ("Subject", safe(v.subject, oneline=True)),
        ("Status", f"{v.status} (can become: {', '.join(v.allowed_statuses)})"),
        ("Type", safe(v.type) if v.type else f"none ({v.kind} ticket)"),
        ("Mailbox", safe(v.mailbox) or "none"),
        ("From", safe(who(v.from_name, v.from_email), oneline=True)),
        ("Contact", safe(contact, oneline=True)),
        ("Participants", safe(_participants(v), oneline=True) or "none"),
        ("Created", v.created_at),
        ("Updated", v.updated_at),
    ]
    if v.error_reason:
        fields.append(("Error", safe(v.error_reason, oneline=True)))
    if v.automatic_sender:
        sender = safe(v.automatic_sender.email, oneline=True)
        fields.append(("Automatic", f"opened by a machine's mail: nothing is sent to {sender}"))
    if v.assignment:
        a = v.assignment
        fields.append(
            (
                "Assignment",
                safe(
                    f"{a.id}, {a.status}, {a.submissions} attempt(s), course {a.course or '-'}, "
                    f"student {a.student or '-'}, tutor {a.tutor or '-'} (ticketctl assignments show {a.id})",
                    oneline=True,
                ),
            )
        )
    out.print(f"[bold]Ticket {v.id}[/]")
    for key, value in fields:
        out.print(f"  [bold]{key}:[/] {value}", soft_wrap=True)
    for log in v.logs:
        _render_log(log)
    if v.bounces:
        out.print("\n[bold]Bounces[/]")
        for b in v.bounces:
            state_ = "resolved" if b.resolved else "unresolved"
            detail = safe(f"{b.status_code or ''} {b.diagnostic or ''}".strip(), oneline=True)
            address = safe(b.address or "(unread address)", oneline=True)
            out.print(f"  #{b.id} {address} {b.kind}, {state_}, {b.created_at}: {detail}", soft_wrap=True)


def _participants(v: TicketView) -> str:
    def role(p: Participant) -> str:
        if p.role == "cc" and not v.copied_take_part:
            return "cc, not taking part: the type has --no-cc-participants"
        return p.role

    return ", ".join(f"{p.email} ({role(p)})" for p in v.participants)


def _render_log(log: LogView) -> None:
    out = console()
    arrow = "received" if log.direction == "in" else "sent"
    delivery = f", {log.delivery}" if log.delivery else ""
    raw = ", original kept (--raw)" if log.has_raw else ""
    mail = f", mail {log.mail_id}" if log.mail_id is not None else ""
    out.print(f"\n[bold]Log {log.id}[/] {arrow} {log.created_at}{mail}{delivery}{raw}")
    if log.released_by:
        by = safe(log.released_by)
        out.print(f"  Released by {by} after the rules refused it (`ticketctl mail show {log.mail_id}`)")
    for sentence in log.damage:
        out.print(f"  [bold yellow]Damaged:[/] {safe(sentence, oneline=True)}", soft_wrap=True)
    if log.automatic:
        out.print(f"  [bold]Automatic:[/] {safe(log.automatic, oneline=True)}", soft_wrap=True)
    out.print(f"  From: {safe(who(log.from_name, log.from_email), oneline=True)}", soft_wrap=True)
    if log.direction == "in":  # the mail's own To; who it was then passed on to is another matter
        out.print(f"  To: {safe(log.mail_to or '(not recorded)', oneline=True)}", soft_wrap=True)
    else:
        out.print(f"  To: {safe(who(log.to_name, log.to_email), oneline=True)}", soft_wrap=True)
    if log.cc:
        out.print(f"  Cc: {safe(log.cc, oneline=True)}", soft_wrap=True)
    if log.direction == "in" and log.to_email:
        out.print(f"  Passed on to: {safe(who(log.to_name, log.to_email), oneline=True)}", soft_wrap=True)
    out.print(f"  Subject: {safe(log.subject, oneline=True)}", soft_wrap=True)
    for a in log.attachments:
        out.print(
            f"  Attachment: {safe(a.filename, oneline=True)} ({_size(a.size)}, {safe(a.content_type)})",
            soft_wrap=True,
        )
    out.print("")
    out.print(safe(log.text.rstrip()), soft_wrap=True)


def _size(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} bytes"


@app.command("attachment")
def attachment(
    ctx: typer.Context,
    ticket_id: int = TicketId,
    name: str = typer.Argument(..., help="The attachment's file name (or its id, as `tickets show` lists)."),
    out: Path = typer.Option(..., "--out", metavar="PATH", help="The file to write, or a directory to write it into."),
    force: bool = typer.Option(False, "--force", help="Replace the file (or link) if one exists."),
    world_readable: bool = typer.Option(
        False, "--world-readable", help="Create the file 0644 (readable by every user) instead of 0600."
    ),
    json: bool = JsonOption,
) -> None:
    """Save one attachment of a ticket to a new file, readable only by you unless --world-readable."""
    path = tickets.save_attachment(
        state(ctx).store, ticket_id, name, out, overwrite=force, world_readable=world_readable
    )
    if json:
        print_json({"ticket_id": ticket_id, "attachment": name, "path": path})
    else:
        say(f"Saved '{name}' of ticket {ticket_id} to {path}.")


@app.command("reassign")
def reassign(
    ctx: typer.Context,
    ticket_id: int = TicketId,
    type_name: str = typer.Option(..., "--type", metavar="TYPE", help="The ticket type to give the invalid ticket."),
    note: str = typer.Option("", "--note", metavar="TEXT", help="A note for the type's admin, shown in the notice."),
    json: bool = JsonOption,
) -> None:
    """Give an invalid ticket its type; the type's admin is sent the `reassigned` notice."""
    st = state(ctx)
    view = tickets.reassign(st.store, st.config, ticket_id, type_name, note=note)
    if json:
        print_json(view)
        return
    notice = view.logs[-1]
    say(f"Ticket {view.id} is now of type '{view.type}'; a notice to {notice.to_email} is queued.")


@app.command("status")
def status(
    ctx: typer.Context,
    ticket_id: int = TicketId,
    new_status: str = typer.Argument(..., metavar="STATUS", help=", ".join(STATUSES) + "."),
    json: bool = JsonOption,
) -> None:
    """Change a ticket's status (only along the allowed transitions; `tickets show` lists them)."""
    view = tickets.set_status(state(ctx).store, ticket_id, new_status)
    _said(view, json)


@app.command("resolve")
def resolve(ctx: typer.Context, ticket_id: int = TicketId, json: bool = JsonOption) -> None:
    """Mark a ticket resolved."""
    _said(tickets.resolve(state(ctx).store, ticket_id), json)


def _said(view: TicketView, json: bool) -> None:
    if json:
        print_json(view)
    else:
        say(f"Ticket {view.id} is {view.status}.")


@app.command("resolve-bounce")
def resolve_bounce(
    ctx: typer.Context,
    bounce_id: int = typer.Argument(..., help="The bounce's number (as `tickets show` lists it).", min=1),
    note: str = typer.Option(None, "--note", metavar="TEXT", help="Why it is resolved, kept with the bounce."),
    json: bool = JsonOption,
) -> None:
    """Mark a bounce of a ticket's mail resolved (the same as `ticketctl bounces resolve`)."""
    resolve_and_report(ctx, bounce_id, note, json)


@app.command("reply")
def reply(
    ctx: typer.Context,
    ticket_id: int = typer.Argument(..., help="The ticket to answer."),
    canned: str = typer.Option(None, "--canned", metavar="NAME", help="Reply with this canned response."),
    message: str = typer.Option(None, "--message", "-m", metavar="TEXT", help="The reply's text."),
    file: Path = typer.Option(None, "--file", metavar="FILE", help="Read the reply's text from this UTF-8 file."),
    attach: list[Path] = typer.Option(None, "--attach", metavar="FILE", help="Attach this file (repeat for more)."),
    to_automatic: bool = typer.Option(
        False, "--to-automatic", help="Send even if a machine's mail opened the ticket (a person reads that address)."
    ),
    json: bool = JsonOption,
) -> None:
    """Answer a ticket's customer; with no --canned, --message or --file, $EDITOR opens.

    The reply is logged on the ticket, queued with the ticket's [Tag #T-L] subject and threaded to the
    customer's last mail; `ticketctl queue send` (or the next `process`) sends it.
    """
    if sum(x is not None for x in (canned, message, file)) > 1:
        raise typer.BadParameter("Give only one of --canned, --message and --file.")
    text = message
    if file is not None:
        text = read_text_file(file)
    elif canned is None and message is None:
        text = edit_text()
    result = replies.reply(
        state(ctx).store, state(ctx).config, ticket_id, text=text, canned=canned, attachments=attach,
        to_automatic=to_automatic,
    )  # fmt: skip
    if json:
        print_json(result)
        return
    files = f" with {len(result.attachments)} attachment(s)" if result.attachments else ""
    say(f"Queued reply {result.queue_id} to {result.to_email}{files}: {result.subject}")
