"""Build mailboxes, types, contacts, tickets, logs, attachments, queue rows, bounces and runs directly
in the store, without the pipeline, so staff commands can be tested on exactly the data they need."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

from ticketctl.engine.store.connection import Store, utcnow

T0 = "2026-01-01T09:00:00Z"
_ids = itertools.count(1)


def _insert(store: Store, table: str, values: dict[str, Any]) -> int:
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    with store.transaction() as conn:
        cur = conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(values.values()))
    return int(cur.lastrowid or 0)


def mailbox(store: Store, name: str = "support", **fields: Any) -> int:
    now = utcnow()
    values = {
        "name": name,
        "kind": "maildir",
        "maildir_path": f"/srv/mail/{name}",
        "last_run_at": now,
        "last_success_at": now,
        "created_at": now,
        "updated_at": now,
    }
    return _insert(store, "mailboxes", {**values, **fields})


def ticket_type(
    store: Store,
    name: str = "Questions",
    tag: str = "Support",
    mailbox_id: int | None = None,
    admin_email: str | None = "admin@example.org",
    email_to: tuple[str, ...] = ("support@example.org",),
    **fields: Any,
) -> int:
    values = {
        "name": name,
        "task": "simple_storage",
        "email_to": json.dumps(list(email_to)),
        "workflow_tag": tag,
        "mailbox_id": mailbox_id or mailbox(store, f"box-{name}"),
        "admin_email": admin_email,
        "created_at": T0,
        "updated_at": T0,
    }
    return _insert(store, "ticket_types", {**values, **fields})


def contact(store: Store, email: str, name: str = "", role: str = "contact") -> int:
    return _insert(store, "contacts", {"email": email, "name": name, "role": role, "created_at": T0})


def ticket(
    store: Store,
    subject: str = "Printer on fire",
    from_email: str = "alice@example.com",
    from_name: str = "Alice",
    at: str = T0,
    **fields: Any,
) -> int:
    values = {
        "subject": subject,
        "from_email": from_email,
        "from_name": from_name,
        "created_at": at,
        "updated_at": at,
    }
    return _insert(store, "tickets", {**values, **fields})


def blob(store: Store, kind: str, payload: bytes) -> str:
    """Write a content-addressed file under the data directory; returns its sha256."""
    sha = hashlib.sha256(payload).hexdigest()
    path = Path(store.data_dir) / kind / sha[:2] / sha
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return sha


def log(
    store: Store,
    ticket_id: int,
    direction: str = "in",
    subject: str = "Printer on fire",
    body: str = "It is burning.",
    raw: bytes | None = None,
    mailbox_id: int | None = None,
    **fields: Any,
) -> int:
    """A ticket log; an incoming one with `raw` also gets its ledger row and stored original."""
    ledger_id = None
    if raw is not None:
        sha = blob(store, "raw", raw)
        ledger_id = _insert(
            store,
            "ledger",
            {
                "mailbox_id": mailbox_id or mailbox(store, f"ledger-box-{ticket_id}-{sha[:8]}"),
                "uid": sha[:12],
                "sha256": sha,
                "size": len(raw),
                "raw_path": f"raw/{sha[:2]}/{sha}",
                "disposition": "new_ticket",
                "rule": "test",
                "reason": "built by the test",
                "ticket_id": ticket_id,
                "received_at": T0,
            },
        )
    values = {
        "ticket_id": ticket_id,
        "direction": direction,
        "from_email": "alice@example.com" if direction == "in" else "ticketctl@localhost",
        "to_email": "support@example.org" if direction == "in" else "alice@example.com",
        "subject": subject,
        "body_text": body,
        "ledger_id": ledger_id,
        "created_at": T0,
    }
    return _insert(store, "ticket_logs", {**values, **fields})


def attachment(store: Store, log_id: int, filename: str, payload: bytes, content_type: str = "application/pdf") -> int:
    sha = blob(store, "attachments", payload)
    values = {
        "log_id": log_id,
        "filename": filename,
        "content_type": content_type,
        "size": len(payload),
        "sha256": sha,
    }
    return _insert(store, "attachments", values)


def queued(store: Store, status: str = "pending", next_attempt_at: str | None = None, **fields: Any) -> int:
    now = utcnow()
    values = {
        "purpose": "reply",
        "from_email": "ticketctl@localhost",
        "to_email": "alice@example.com",
        "subject": "s",
        "body_text": "b",
        "message_id": f"queued-{next(_ids)}@test",
        "status": status,
        "next_attempt_at": next_attempt_at or now,
        "created_at": now,
    }
    return _insert(store, "email_queue", {**values, **fields})


def bounce(store: Store, address: str = "gone@example.com", **fields: Any) -> int:
    values = {"address": address, "status_code": "5.1.1", "diagnostic": "no such user", "created_at": T0}
    return _insert(store, "bounces", {**values, **fields})
