"""Building mail and a Maildir-backed setup for pipeline tests."""

from __future__ import annotations

import itertools
import os
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from ticketctl.engine.admin import mailboxes, tickettypes
from ticketctl.engine.store.connection import Store

_seq = itertools.count()


def mail(
    frm: str = "Jane Customer <jane@customer.example>",
    to: str = "support@example.com",
    subject: str = "Printer on fire",
    body: str = "Help, my printer is on fire.\n",
    message_id: str | None = None,
    attachments: list[tuple[str, bytes]] = (),
    **headers: str,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = frm
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate()
    msg["Message-ID"] = message_id or make_msgid(domain="test.example")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    for filename, payload in attachments:
        msg.add_attachment(payload, maintype="application", subtype="octet-stream", filename=filename)
    return bytes(msg)


def deliver(maildir: Path, *raws: bytes) -> list[str]:
    """Deliver into a Maildir the way an MTA does (tmp/ then rename into new/); returns file names."""
    names = []
    for raw in raws:
        name = f"{time.time_ns()}.M{next(_seq)}P{os.getpid()}.test"
        (maildir / "tmp" / name).write_bytes(raw)
        os.rename(maildir / "tmp" / name, maildir / "new" / name)
        names.append(name)
    return names


def waiting(maildir: Path) -> list[str]:
    return sorted(os.listdir(maildir / "new")) + sorted(os.listdir(maildir / "cur"))


def add_question_type(
    store: Store, mailbox: str, name: str = "Support", domain: str = "example.com", **fields: object
) -> None:
    """A question type `name` reading `mailbox`, for <name>@<domain>, handled by lead@<domain>."""
    tickettypes.add(
        store,
        **{
            "name": name,
            "task": "simple_storage",
            "email_to": [f"{name.lower()}@{domain}"],
            "workflow_tag": name,
            "mailbox": mailbox,
            "admin_email": f"lead@{domain}",
            **fields,
        },
    )


def setup_support(store: Store, maildir: Path, **type_fields: object) -> None:
    """A Maildir mailbox 'local' and a question type 'Support' for support@example.com."""
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    mailboxes.add(store, name="local", kind="maildir", maildir_path=str(maildir))
    add_question_type(store, "local", **type_fields)
