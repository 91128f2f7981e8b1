"""Fixtures for the outbound mail tests: a real SMTP server (aiosmtpd, STARTTLS + AUTH), a config that
points the outbox at it, and a ticket made directly in the database."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.servers.smtp import SmtpServer, make_cert
from ticketctl.engine.config import Config, load_config
from ticketctl.engine.store.connection import Store

SMTP_USER = "smtpuser"
SMTP_PASSWORD = "smtppw"
OAUTH_USER = "sender@example.com"
OAUTH_TOKEN = "access-token-123"


@pytest.fixture(scope="session")
def smtp_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_cert(tmp_path_factory.mktemp("smtp-cert"))


def _start(cert: tuple[Path, Path], **options: Any) -> SmtpServer:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # aiosmtpd warns about AUTH without STARTTLS on implicit TLS
        return SmtpServer(
            *cert,
            users={SMTP_USER.encode(): SMTP_PASSWORD.encode()},
            tokens={OAUTH_USER: OAUTH_TOKEN},
            **options,
        ).start()


@pytest.fixture(scope="session")
def smtp_session(smtp_cert: tuple[Path, Path]) -> Iterator[SmtpServer]:
    server = _start(smtp_cert)
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_session: SmtpServer) -> SmtpServer:
    """The session's STARTTLS server with its mail of earlier tests forgotten."""
    smtp_session.messages.clear()
    return smtp_session


@pytest.fixture
def start_smtp(smtp_cert: tuple[Path, Path]) -> Iterator[Callable[..., SmtpServer]]:
    """Start an extra server (e.g. implicit TLS, or on a port that was down); stopped after the test."""
    started: list[SmtpServer] = []

    def start(**options: Any) -> SmtpServer:
        server = _start(smtp_cert, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def write_config(workdir: Path, smtp_cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Config]:
    """Write ticketctl.yaml with an SMTP outbox; keyword arguments override outbox.smtp keys."""
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)

    def write(port: int, max_attempts: int = 3, **smtp: Any) -> Config:
        values = {
            "host": "127.0.0.1",
            "port": port,
            "security": "starttls",
            "auth": "password",
            "username": SMTP_USER,
            "password_env": "TEST_SMTP_PASSWORD",
            "ca_file": str(smtp_cert[0]),
            **smtp,
        }
        lines = [
            "outbox:",
            "  kind: smtp",
            "  from_address: ticketctl@example.net",
            "  retry_base_seconds: 60",
            f"  max_attempts: {max_attempts}",
            "  smtp:",
            *(f"    {k}: {v}" for k, v in values.items() if v is not None),
        ]
        (workdir / "ticketctl.yaml").write_text("\n".join(lines) + "\n")
        return load_config()

    return write


@dataclass(frozen=True)
class Ticket:
    id: int
    inbound_log_id: int
    inbound_message_id: str


def make_ticket(store: Store, *, bounce_type: bool = True, subject: str = "Printer on fire") -> Ticket:
    """A support type (and a bounce type), a customer, a ticket and the customer's first mail."""
    now = "2026-01-01T00:00:00Z"
    with store.transaction() as c:
        box = c.execute(
            "INSERT INTO mailboxes (name, kind, maildir_path, created_at, updated_at)"
            " VALUES ('support', 'maildir', '/nonexistent', ?, ?)",
            (now, now),
        ).lastrowid
        type_id = c.execute(
            "INSERT INTO ticket_types (name, task, email_to, workflow_tag, mailbox_id, admin_email,"
            " created_at, updated_at) VALUES ('support', 'simple_storage', '[\"support@example.com\"]',"
            " 'Support', ?, 'admin@example.com', ?, ?)",
            (box, now, now),
        ).lastrowid
        if bounce_type:
            c.execute(
                "INSERT INTO ticket_types (name, task, email_to, workflow_tag, mailbox_id, created_at,"
                " updated_at) VALUES ('bounces', 'bounce_back', '[\"bounces@example.com\"]', 'Bounce',"
                " ?, ?, ?)",
                (box, now, now),
            )
        contact = c.execute(
            "INSERT INTO contacts (email, name, created_at) VALUES ('carla@example.org', 'Carla Customer', ?)",
            (now,),
        ).lastrowid
        ticket = c.execute(
            "INSERT INTO tickets (type_id, mailbox_id, contact_id, status, subject, from_email, from_name,"
            " created_at, updated_at)"
            " VALUES (?, ?, ?, 'open', ?, 'carla@example.org', 'Carla Customer', ?, ?)",
            (type_id, box, contact, subject, now, now),
        ).lastrowid
        log = c.execute(
            "INSERT INTO ticket_logs (ticket_id, direction, from_email, from_name, to_email, subject,"
            " body_text, message_id, created_at) VALUES (?, 'in', 'carla@example.org', 'Carla Customer',"
            " 'support@example.com', ?, 'It is on fire.', 'carla-1@example.org', ?)",
            (ticket, subject, now),
        ).lastrowid
    return Ticket(int(ticket), int(log), "carla-1@example.org")


def parse(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def queue_mail(
    store: Store,
    config: Config,
    ticket: Ticket,
    *,
    to: str = "ok@example.org",
    cc: tuple[str, ...] = (),
    body: str = "It is on fire.",
    notice: bool = False,
) -> tuple[int, str]:
    """Queue one mail on `ticket` through the one writer, as the flows do: the new-ticket notice, or a
    relay. Returns (queue id, Message-ID)."""
    from ticketctl.engine.outbound import writer
    from ticketctl.engine.outbound.contexts import NewTicketMail, Person, RelayMail, TicketFacts, TypeFacts
    from ticketctl.engine.store import tickets, types

    record = tickets.get(store, ticket.id)
    ticket_type = types.get(store, "support")
    assert record is not None and ticket_type is not None
    spec = writer.MailSpec(
        ticket_id=ticket.id,
        tag=ticket_type.workflow_tag,
        to=writer.Party(to),
        sender=writer.Party(ticket_type.address, ticket_type.name),
        reply_to=ticket_type.address,
        cc=cc,
        automatic=notice,
    )
    facts = dict(ticket=TicketFacts.of(record), type=TypeFacts.of(ticket_type), subject=record.subject, body=body)
    sender = Person("Carla Customer", "carla@example.org")
    context = NewTicketMail(**facts, sender=sender) if notice else RelayMail(**facts, sender=sender)
    with store.transaction():
        written = writer.write(store, config, spec, context)
    return written.queue_id, written.message_id
