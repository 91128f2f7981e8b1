"""Staff replies to a ticket: the answer (typed, from a file, or a canned response) and any files go to
the customer (Cc the people they copied, as the type allows) through the one writer, in one
transaction with the ticket becoming `answered`.

A ticket a machine's mail opened (an auto-reply, a notification) is not answered unless staff say they
mean it (`to_automatic`): nothing is sent to an automatic sender by accident."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from pathlib import Path

from ticketctl.engine.admin import canned as canned_responses
from ticketctl.engine.config import Config
from ticketctl.engine.enums import TicketStatus
from ticketctl.engine.errors import ConfigError, NotAllowed, NotFound
from ticketctl.engine.flows.notices import answer_cc, type_party
from ticketctl.engine.outbound import writer
from ticketctl.engine.outbound.contexts import ContactFacts, ReplyMail, TicketFacts, TypeFacts
from ticketctl.engine.outbound.writer import MailSpec, NewFile, Party
from ticketctl.engine.store import blobs, contacts, tickets, types
from ticketctl.engine.store.connection import Store


@dataclass(frozen=True)
class ReplyResult:
    ticket_id: int
    log_id: int
    queue_id: int
    message_id: str
    to_email: str
    subject: str
    attachments: list[str] = field(default_factory=list)


def reply(
    store: Store,
    config: Config,
    ticket_id: int,
    text: str | None = None,
    canned: str | None = None,
    attachments: list[Path] | None = None,
    to_automatic: bool = False,
) -> ReplyResult:
    """Answer ticket `ticket_id` with `text` or the canned response `canned`, attaching `attachments`.

    Everything that can fail (the template, the files) is checked before anything is written.
    """
    if (text is None) == (canned is None):
        raise ConfigError("Give the reply as text or as a canned response, not both and not neither.")
    ticket = tickets.get(store, ticket_id)
    if ticket is None:
        raise NotFound(f"There is no ticket {ticket_id}; `ticketctl tickets list` shows the ids.")
    ticket_type = types.get_by_id(store, ticket.type_id) if ticket.type_id else None
    if ticket_type is None:
        raise ConfigError(
            f"Ticket {ticket_id} has no ticket type, so it has no address to answer from; reassign it first."
        )
    contact = ContactFacts.of(contacts.get(store, ticket.contact_id), ticket)
    if not contact.email:
        raise ConfigError(f"Ticket {ticket_id} has no customer address to reply to.")
    if not to_automatic and (why := writer.withheld(store, ticket.id, contact.email)):
        raise NotAllowed(f"{why} If a person reads {contact.email}, send the reply with --to-automatic.")
    facts, type_facts = TicketFacts.of(ticket), TypeFacts.of(ticket_type)
    subject, body = ticket.subject, text or ""
    if canned is not None:
        response = canned_responses.get(store, canned)
        canned_subject, body = canned_responses.render(
            response, {"ticket": facts, "contact": contact, "type": type_facts}
        )
        subject = canned_subject or subject
    files = [_read(Path(p)) for p in attachments or []]
    _check_size(config, body, files)
    stored = tuple(
        NewFile(name, content_type, len(payload), blobs.save_blob(config.data_dir, "attachments", payload))
        for name, content_type, payload in files
    )
    spec = MailSpec(
        ticket_id=ticket.id,
        tag=ticket_type.workflow_tag,
        to=Party(contact.email, contact.name, ticket.contact_id),
        sender=type_party(ticket_type),
        reply_to=ticket_type.address,
        cc=answer_cc(store, ticket_type, ticket),
        files=stored,
        automatic=False,  # a person wrote it
        to_automatic=to_automatic,
    )
    with store.transaction():
        written = writer.write(
            store, config, spec, ReplyMail(ticket=facts, type=type_facts, subject=subject, body=body, contact=contact)
        )
        assert written is not None, "withheld was checked above"
        tickets.set_status(store, ticket.id, TicketStatus.ANSWERED)
    return ReplyResult(
        ticket.id, written.log_id, written.queue_id, written.message_id, contact.email, written.subject,
        [f.filename for f in stored],
    )  # fmt: skip


def _read(path: Path) -> tuple[str, str, bytes]:
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read the attachment {path} ({exc.strerror}); check the path.") from exc
    return path.name, mimetypes.guess_type(path.name)[0] or "application/octet-stream", payload


def _check_size(config: Config, body: str, files: list[tuple[str, str, bytes]]) -> None:
    total = len(body.encode()) + sum(len(payload) for _, _, payload in files) * 4 // 3
    if total > config.limits.max_message_bytes:
        raise ConfigError(
            f"The reply would be about {total // 1024} KiB, over the limit of "
            f"{config.limits.max_message_bytes // 1024} KiB (limits.max_message_bytes); attach less."
        )
