"""Ticket types ("workflow engine types"): which mail becomes which kind of ticket, and who handles it."""

from __future__ import annotations

import json
import re
from typing import Any

from ticketctl.engine.enums import Task
from ticketctl.engine.errors import ConfigError, InUse, NotFound, typed
from ticketctl.engine.mail import addresses
from ticketctl.engine.store import courses, mailboxes, types
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.types import TicketType

TASKS = tuple(str(t) for t in Task)
_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
SAVE_COLUMNS = ("save_from_column", "save_subject_column", "save_body_column")

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
    "cc_participants",
)


def get(store: Store, name: str) -> TicketType:
    return types.named(store, name)


def get_by_id(store: Store, type_id: int) -> TicketType:
    found = types.get_by_id(store, type_id)
    if found is None:
        raise NotFound(f"There is no ticket type with id {type_id}.")
    return found


def list_all(store: Store, mailbox_id: int | None = None, active_only: bool = False) -> list[TicketType]:
    return types.list_all(store, mailbox_id, active_only)


def add(store: Store, **fields: Any) -> TicketType:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ConfigError(f"Unknown ticket type field(s): {', '.join(sorted(unknown))}.")
    defaults = {"description": "", "active": True, "cc_participants": True}
    values = _validate(store, {**defaults, **{k: v for k, v in fields.items() if v is not None}})
    _check_unique(store, values, own_id=None)
    with store.transaction():
        types.insert(store, values)
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
    _check_courses(store, current, values["task"])
    with store.transaction():
        types.update(store, current.id, values)
    return get(store, values["name"])


def remove(store: Store, name: str) -> TicketType:
    """Remove a type no ticket or course uses; returns what was removed."""
    ticket_type = removable(store, name)
    with store.transaction():
        types.delete(store, ticket_type.id)
    return ticket_type


def removable(store: Store, name: str) -> TicketType:
    """The type, if nothing uses it (to ask before removing it); else InUse naming what does."""
    ticket_type = get(store, name)
    tickets, courses = types.users(store, ticket_type.id)
    users = []
    if tickets:
        users.append(f"{tickets} ticket(s)")
    if courses:
        users.append(f"course(s) {', '.join(repr(c) for c in courses)}")
    if users:
        raise InUse(
            f"Ticket type '{name}' is used by {' and '.join(users)}; "
            f"set it inactive with `ticketctl type edit {typed(name)} --inactive` instead."
        )
    return ticket_type


def _validate(store: Store, v: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    name = str(v.get("name") or "").strip()
    if not name:
        raise ConfigError("A ticket type needs a name.")
    out["name"] = name
    if v.get("task") not in TASKS:
        raise ConfigError(f"Task '{v.get('task')}' is not valid; use one of: {', '.join(TASKS)}.")
    out["task"] = Task(v["task"])
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
    mailbox = mailboxes.get(store, v["mailbox"])
    if mailbox is None:
        raise NotFound(
            f"Ticket type '{name}' names the mailbox '{v['mailbox']}', which does not exist; add it first "
            f"(`ticketctl mailbox add {typed(v['mailbox'])} …`) or pick one of `ticketctl mailbox list`."
        )
    out["mailbox_id"] = mailbox.id
    for key, what in (("admin_email", "the admin email"), ("email_forward", "the email forward")):
        out[key] = addresses.check(v[key], what) if v.get(key) else None
    if out["task"] in (Task.QUESTION, Task.ASSIGNMENT) and not out["admin_email"]:
        raise ConfigError(
            f"A ticket type with the task {out['task']} needs an admin email (who is told what arrives); "
            "give it with --admin-email."
        )
    out["save_table"] = v.get("save_table") or None
    for key in ("save_table", *SAVE_COLUMNS):
        value = v.get(key) or None
        if value is not None and not _IDENTIFIER.match(value):
            raise ConfigError(
                f"'{value}' is not a valid {key.replace('_', ' ')}; use letters, digits and '_', "
                "starting with a letter."
            )
        out[key] = value
    if out["save_table"] and out["save_table"].lower() in types.reserved_tables(store):
        raise ConfigError(f"'{out['save_table']}' is one of ticketctl's own tables; name another save table.")
    if out["save_table"] and not any(out[c] for c in SAVE_COLUMNS):
        raise ConfigError("A save table needs at least one of --save-from, --save-subject, --save-body.")
    if not out["save_table"] and any(out[c] for c in SAVE_COLUMNS):
        raise ConfigError("Save columns need a table; give it with --save-table.")
    out["active"] = 1 if v.get("active", True) else 0
    out["cc_participants"] = 1 if v.get("cc_participants", True) else 0
    return out


def _check_courses(store: Store, ticket_type: TicketType, task: Task) -> None:
    """A type that courses use keeps the task they use it for."""
    for course in courses.list_all(store):
        for used, needs, what in (
            (course.question_type_id, Task.QUESTION, "questions"),
            (course.assignment_type_id, Task.ASSIGNMENT, "assignments"),
        ):
            if used == ticket_type.id and task != needs:
                raise InUse(
                    f"Course {course.code} uses ticket type '{ticket_type.name}' for its {what}, so its task must "
                    f"stay {needs}; give the course another type first with `ticketctl courses edit {course.code}`."
                )


def _check_unique(store: Store, values: dict[str, Any], own_id: int | None) -> None:
    """A name, a tag and (among active types) an address belong to one type: two active types on one
    address would leave it to chance which of them a new mail becomes."""
    same_name = types.get(store, values["name"])
    if same_name and same_name.id != own_id:
        raise ConfigError(f"A ticket type named '{values['name']}' already exists; choose another name.")
    same_tag = types.with_tag(store, values["workflow_tag"])
    if same_tag and same_tag.id != own_id:
        raise ConfigError(
            f"Workflow tag '{values['workflow_tag']}' is already used by type '{same_tag.name}'; "
            "tags must be unique so replies find their ticket."
        )
    if values["active"]:
        wanted = {addresses.routing_key(a): a for a in json.loads(values["email_to"])}
        for other in types.list_all(store, active_only=True):
            taken = [(wanted[key], a) for a in other.email_to if (key := addresses.routing_key(a)) in wanted]
            if other.id != own_id and taken:
                ours, theirs = taken[0]
                same = f" (as {theirs})" if theirs != ours else ""
                raise ConfigError(
                    f"The address {ours} is already read by the active ticket type '{other.name}'{same}; "
                    "a new mail to it could become either type. Use another address, or set that type "
                    f"inactive first (`ticketctl type edit {typed(other.name)} --inactive`)."
                )
