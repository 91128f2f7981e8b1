"""What every flow is: the interface of the modules in this package, one per ticket-type task.

A flow decides what a ticket's events send, through the one writer (outbound/writer.py), and which
status a reply moves the ticket to. It runs inside the transaction that records the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ticketctl.engine.config import Config
from ticketctl.engine.enums import TicketStatus
from ticketctl.engine.mail.message import ParsedMessage
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.tickets import TicketRecord
from ticketctl.engine.store.types import TicketType


@dataclass(frozen=True)
class FlowContext:
    store: Store
    config: Config
    ticket_type: TicketType
    notify: bool = True  # False while taking in a backlog: tickets, but no mail


@dataclass(frozen=True)
class Received:
    """The incoming mail just written on the ticket: its log and its attachments."""

    msg: ParsedMessage
    log_id: int
    attachment_ids: tuple[int, ...]


class Flow(Protocol):
    def new_ticket(self, ctx: FlowContext, ticket: TicketRecord, received: Received) -> None:
        """A new ticket of this type was opened from `received`."""
        ...

    def reply(self, ctx: FlowContext, ticket: TicketRecord, received: Received) -> TicketStatus:
        """A participant wrote into the ticket; returns the status it moves to."""
        ...

    def reassigned(self, ctx: FlowContext, ticket: TicketRecord, previous: TicketType | None, note: str) -> None:
        """Staff gave the ticket this type (it had `previous`, or none)."""
        ...
