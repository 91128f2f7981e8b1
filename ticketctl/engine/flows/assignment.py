"""The assignment flow (task `assignment`): student submits, tutor returns feedback, student resubmits.

Not built yet: every event refuses plainly, so an assignment type never quietly behaves like a
question type. `type add` refuses the task; mail for a type made before that becomes error tickets
that say why.
"""

from __future__ import annotations

from ticketctl.engine.enums import TicketStatus
from ticketctl.engine.errors import NotBuilt
from ticketctl.engine.flows.flow import FlowContext, Received
from ticketctl.engine.store.tickets import TicketRecord
from ticketctl.engine.store.types import TicketType


def not_built(ticket_type: TicketType) -> NotBuilt:
    return NotBuilt(
        f"Ticket type '{ticket_type.name}' has the task 'assignment', whose flow is not built in this version; "
        "its mail is kept as error tickets: give the type the task simple_storage meanwhile."
    )


def new_ticket(ctx: FlowContext, ticket: TicketRecord, received: Received) -> None:
    raise not_built(ctx.ticket_type)


def reply(ctx: FlowContext, ticket: TicketRecord, received: Received) -> TicketStatus:
    raise not_built(ctx.ticket_type)


def reassigned(ctx: FlowContext, ticket: TicketRecord, previous: TicketType | None, note: str) -> None:
    raise not_built(ctx.ticket_type)
