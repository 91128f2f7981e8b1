"""One message from a mailbox into the store: skip it if the ledger has it, parse it, run the rule chain,
and write the ledger row, the raw bytes and everything the decision implies (record.py) in ONE
transaction. The caller disposes of the message on the server only after that transaction committed.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ticketctl.engine.config import Config
from ticketctl.engine.enums import Disposition
from ticketctl.engine.errors import TicketctlError
from ticketctl.engine.intake import parsing, record
from ticketctl.engine.intake.rules import Chain, Decision, RuleView
from ticketctl.engine.intake.sources import Fetched
from ticketctl.engine.mail.message import ParsedMessage
from ticketctl.engine.store import ledger, rawstore
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.mailboxes import Mailbox
from ticketctl.engine.store.view import MailboxView

log = logging.getLogger(__name__)

_Arg = TypeVar("_Arg")  # what a step is given besides the message: the view (a rule) or the decision (a mark)
_Out = TypeVar("_Out")


@dataclass(frozen=True)
class Outcome:
    disposition: Disposition
    reason: str
    ticket_id: int | None = None
    recorded: bool = True  # False: the ledger already had it (a crash after commit, before dispose)
    keep_on_server: bool = False  # True: we could not keep its bytes (oversized), so never delete it


def ingest(
    store: Store,
    config: Config,
    mailbox: Mailbox,
    fetched: Fetched,
    chain: Chain,
    view: MailboxView,
    *,
    notify: bool = True,
    dry_run: bool = False,
    parsed: ParsedMessage | None = None,
) -> Outcome:
    """`parsed`: the message as a parse worker already read it (parsing.py); parsed here otherwise."""
    view.next_message()
    sha = sha256_of(fetched)
    seen = ledger.recorded(store, mailbox.id, sha, None if fetched.oversized else fetched.uid)
    if seen:
        reason = "already recorded: " + seen.reason
        return Outcome(seen.disposition, reason, seen.ticket_id, recorded=False, keep_on_server=fetched.oversized)
    msg = parsed if parsed is not None else parsing.parse_fetched(fetched, f" of {mailbox.name}")
    decision = decide(msg, chain, view)
    if dry_run:
        return Outcome(decision.disposition, decision.reason, decision.ticket_id, recorded=False)
    try:
        return _record(store, config, mailbox, fetched, sha, msg, decision, view, notify)
    except sqlite3.Error:
        raise
    except Exception as exc:
        log.warning("writing what %s decided for message %s failed", decision.rule, fetched.uid, exc_info=True)
        failed = Decision(Disposition.ERROR_TICKET, decision.rule, _failure(decision.rule, exc))
        return _record(store, config, mailbox, fetched, sha, msg, failed, view, notify)


def decide(msg: ParsedMessage, chain: Chain, view: RuleView) -> Decision:
    """The first decision of the chain's rules, as its marks leave it; a rule or mark that fails makes an
    error ticket saying which and why."""
    for name, check in chain.rules:
        decision = _guarded(name, check, msg, view)
        if decision is not None:
            break
    else:
        raise AssertionError("the rule chain must end in a rule that always decides")
    for name, mark in chain.marks:
        decision = _guarded(name, mark, msg, decision)
    return decision


def _guarded(name: str, step: Callable[[ParsedMessage, _Arg], _Out], msg: ParsedMessage, arg: _Arg) -> _Out | Decision:
    """A rule's or a mark's answer; one that fails is an error ticket saying which and why."""
    try:
        return step(msg, arg)
    except Exception as exc:
        log.warning("rule %s failed", name, exc_info=True)
        return Decision(Disposition.ERROR_TICKET, name, _failure(name, exc))


def _failure(rule: str, exc: Exception) -> str:
    if isinstance(exc, TicketctlError):  # a sentence already (a flow that is not built, a template error)
        return str(exc)
    return f"rule '{rule}' failed unexpectedly: {type(exc).__name__}: {exc}"


def sha256_of(fetched: Fetched) -> str:
    """What identifies a fetched message in the ledger: the SHA-256 of its bytes (of where it was and its
    headers, when it was too big to download)."""
    if fetched.oversized:  # its bytes were never downloaded: what identifies it is where it was and its headers
        head = b"oversized\0%s\0%d\0" % (fetched.uid.encode(), fetched.size)
        return hashlib.sha256(head + (fetched.headers or b"")).hexdigest()
    if fetched.spool is not None:  # hashed as it downloaded
        return fetched.spool.sha256
    return hashlib.sha256(fetched.raw or b"").hexdigest()


def _record(
    store: Store,
    config: Config,
    mailbox: Mailbox,
    fetched: Fetched,
    sha: str,
    msg: ParsedMessage,
    decision: Decision,
    view: RuleView,
    notify: bool,
) -> Outcome:
    """Everything in one transaction (a savepoint of the batch's): the raw bytes (unless the message was
    too big to download), the ledger row, what the decision writes."""
    with store.transaction():
        raw_id = raw_path = None
        if not fetched.oversized:
            spool = fetched.spool
            raw_id, raw_path = rawstore.keep(
                store, sha, fetched.raw or b"", spool.path if spool else None, spool.size if spool else 0
            )
        entry = ledger.Entry(
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
            msg.from_.email if msg.from_ else "",
            msg.subject,
        )
        ledger_id = ledger.add(store, entry)
        job = record.Job(store, config, mailbox.id, msg, decision, view, ledger_id, notify)
        ticket_id, log_id = record.write(job)
        if ticket_id is not None:
            ledger.link(store, ledger_id, ticket_id, log_id)
    return Outcome(decision.disposition, decision.reason, ticket_id, keep_on_server=fetched.oversized)
