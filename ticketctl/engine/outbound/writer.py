"""The one writer of outgoing mail. `write` is the only place that writes an outgoing ticket log,
renders a template and queues the mail, all inside the caller's transaction, so a mail exists exactly
when the decision that caused it committed.

What is written, in that one step:
- the log's id is allocated first: the subject tag `[Tag #ticket-log]` and the signed Message-ID name it;
- the template of the context's purpose renders subject, text and HTML (templating.py);
- the log row (From, To, Cc, subject, text as rendered) and the queue row (with the VERP envelope
  sender that names it, In-Reply-To/References to the receiver's last message on the ticket).

Nothing is ever written to a machine: a mail to the automatic sender that opened its ticket
(`withheld`) is not written at all, unless staff said they mean it (`MailSpec.to_automatic`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ticketctl.engine.config import Config
from ticketctl.engine.enums import Direction
from ticketctl.engine.mail import addresses, msgid, tags
from ticketctl.engine.outbound.contexts import MailContext
from ticketctl.engine.outbound.mailbuild import envelope_recipients
from ticketctl.engine.outbound.templating import render_mail
from ticketctl.engine.store import queue, settings, tickets, types
from ticketctl.engine.store.connection import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Party:
    """Someone a mail goes to or comes from."""

    email: str
    name: str = ""
    contact_id: int | None = None


@dataclass(frozen=True)
class NewFile:
    """A file to attach that no log has yet (staff attached it to a reply); its content is in the blob
    store under `sha256`."""

    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class MailSpec:
    """Everything about a mail but its words: who, on which ticket, threaded how, with what."""

    ticket_id: int
    tag: str  # the ticket type's workflow tag
    to: Party
    sender: Party  # From: the type's address and name
    reply_to: str | None = None
    cc: tuple[str, ...] = ()
    attachment_ids: tuple[int, ...] = ()  # attachments already stored (a received mail's)
    files: tuple[NewFile, ...] = ()  # attachments stored with this mail's log
    automatic: bool = True  # written by the engine itself (Auto-Submitted: auto-generated), not a person's words
    to_automatic: bool = False  # staff mean it: write even to the automatic sender that opened the ticket


@dataclass(frozen=True)
class Written:
    log_id: int
    queue_id: int
    message_id: str  # without angle brackets
    subject: str


def withheld(store: Store, ticket_id: int, to_email: str) -> str | None:
    """Why no mail may go to `to_email` on the ticket (it is the machine whose mail opened it), or None."""
    return _withheld(tickets.automatic_opener(store, ticket_id), ticket_id, to_email)


def _withheld(opener: tickets.AutomaticSender | None, ticket_id: int, to_email: str) -> str | None:
    if opener is None or addresses.routing_key(opener.email) != addresses.routing_key(to_email):
        return None
    return (
        f"Ticket {ticket_id} was opened by an automatic mail from {opener.email} ({opener.why}), "
        "and ticketctl sends nothing to an automatic sender."
    )


def write(store: Store, config: Config, spec: MailSpec, context: MailContext) -> Written | None:
    """Render `context` and write the outgoing log and the queued mail for `spec`; inside a transaction.
    None: nothing was written, because `spec.to` is the automatic sender that opened the ticket."""
    mails = tickets.correspondence(store, spec.ticket_id)
    if not spec.to_automatic and (why := _withheld(mails.automatic_opener(), spec.ticket_id, spec.to.email)):
        log.info("not writing the %s mail: %s", context.purpose, why)
        return None
    log_id = tickets.next_log_id(store)
    rendered = render_mail(context.purpose, context.variables(), config.templates_dir)
    subject = tags.make_subject(spec.tag, spec.ticket_id, log_id, rendered.subject)
    secret = settings.installation_secret(store)
    message_id = msgid.make_message_id(secret, spec.ticket_id, log_id, msgid.domain_of(spec.sender.email))
    thread = mails.thread(spec.to.email)
    cc = ", ".join(spec.cc)
    tickets.add_log(
        store,
        tickets.NewLog(
            ticket_id=spec.ticket_id,
            direction=Direction.OUT,
            from_email=spec.sender.email,
            from_name=spec.sender.name,
            to_email=spec.to.email,
            to_name=spec.to.name,
            receiver_contact_id=spec.to.contact_id,
            cc=cc,
            subject=subject,
            body_text=rendered.text,
            body_html=rendered.html,
            message_id=message_id,
            in_reply_to=thread.in_reply_to,
        ),
        log_id=log_id,
    )
    new_ids = tuple(tickets.add_file(store, log_id, f.filename, f.content_type, f.size, f.sha256) for f in spec.files)
    queue_id = queue.next_id(store)
    bounce_base = types.bounce_address(store) or config.outbox.from_address or spec.sender.email
    queue.add(
        store,
        queue_id,
        queue.NewMail(
            ticket_id=spec.ticket_id,
            log_id=log_id,
            purpose=context.purpose,
            from_email=spec.sender.email,
            from_name=spec.sender.name,
            to_email=spec.to.email,
            to_name=spec.to.name,
            cc=cc,
            reply_to=spec.reply_to,
            subject=subject,
            body_text=rendered.text,
            body_html=rendered.html,
            message_id=message_id,
            in_reply_to=thread.in_reply_to,
            references=" ".join(f"<{r}>" for r in thread.references),
            envelope_from=msgid.make_verp(secret, queue_id, bounce_base),
            attachments=spec.attachment_ids + new_ids,
            auto_submitted=spec.automatic,
        ),
        envelope_recipients(spec.to.email, cc),
    )
    return Written(log_id, queue_id, message_id, subject)
