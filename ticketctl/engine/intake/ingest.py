"""One message from a mailbox into the store: dedupe, keep the raw bytes, parse, decide, and write
everything the decision implies in ONE transaction. The caller disposes of the message on the
server only after `ingest` returned (the transaction has committed by then).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ticketctl.engine.admin.mailboxes import Mailbox
from ticketctl.engine.config import Config
from ticketctl.engine.flows import question as flows
from ticketctl.engine.flows import savetable
from ticketctl.engine.intake.rules import Decision, StoreView
from ticketctl.engine.intake.sources import Fetched
from ticketctl.engine.mail import message
from ticketctl.engine.store import contacts, rawstore, records
from ticketctl.engine.store.connection import Store, utcnow

log = logging.getLogger(__name__)

Rule = tuple[str, Callable[[message.ParsedMessage, StoreView], Decision | None]]


@dataclass(frozen=True)
class Outcome:
    disposition: str
    reason: str
    ticket_id: int | None = None
    recorded: bool = True  # False: the ledger already had it (a crash after commit, before dispose)
    keep_on_server: bool = False  # True: we could not keep its bytes (oversized), so never delete it


def ingest(
    store: Store,
    config: Config,
    mailbox: Mailbox,
    fetched: Fetched,
    rules: Sequence[Rule],
    view: StoreView,
    *,
    notify: bool = True,
    dry_run: bool = False,
) -> Outcome:
    if fetched.oversized:
        return _oversized(store, config, mailbox, fetched, dry_run)
    raw, spool = fetched.raw or b"", fetched.spool  # a large message is in a spool file, hashed as it came
    sha = spool.sha256 if spool else hashlib.sha256(raw).hexdigest()
    seen = store.one(
        "SELECT disposition, reason, ticket_id FROM ledger WHERE mailbox_id = ? AND sha256 = ? AND uid = ?",
        (mailbox.id, sha, fetched.uid),
    )
    if seen:
        return Outcome(seen["disposition"], "already recorded: " + seen["reason"], seen["ticket_id"], recorded=False)
    try:
        msg = message.parse_file(spool.path, spool.dir) if spool else message.parse(raw)
    except Exception as exc:  # parse() should never raise; if it does, the mail still becomes a ticket
        log.warning("cannot parse message %s of %s: %s", fetched.uid, mailbox.name, exc)
        msg = None
    if msg is None:
        decision = Decision("error_ticket", "parse", "the message could not be read")
        msg = message.ParsedMessage(message_id=None, subject="(unreadable message)", from_=None)
    else:
        decision = _duplicate(store, mailbox, msg) or _decide(msg, rules, view)
    if dry_run:
        return Outcome(decision.disposition, decision.reason, decision.ticket_id, recorded=False)
    try:
        return _record(store, config, mailbox, fetched, sha, True, msg, decision, view, notify)
    except sqlite3.Error:
        raise
    except Exception as exc:
        log.warning("applying %s to message %s failed", decision.rule, fetched.uid, exc_info=True)
        failed = Decision(
            "error_ticket",
            decision.rule,
            f"rule '{decision.rule}' failed unexpectedly: {type(exc).__name__}: {exc}",
        )
        return _record(store, config, mailbox, fetched, sha, True, msg, failed, view, notify)


def _decide(msg: message.ParsedMessage, rules: Sequence[Rule], view: StoreView) -> Decision:
    for name, check in rules:
        try:
            decision = check(msg, view)
        except Exception as exc:
            log.warning("rule %s failed", name, exc_info=True)
            return Decision("error_ticket", name, f"rule '{name}' failed unexpectedly: {type(exc).__name__}: {exc}")
        if decision is not None:
            return decision
    raise AssertionError("the rule chain must end in a rule that always decides")


def _duplicate(store: Store, mailbox: Mailbox, msg: message.ParsedMessage) -> Decision | None:
    """Another copy of a message already taken from this mailbox (same Message-ID) is a duplicate."""
    if not msg.message_id:
        return None
    row = store.one(
        "SELECT id, ticket_id FROM ledger WHERE mailbox_id = ? AND message_id = ? AND disposition != 'duplicate'"
        " ORDER BY id LIMIT 1",
        (mailbox.id, msg.message_id),
    )
    if row is None:
        return None
    return Decision(
        "duplicate",
        "duplicate",
        f"Message-ID <{msg.message_id}> was already taken in (ledger #{row['id']})",
        ticket_id=row["ticket_id"],
    )


def _record(
    store: Store,
    config: Config,
    mailbox: Mailbox,
    fetched: Fetched,
    sha: str,
    keep_raw: bool,
    msg: message.ParsedMessage,
    decision: Decision,
    view: StoreView,
    notify: bool,
) -> Outcome:
    """Everything in one transaction: the raw bytes (unless not `keep_raw`), the ledger row, what the
    decision writes."""
    with store.transaction() as conn:
        raw_id, raw_path = rawstore.keep(conn, config.data_dir, sha, fetched) if keep_raw else (None, None)
        cur = conn.execute(
            "INSERT INTO ledger (mailbox_id, uid, message_id, sha256, size, raw_id, raw_path, disposition, rule,"
            " reason, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                mailbox.id,
                fetched.uid,
                msg.message_id,
                sha,
                fetched.size,
                raw_id,
                raw_path,
                decision.disposition,
                decision.rule,
                decision.reason,
                utcnow(),
            ),
        )
        ledger_id = int(cur.lastrowid or 0)
        ctx = flows.FlowContext(conn, config, notify)
        ticket_id, log_id = APPLY[decision.disposition](Job(ctx, mailbox, msg, decision, view, ledger_id))
        if ticket_id is not None:
            conn.execute("UPDATE ledger SET ticket_id = ?, log_id = ? WHERE id = ?", (ticket_id, log_id, ledger_id))
    return Outcome(decision.disposition, decision.reason, ticket_id, keep_on_server=not keep_raw)


def _oversized(store: Store, config: Config, mailbox: Mailbox, fetched: Fetched, dry_run: bool) -> Outcome:
    headers = fetched.headers or b""
    sha = hashlib.sha256(b"oversized\0%s\0%d\0" % (fetched.uid.encode(), fetched.size) + headers).hexdigest()
    seen = store.one("SELECT ticket_id, reason FROM ledger WHERE mailbox_id = ? AND sha256 = ?", (mailbox.id, sha))
    if seen:
        return Outcome(
            "error_ticket",
            "already recorded: " + seen["reason"],
            seen["ticket_id"],
            recorded=False,
            keep_on_server=True,
        )
    msg = message.parse_headers(headers)
    limit = config.limits.max_message_bytes
    decision = Decision(
        "error_ticket",
        "size-limit",
        f"the message is {fetched.size:,} bytes, over the limit of {limit:,}; it was left on the server "
        "(or moved to the processed folder) and only its headers were read",
    )
    if dry_run:
        return Outcome(decision.disposition, decision.reason, recorded=False, keep_on_server=True)
    view = StoreView(store, mailbox.id)
    return _record(store, config, mailbox, fetched, sha, False, msg, decision, view, notify=False)


# --- what each disposition writes -------------------------------------------------------------

Applied = tuple[int | None, int | None]


@dataclass(frozen=True)
class Job:
    """One decided message being written: what every disposition's writer needs."""

    ctx: flows.FlowContext
    mailbox: Mailbox
    msg: message.ParsedMessage
    decision: Decision
    view: StoreView
    ledger_id: int


def _inbound_log(job: Job, ticket_id: int) -> int:
    msg, sender = job.msg, job.msg.from_
    return records.add_log(
        job.ctx.conn,
        ticket_id=ticket_id,
        direction="in",
        from_email=sender.email if sender else "",
        from_name=sender.name if sender else "",
        cc=", ".join(a.email.lower() for a in msg.cc),
        subject=msg.subject,
        body_text=msg.body_text,
        body_html=msg.body_html,
        message_id=msg.message_id,
        in_reply_to=msg.in_reply_to[0] if msg.in_reply_to else None,
        ledger_id=job.ledger_id,
    )


def _open(job: Job, kind: str, type_id: int | None, error_reason: str | None = None) -> tuple[int, int, list[int]]:
    conn, sender = job.ctx.conn, job.msg.from_
    contact_id = contacts.upsert(conn, sender.email, sender.name) if sender and kind != "error" else None
    ticket_id = records.new_ticket(
        conn,
        type_id=type_id,
        mailbox_id=job.mailbox.id,
        contact_id=contact_id,
        kind=kind,
        subject=job.msg.subject,
        from_email=sender.email if sender else "",
        from_name=sender.name if sender else "",
        error_reason=error_reason,
    )
    log_id = _inbound_log(job, ticket_id)
    attachment_ids = records.add_attachments(conn, job.ctx.config.data_dir, log_id, job.msg.attachments)
    return ticket_id, log_id, attachment_ids


def _new_ticket(job: Job) -> Applied:
    from ticketctl.engine.flows import notices

    ctx = job.ctx
    ticket_type = job.view.all_types[job.decision.type_id or 0]
    ticket_id, log_id, _ = _open(job, "normal", ticket_type.id)
    if ticket_type.admin_email:
        receiver = contacts.upsert(ctx.conn, ticket_type.admin_email, role="admin")
        records.set_receiver(ctx.conn, log_id, ticket_type.admin_email, "", receiver)
        if ctx.notify:
            notices.queue_new_ticket_notice(ctx.conn, job.view.store, ctx.config, ticket_id)
    savetable.save(ctx.conn, ticket_type, ticket_id, job.msg)
    return ticket_id, log_id


def _reply(job: Job) -> Applied:
    ctx, ticket_id = job.ctx, job.decision.ticket_id or 0
    ticket = ctx.conn.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    log_id = _inbound_log(job, ticket_id)
    attachment_ids = records.add_attachments(ctx.conn, ctx.config.data_dir, log_id, job.msg.attachments)
    ticket_type = job.view.all_types.get(ticket["type_id"]) if ticket["type_id"] else None
    status = "open"
    if ticket_type is not None and ticket_type.task != "bounce_back":
        customer = flows.Receiver(ticket["from_email"], ticket["from_name"], ticket["contact_id"])
        status = flows.relay_reply(ctx, ticket_type, ticket_id, log_id, job.msg, customer, attachment_ids)
    records.touch_ticket(ctx.conn, ticket_id, status)
    return ticket_id, log_id


def _invalid(job: Job) -> Applied:
    ticket_id, log_id, _ = _open(job, "invalid", None)
    return ticket_id, log_id


def _error(job: Job) -> Applied:
    ticket_id, log_id, _ = _open(job, "error", None, error_reason=job.decision.reason)
    return ticket_id, log_id


def _bounce(job: Job) -> Applied:
    from ticketctl.engine.flows import bounces

    return bounces.record(job.ctx.conn, job.ledger_id, job.msg, job.view), None


def _ledger_only(job: Job) -> Applied:
    return job.decision.ticket_id, None


APPLY = {
    "new_ticket": _new_ticket,
    "reply": _reply,
    "invalid_ticket": _invalid,
    "error_ticket": _error,
    "bounce": _bounce,
    "rejected": _ledger_only,
    "ignored": _ledger_only,
    "duplicate": _ledger_only,
}
