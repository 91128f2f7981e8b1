"""Who a mail brings into a ticket: its customer (the Reply-To that a web form or a no-reply sender
names, else the From), the From behind that Reply-To, and the people it copies (Cc, and To besides
us). Our own addresses (every type's, its staff's, the outbox's) are never any of them, and a mail
from one of them (staff answering) copies nobody in.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from ticketctl.engine.config import Config
from ticketctl.engine.enums import ParticipantRole
from ticketctl.engine.mail import addresses
from ticketctl.engine.mail.message import Address, ParsedMessage
from ticketctl.engine.store import participants, types
from ticketctl.engine.store.connection import Store


@dataclass(frozen=True)
class People:
    customer: Address | None
    behind: Address | None  # the From, when the customer is someone else (named by Reply-To)
    copied: tuple[Address, ...]


def own_addresses(store: Store, config: Config) -> frozenset[str]:
    """Routing keys of the addresses that are ours: every type's addresses, admins and forward
    addresses, and the outbox's From. Read once per write transaction (store/types.py's writes of
    types read them again)."""

    def read() -> frozenset[str]:
        own = {addresses.routing_key(config.outbox.from_address)}
        for t in types.list_all(store):
            own.update(addresses.routing_key(a) for a in (*t.email_to, t.admin_email, t.email_forward) if a)
        return frozenset(own)

    return store.locked(("types", "own addresses", config.outbox.from_address), read)


def of_mail(msg: ParsedMessage, own: Set[str], copies: bool = True) -> People:
    """The mail's customer, the From behind them, and (with `copies`) the people it copies."""

    def theirs(a: Address | None) -> bool:
        return a is not None and addresses.is_valid(a.email) and addresses.routing_key(a.email) not in own

    sender = msg.from_ if theirs(msg.from_) else None
    customer = next((a for a in msg.reply_to if theirs(a)), sender)
    behind = sender if sender is not None and customer is not None and _key(sender) != _key(customer) else None
    named = {_key(a) for a in (customer, sender) if a is not None}
    copied: dict[str, Address] = {}
    if sender is not None and copies:
        for a in (*msg.to, *msg.cc):
            if theirs(a) and _key(a) not in named:
                copied.setdefault(_key(a), a)
    return People(customer, behind, tuple(copied.values()))


def _key(a: Address) -> str:
    return addresses.routing_key(a.email)


def record(store: Store, ticket_id: int, people: People, *, opening: bool) -> None:
    """Make the mail's people participants of the ticket: the people it copies, and when it opens the
    ticket also its customer and the From behind them."""
    found: list[tuple[Address | None, ParticipantRole]] = []
    if opening:
        found += [(people.customer, ParticipantRole.CUSTOMER), (people.behind, ParticipantRole.FROM)]
    found += [(a, ParticipantRole.CC) for a in people.copied]
    for person, role in found:
        if person is not None:
            participants.add(store, ticket_id, person.email, person.name, role)
