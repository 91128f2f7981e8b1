"""`ticketctl bounces`: review the mail that could not be delivered, and resolve it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ticketctl.commands.common import (
    JsonOption,
    console,
    lazy,
    plural,
    print_json,
    print_table,
    safe,
    say,
    state,
    when,
    write_raw,
)

if TYPE_CHECKING:
    from ticketctl.engine.desk.bounces import BounceDetail

desk = lazy("ticketctl.engine.desk.bounces")

app = typer.Typer(help="Review bounces (mail that could not be delivered) and resolve them.", no_args_is_help=True)

BounceId = typer.Argument(..., help="The bounce's number (see `ticketctl bounces list`).", min=1)
NoteOption = typer.Option(None, "--note", metavar="TEXT", help="Why it is resolved, kept with the bounce.")


@app.command("list")
def list_(
    ctx: typer.Context,
    status: str = typer.Option(
        "unresolved", "--status", metavar="STATUS", help="unresolved (the default), resolved or all."
    ),
    contact: str = typer.Option(None, "--contact", metavar="EMAIL", help="Only the bounces of this address."),
    limit: int = typer.Option(100, "--limit", metavar="N", min=1, help="Show at most this many (newest first)."),
    json: bool = JsonOption,
) -> None:
    """List bounces (unresolved by default), newest first."""
    rows = desk.list_bounces(state(ctx).store, status=status, contact=contact, limit=limit)
    if json:
        print_json(rows)
        return
    if not rows:
        say("No bounces match." if status != "unresolved" else "No unresolved bounces.")
        return
    # one line each in 80 columns: where resolved ones are shown, their state takes the ticket's place
    unresolved = status == "unresolved"
    print_table(
        "Bounces" if status == "all" else f"{status.capitalize()} bounces",
        ["ID", "Address", "Kind", "Code", "Date", "Ticket" if unresolved else "State"],
        [
            (
                str(b.id),
                safe(b.address or "(unread)", oneline=True),
                b.kind,
                safe(b.status_code or "", oneline=True),
                when(b.created_at),
                str(b.ticket_id or "") if unresolved else "resolved" if b.resolved else "unresolved",
            )
            for b in rows
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    bounce_id: int = BounceId,
    raw: bool = typer.Option(False, "--raw", help="Print the report as it was received instead."),
    json: bool = JsonOption,
) -> None:
    """Show a bounce: the address, the report, the mail and ticket it is about."""
    store = state(ctx).store
    if raw:
        write_raw(desk.raw_report(store, bounce_id))
        return
    detail = desk.show(store, bounce_id)
    if json:
        print_json(detail)
        return
    _render(detail)


def _render(d: BounceDetail) -> None:
    out = console()
    b = d.bounce
    state_ = "unresolved"
    if b.resolved:
        state_ = f"resolved {b.resolved_at}" + (f": {b.resolved_note}" if b.resolved_note else "")
    fields = [
        ("Address", safe(b.address or "(the report names no address that could be read)", oneline=True)),
        ("Sent to", safe(b.original_address, oneline=True) if b.original_address else None),
        ("Kind", b.kind),
        ("Status", safe(" ".join(x for x in (b.status_code, b.action) if x), oneline=True) or None),
        ("Diagnostic", safe(b.diagnostic, oneline=True) if b.diagnostic else None),
        ("Remote MTA", safe(b.remote_mta, oneline=True) if b.remote_mta else None),
        ("Contact", safe(b.contact_email, oneline=True) if b.contact_email else "none"),
        ("State", safe(state_, oneline=True)),
        ("Recorded", b.created_at),
    ]
    out.print(f"[bold]Bounce {b.id}[/]")
    for key, value in fields:
        if value is not None:
            out.print(f"  [bold]{key}:[/] {value}", soft_wrap=True)
    out.print("\n[bold]Mail[/]")
    if d.mail:
        m = d.mail
        sent = f", sent {m.sent_at}" if m.sent_at else ""
        out.print(f"  Queued mail {m.id} to {safe(m.to_email, oneline=True)} ({m.status}{sent})", soft_wrap=True)
        out.print(f"  Subject: {safe(m.subject, oneline=True)}", soft_wrap=True)
    else:
        out.print("  Not matched to a mail we sent.")
    if d.ticket:
        t = d.ticket
        how = f" (by {b.matched_by})" if b.matched_by else ""
        out.print(f"  Ticket {t.id}{how}: {safe(t.subject, oneline=True)} ({t.status})", soft_wrap=True)
    if d.suppressed:
        out.print(f"  Kept back: {_ids(d.suppressed)} (suppressed until this bounce is resolved).", soft_wrap=True)
    out.print("\n[bold]Report[/]")
    out.print(f"  {safe(b.report, oneline=True)}", soft_wrap=True)
    if d.report:
        r = d.report
        out.print(f"  From: {safe(r.sender, oneline=True)}", soft_wrap=True)
        out.print(f"  Subject: {safe(r.subject, oneline=True)}", soft_wrap=True)
        if r.received_at:
            out.print(f"  Received: {r.received_at}")
        out.print("")
        out.print(safe(r.text), soft_wrap=True)
        out.print(f"\n(`ticketctl bounces show {b.id} --raw` prints the whole report.)")


@app.command("resolve")
def resolve(ctx: typer.Context, bounce_id: int = BounceId, note: str = NoteOption, json: bool = JsonOption) -> None:
    """Mark a bounce resolved (the address was fixed, or needs nothing more); the mail suppressed at its
    address goes at the next send."""
    resolve_and_report(ctx, bounce_id, note, json)


def resolve_and_report(ctx: typer.Context, bounce_id: int, note: str | None, json: bool) -> None:
    """What `bounces resolve` and `tickets resolve-bounce` do."""
    st = state(ctx)
    done = desk.resolve(st.store, st.config, bounce_id, note)
    if json:
        import dataclasses

        print_json(
            {
                "changed": done.changed,
                **dataclasses.asdict(done.detail),
                "released": done.released.released,
                "still_suppressed": done.released.still,
            }
        )
        return
    b = done.detail.bounce
    who = b.address or "an unread address"
    if not done.changed:
        say(f"Bounce {b.id} ({who}) was already resolved at {b.resolved_at}.")
        return
    say(f"Bounce {b.id} ({who}) is resolved.")
    released, still = done.released.released, done.released.still
    if released:
        say(f"Released {plural(len(released), 'mail')} it kept back ({_ids(released)}): it goes at the next send.")
    if still:
        stay = "stays" if len(still) == 1 else "stay"
        say(
            f"{plural(len(still), 'mail')} ({_ids(still)}) {stay} suppressed: the address has bounce "
            f"{done.released.by} unresolved too."
        )


def _ids(queue_ids: list[int]) -> str:
    return "queued mail " + ", ".join(str(i) for i in queue_ids)
