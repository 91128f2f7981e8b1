"""`ticketctl mail`: every mail taken in (the ledger), what became of it and why; its original; and
releasing a mail the rules ignored or rejected into a ticket."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

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
    write_raw,
)
from ticketctl.engine.enums import Disposition

if TYPE_CHECKING:
    from ticketctl.engine.desk.mails import MailView
    from ticketctl.engine.store.ledger import TakenIn

mails = lazy("ticketctl.engine.desk.mails")

app = typer.Typer(
    help="Every mail taken in: what became of it and why; release what the rules ignored or rejected.",
    no_args_is_help=True,
)

MailId = typer.Argument(..., help="The mail's number, as `mail list` shows it.", min=1)


@app.command("list")
def list_(
    ctx: typer.Context,
    disposition: list[str] = typer.Option(
        None,
        "--disposition",
        metavar="WHAT",
        help="Only mail that became this (repeat for several): " + ", ".join(Disposition) + ".",
    ),
    mailbox: str = typer.Option(None, "--mailbox", metavar="NAME", help="Only mail taken from this mailbox."),
    since: str = typer.Option(None, "--since", metavar="DATE", help="Only mail taken in on or after DATE."),
    limit: int = typer.Option(50, "--limit", metavar="N", min=1, help="Mails per page."),
    page: int = typer.Option(None, "--page", metavar="N", min=1, help="Page number (with --limit)."),
    offset: int = typer.Option(None, "--offset", metavar="N", min=0, help="Skip this many mails (instead of --page)."),
    wide: bool = WideOption,
    json: bool = JsonOption,
) -> None:
    """List the mail taken in, newest first: when, from whom, about what, what became of it and why;
    the footer gives the total."""
    start = paging(limit, page, offset)
    filters = mails.MailFilters(dispositions=tuple(disposition or ()), mailbox=mailbox, since=since)
    result = mails.list_mail(state(ctx).store, filters, limit=limit, offset=start)
    if json:
        print_json(result)
        return
    footer = page_footer(
        "mail", "mails", result.offset, len(result.mails), result.total, result.total_exact, result.has_more
    )
    print_table(
        "Mail taken in",
        ["ID", "Received", "From", "Subject", "Became", "Why"],
        [
            (
                m.id,
                when(m.received_at),
                safe(m.from_email, oneline=True),
                safe(m.subject, oneline=True),
                _became(m),
                safe(f"{m.rule}: {m.reason}", oneline=True),
            )
            for m in result.mails
        ],
        wide=wide,
        footer=footer,
        empty="No mail matches." if result.offset == 0 else None,
    )
    if result.mails:
        say("`mail show ID` shows one; `mail release ID` takes an ignored or rejected one in.")


def _became(m: TakenIn) -> str:
    ticket = f" #{m.ticket_id}" if m.ticket_id is not None else ""
    if m.released_at:
        return f"{m.disposition}, released: {m.released_as}{ticket}"
    return f"{m.disposition}{ticket}"


@app.command("show")
def show(
    ctx: typer.Context,
    mail_id: int = MailId,
    raw: bool = typer.Option(False, "--raw", help="Print the original message as it was received instead."),
    json: bool = JsonOption,
) -> None:
    """Show one mail taken in: where from, what the rules decided and why, its headers, damage and text."""
    store = state(ctx).store
    if raw:
        data = mails.raw_mail(store, mail_id)
        if json:
            import base64

            print_json({"mail_id": mail_id, "size": len(data), "raw_base64": base64.b64encode(data).decode()})
        else:
            write_raw(data)
        return
    view = mails.show_mail(store, mail_id)
    if json:
        print_json(view)
        return
    _render(view)


def _render(v: MailView) -> None:
    out = console()
    e = v.entry
    fields = [
        ("Received", f"{e.received_at} from mailbox {safe(e.mailbox)} (uid {safe(e.uid, oneline=True)})"),
        ("From", safe(e.from_email, oneline=True)),
        ("To", safe(", ".join(v.to), oneline=True)),
        ("Cc", safe(", ".join(v.cc), oneline=True)),
        ("Reply-To", safe(", ".join(v.reply_to), oneline=True)),
        ("Date", safe(v.date, oneline=True)),
        ("Subject", safe(e.subject, oneline=True)),
        ("Message-ID", safe(e.message_id, oneline=True)),
        ("Size", f"{e.size} bytes" + ("" if e.raw_kept else ", original not kept")),
        ("Became", _became(e)),
        ("Why", safe(f"{e.rule}: {e.reason}", oneline=True)),
    ]
    if e.released_at:
        fields.append(("Released", f"{e.released_at} by {safe(e.released_by)}"))
    if v.attachments:
        fields.append(("Attachments", safe(", ".join(v.attachments), oneline=True)))
    out.print(f"[bold]Mail {e.id}[/]")
    for key, value in fields:
        if value:
            out.print(f"  [bold]{key}:[/] {value}", soft_wrap=True)
    for sentence in v.damage:
        out.print(f"  [bold yellow]Damaged:[/] {safe(sentence, oneline=True)}", soft_wrap=True)
    if not e.released_at and e.disposition in ("ignored", "rejected"):
        out.print(f"  `ticketctl mail release {e.id}` takes it in as a ticket (or `--ticket N` as a reply).")
    out.print("")
    out.print(safe(v.text.rstrip()), soft_wrap=True)


@app.command("release")
def release(
    ctx: typer.Context,
    mail_id: int = MailId,
    ticket: int = typer.Option(
        None, "--ticket", metavar="N", min=1, help="Take it in as a reply into ticket N (its sender then takes part)."
    ),
    type_name: str = typer.Option(
        None, "--type", metavar="NAME", help="Open the new ticket with this type (default: the one it was sent to)."
    ),
    json: bool = JsonOption,
) -> None:
    """Take an ignored or rejected mail in as if its rule had passed it: a new ticket with the usual notice,
    or with --ticket a reply. The ledger keeps the rules' decision and records that you released it."""
    st = state(ctx)
    result = mails.release(st.store, st.config, mail_id, by=_who(), ticket_id=ticket, type_name=type_name)
    if json:
        print_json(result)
        return
    what = {"reply": "a reply in ticket", "new_ticket": "ticket", "invalid_ticket": "invalid ticket"}
    queued = f"; {result.notices} mail(s) queued (`ticketctl queue send` or the next `process` sends them)"
    say(f"Mail {result.mail_id} is now {what.get(result.disposition, result.disposition)} {result.ticket_id}"
        f"{queued if result.notices else ''}.")  # fmt: skip


def _who() -> str:
    """Who released it, as the ledger records it: the login running the command."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "staff"
