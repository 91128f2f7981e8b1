"""Ticket types ("workflow engine types"): which mail becomes which kind of ticket, and who handles it."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from ticketctl.engine.admin import mailboxes
from ticketctl.engine.errors import ConfigError, InUse, NotFound
from ticketctl.engine.mail import addresses
from ticketctl.engine.store.connection import Store, utcnow

TASKS = ("simple_storage", "assignment", "bounce_back")
_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
SAVE_COLUMNS = ("save_from_column", "save_subject_column", "save_body_column")


@dataclass(frozen=True)
class TicketType:
    id: int
    name: str
    task: str
    email_to: tuple[str, ...]
    workflow_tag: str
    mailbox_id: int
    mailbox: str
    description: str = ""
    admin_email: str | None = None
    email_forward: str | None = None
    save_table: str | None = None
    save_from_column: str | None = None
    save_subject_column: str | None = None
    save_body_column: str | None = None
    active: bool = True
    created_at: str = ""
    updated_at: str = ""

    def public(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["email_to"] = list(self.email_to)
        return data


EDITABLE = (
    "name",
    "task",
    "description",
    "email_to",
    "workflow_tag",
    "mailbox",
    "admin_email",
    "email_forward",
    "save_table",
    *SAVE_COLUMNS,
    "active",
)

_SELECT = "SELECT t.*, m.name AS mailbox FROM ticket_types t JOIN mailboxes m ON m.id = t.mailbox_id"


def _from_row(row: Any) -> TicketType:
    data = dict(row)
    data["email_to"] = tuple(json.loads(data["email_to"]))
    data["active"] = bool(data["active"])
    return TicketType(**data)


def get(store: Store, name: str) -> TicketType:
    row = store.one(f"{_SELECT} WHERE t.name = ?", (name,))
    if row is None:
        raise NotFound(f"There is no ticket type named '{name}'; `ticketctl type list` shows the names.")
    return _from_row(row)


def get_by_id(store: Store, type_id: int) -> TicketType:
    row = store.one(f"{_SELECT} WHERE t.id = ?", (type_id,))
    if row is None:
        raise NotFound(f"There is no ticket type with id {type_id}.")
    return _from_row(row)


def list_all(store: Store, mailbox_id: int | None = None, active_only: bool = False) -> list[TicketType]:
    where, params = [], []
    if mailbox_id is not None:
        where.append("t.mailbox_id = ?")
        params.append(mailbox_id)
    if active_only:
        where.append("t.active = 1")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return [_from_row(r) for r in store.query(f"{_SELECT}{clause} ORDER BY t.name", params)]


def add(store: Store, **fields: Any) -> TicketType:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ConfigError(f"Unknown ticket type field(s): {', '.join(sorted(unknown))}.")
    values = _validate(store, {"description": "", "active": True, **{k: v for k, v in fields.items() if v is not None}})
    _check_unique(store, values, own_id=None)
    now = utcnow()
    with store.transaction():
        store.db["ticket_types"].insert({**values, "created_at": now, "updated_at": now})
    return get(store, values["name"])


def edit(store: Store, name: str, /, **changes: Any) -> TicketType:
    current = get(store, name)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ConfigError(f"Unknown ticket type field(s): {', '.join(sorted(unknown))}.")
    merged = {k: getattr(current, k) for k in EDITABLE}
    merged.update({k: v for k, v in changes.items() if v is not None})
    values = _validate(store, merged)
    _check_unique(store, values, own_id=current.id)
    with store.transaction():
        store.db["ticket_types"].update(current.id, {**values, "updated_at": utcnow()})
    return get(store, values["name"])


def remove(store: Store, name: str) -> None:
    ticket_type = get(store, name)
    tickets = store.one("SELECT count(*) AS n FROM tickets WHERE type_id = ?", (ticket_type.id,))["n"]
    courses = [
        r["name"]
        for r in store.query(
            "SELECT name FROM courses WHERE question_type_id = ? OR assignment_type_id = ? ORDER BY name",
            (ticket_type.id, ticket_type.id),
        )
    ]
    users = []
    if tickets:
        users.append(f"{tickets} ticket(s)")
    if courses:
        users.append(f"course(s) {', '.join(repr(c) for c in courses)}")
    if users:
        raise InUse(
            f"Ticket type '{name}' is used by {' and '.join(users)}; "
            "set it inactive with `ticketctl type edit --inactive` instead."
        )
    with store.transaction() as conn:
        conn.execute("DELETE FROM ticket_types WHERE id = ?", (ticket_type.id,))


def _validate(store: Store, v: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    name = str(v.get("name") or "").strip()
    if not name:
        raise ConfigError("A ticket type needs a name.")
    out["name"] = name
    if v.get("task") not in TASKS:
        raise ConfigError(f"Task '{v.get('task')}' is not valid; use one of: {', '.join(TASKS)}.")
    out["task"] = v["task"]
    out["description"] = str(v.get("description") or "")
    email_to = v.get("email_to") or ()
    if isinstance(email_to, str):
        email_to = [a for a in re.split(r"[,\s]+", email_to) if a]
    if not email_to:
        raise ConfigError("A ticket type needs at least one 'email to' address; give it with --email-to.")
    out["email_to"] = json.dumps(sorted({addresses.check(a, "email to") for a in email_to}))
    tag = str(v.get("workflow_tag") or "")
    if not _TAG.match(tag):
        raise ConfigError(
            f"Workflow tag '{tag}' is not valid; use one word of letters, digits, '-' or '_' "
            "(it goes into subjects as [Tag #ticket-log])."
        )
    out["workflow_tag"] = tag
    if not v.get("mailbox"):
        raise ConfigError("A ticket type needs a mailbox; give it with --mailbox.")
    out["mailbox_id"] = mailboxes.get(store, v["mailbox"]).id
    for key, what in (("admin_email", "the admin email"), ("email_forward", "the email forward")):
        out[key] = addresses.check(v[key], what) if v.get(key) else None
    if out["task"] == "simple_storage" and not out["admin_email"]:
        raise ConfigError("A simple_storage ticket type needs an admin email; give it with --admin-email.")
    out["save_table"] = v.get("save_table") or None
    for key in ("save_table", *SAVE_COLUMNS):
        value = v.get(key) or None
        if value is not None and not _IDENTIFIER.match(value):
            raise ConfigError(
                f"'{value}' is not a valid {key.replace('_', ' ')}; use letters, digits and '_', "
                "starting with a letter."
            )
        out[key] = value
    if out["save_table"] and out["save_table"].lower() in _reserved_tables(store):
        raise ConfigError(f"'{out['save_table']}' is one of ticketctl's own tables; name another save table.")
    if out["save_table"] and not any(out[c] for c in SAVE_COLUMNS):
        raise ConfigError("A save table needs at least one of --save-from, --save-subject, --save-body.")
    if not out["save_table"] and any(out[c] for c in SAVE_COLUMNS):
        raise ConfigError("Save columns need a table; give it with --save-table.")
    out["active"] = 1 if v.get("active", True) else 0
    return out


def _check_unique(store: Store, values: dict[str, Any], own_id: int | None) -> None:
    row = store.one("SELECT id FROM ticket_types WHERE name = ?", (values["name"],))
    if row and row["id"] != own_id:
        raise ConfigError(f"A ticket type named '{values['name']}' already exists; choose another name.")
    row = store.one("SELECT name, id FROM ticket_types WHERE workflow_tag = ?", (values["workflow_tag"],))
    if row and row["id"] != own_id:
        raise ConfigError(
            f"Workflow tag '{values['workflow_tag']}' is already used by type '{row['name']}'; "
            "tags must be unique so replies find their ticket."
        )


def _reserved_tables(store: Store) -> set[str]:
    from ticketctl.engine.store.schema import MIGRATIONS

    return {m.lower() for m in re.findall(r"CREATE TABLE (\w+)", "".join(MIGRATIONS))} | {
        r["name"].lower() for r in store.query("SELECT name FROM sqlite_master WHERE name LIKE 'sqlite%'")
    }
