"""What each disposition writes, inside the transaction that records the message in the ledger.

A new ticket or a reply goes on to its type's flow (flows/tasks.py), which decides what is sent; an
invalid or error ticket is kept for staff; a bounce is matched and recorded (flows/bounce_back.py); a
rejected, ignored or duplicate message is the ledger row alone. A mail that opens a ticket or replies
into one makes its people participants (people.py); its incoming log keeps what the parser found
damaged.

A mail a machine wrote (the decision's `automatic`, from the auto-reply mark) is logged as automatic.
On an existing ticket it is a note and nothing more: no flow runs, so it is never passed on, moves no
status and no assignment. A new one still opens its ticket (server-rule forwards are often marked
automatic), and its flow tells the admin; the writer sends nothing to the automatic sender, ever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ticketctl.engine.config import Config
from ticketctl.engine.enums import Direction, Disposition, TicketKind, TicketStatus
from ticketctl.engine.flows import bounce_back
from ticketctl.engine.flows.flow import FlowContext, Received
from ticketctl.engine.flows.tasks import flow_for
from ticketctl.engine.intake import people
from ticketctl.engine.intake.rules import Decision, RuleView
from ticketctl.engine.mail.message import ParsedMessage
from ticketctl.engine.store import contacts, savetables, tickets
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.tickets import TicketRecord
from ticketctl.engine.store.types import TicketType

Written = tuple[int | None, int | None]  # (ticket id, log id) the message became, if any


@dataclass(frozen=True)
class Job:
    """One decided message being written."""

    store: Store
    config: Config
    mailbox_id: int
    msg: ParsedMessage
    decision: Decision
    view: RuleView
    ledger_id: int
    notify: bool


def write(job: Job) -> Written:
    return APPLY[job.decision.disposition](job)


def _received(job: Job, ticket_id: int) -> Received:
    """The incoming log and attachments of the message on ticket `ticket_id`."""
    msg, sender = job.msg, job.msg.from_
    log_id = tickets.add_log(
        job.store,
        tickets.NewLog(
            ticket_id=ticket_id,
            direction=Direction.IN,
            from_email=sender.email if sender else "",
            from_name=sender.name if sender else "",
            cc=", ".join(a.email.lower() for a in msg.cc),
            mail_to=", ".join(a.email.lower() for a in msg.to),
            subject=msg.subject,
            body_text=msg.body_text,
            body_html=msg.body_html,
            message_id=msg.message_id,
            in_reply_to=msg.in_reply_to[0] if msg.in_reply_to else None,
            ledger_id=job.ledger_id,
            defects=tuple(msg.defects),
            automatic=job.decision.automatic,
        ),
    )
    ids = tickets.add_attachments(job.store, job.config.data_dir, log_id, job.msg.attachments)
    return Received(msg, log_id, tuple(ids))


def _open(job: Job, kind: TicketKind, ticket_type: TicketType | None, error: str | None = None) -> TicketRecord:
    """A new ticket whose customer is the mail's Reply-To, else its From; the mail's people take part."""
    found = _people(job) if kind != TicketKind.ERROR else None
    customer = (found.customer if found else None) or job.msg.from_
    contact_id = None
    if customer and kind != TicketKind.ERROR:
        contact_id = contacts.upsert(job.store, customer.email, customer.name)
    ticket = tickets.open_ticket(
        job.store,
        kind=kind,
        type_id=ticket_type.id if ticket_type else None,
        mailbox_id=job.mailbox_id,
        contact_id=contact_id,
        subject=job.msg.subject,
        from_email=customer.email if customer else "",
        from_name=customer.name if customer else "",
        error_reason=error,
    )
    if found is not None:
        people.record(job.store, ticket.id, found, opening=True)
    return ticket


def _new_ticket(job: Job) -> Written:
    ticket_type = job.view.type_by_id(job.decision.type_id or 0)
    assert ticket_type is not None, "the route rule names an existing type"
    ticket = _open(job, TicketKind.NORMAL, ticket_type)
    received = _received(job, ticket.id)
    flow_for(ticket_type.task).new_ticket(_flow_context(job, ticket_type), ticket, received)
    _save_table(job, ticket_type, ticket.id)
    return ticket.id, received.log_id


def _reply(job: Job) -> Written:
    ticket = job.view.ticket(job.decision.ticket_id or 0)  # as the rules read it: nothing wrote it since
    assert ticket is not None, "the subject-tag and references rules name an existing ticket"
    received = _received(job, ticket.id)
    if job.decision.automatic:  # a note: never passed on, moves nothing
        return ticket.id, received.log_id
    people.record(job.store, ticket.id, _people(job), opening=False)
    ticket_type = job.view.type_by_id(ticket.type_id) if ticket.type_id else None
    status = TicketStatus.OPEN
    if ticket_type is not None:
        status = flow_for(ticket_type.task).reply(_flow_context(job, ticket_type), ticket, received)
    tickets.set_status(job.store, ticket.id, status)
    return ticket.id, received.log_id


def _people(job: Job) -> people.People:
    """Whom the mail brings into its ticket; a machine's mail copies nobody in."""
    own = people.own_addresses(job.store, job.config)
    return people.of_mail(job.msg, own, copies=job.decision.automatic is None)


def _invalid(job: Job) -> Written:
    ticket = _open(job, TicketKind.INVALID, None)
    return ticket.id, _received(job, ticket.id).log_id


def _error(job: Job) -> Written:
    ticket = _open(job, TicketKind.ERROR, None, error=job.decision.reason)
    return ticket.id, _received(job, ticket.id).log_id


def _bounce(job: Job) -> Written:
    return bounce_back.record(job.store, job.ledger_id, job.msg), None


def _ledger_only(job: Job) -> Written:
    return job.decision.ticket_id, None


def _flow_context(job: Job, ticket_type: TicketType) -> FlowContext:
    return FlowContext(job.store, job.config, ticket_type, notify=job.notify)


def _save_table(job: Job, ticket_type: TicketType, ticket_id: int) -> None:
    if not ticket_type.save_table:
        return
    sender = job.msg.from_.email if job.msg.from_ else ""
    columns = {
        column: value
        for column, value in (
            (ticket_type.save_from_column, sender),
            (ticket_type.save_subject_column, job.msg.subject),
            (ticket_type.save_body_column, job.msg.body_text),
        )
        if column
    }
    savetables.save(job.store, ticket_type.save_table, ticket_id, columns)


APPLY: dict[Disposition, Callable[[Job], Written]] = {
    Disposition.NEW_TICKET: _new_ticket,
    Disposition.REPLY: _reply,
    Disposition.INVALID_TICKET: _invalid,
    Disposition.ERROR_TICKET: _error,
    Disposition.BOUNCE: _bounce,
    Disposition.REJECTED: _ledger_only,
    Disposition.IGNORED: _ledger_only,
    Disposition.DUPLICATE: _ledger_only,
}
