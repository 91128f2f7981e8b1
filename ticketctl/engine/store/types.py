"""The `ticket_types` table ("workflow engine types")."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from ticketctl.engine.enums import Task
from ticketctl.engine.errors import NotFound
from ticketctl.engine.mail import addresses
from ticketctl.engine.store.connection import Store, utcnow
from ticketctl.engine.store.schema import MIGRATIONS


@dataclass(frozen=True)
class TicketType:
    id: int
    name: str
    task: Task
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
    cc_participants: bool = True  # people the customer copies take part in its tickets
    created_at: str = ""
    updated_at: str = ""

    @property
    def address(self) -> str:
        """The type's own address: where its mail comes from and where answers go back to."""
        return self.email_to[0]

    def public(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["email_to"] = list(self.email_to)
        data["task"] = str(self.task)
        return data


_SELECT = "SELECT t.*, m.name AS mailbox FROM ticket_types t JOIN mailboxes m ON m.id = t.mailbox_id"


def _from_row(row: Any) -> TicketType:
    data = dict(row)
    data["email_to"] = tuple(json.loads(data["email_to"]))
    data["active"] = bool(data["active"])
    data["cc_participants"] = bool(data["cc_participants"])
    data["task"] = Task(data["task"])
    return TicketType(**data)


def get(store: Store, name: str) -> TicketType | None:
    row = store.one(f"{_SELECT} WHERE t.name = ?", (name,))  # noqa: S608
    return _from_row(row) if row else None


def named(store: Store, name: str) -> TicketType:
    """The type called `name`, or a NotFound that says how to list them."""
    found = get(store, name)
    if found is None:
        raise NotFound(f"There is no ticket type named '{name}'; `ticketctl type list` shows the names.")
    return found


def get_by_id(store: Store, type_id: int) -> TicketType | None:
    row = store.one(f"{_SELECT} WHERE t.id = ?", (type_id,))  # noqa: S608
    return _from_row(row) if row else None


def list_all(store: Store, mailbox_id: int | None = None, active_only: bool = False) -> list[TicketType]:
    where, params = [], []
    if mailbox_id is not None:
        where.append("t.mailbox_id = ?")
        params.append(mailbox_id)
    if active_only:
        where.append("t.active = 1")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return [_from_row(r) for r in store.query(f"{_SELECT}{clause} ORDER BY t.name", params)]  # noqa: S608


def with_tag(store: Store, workflow_tag: str) -> TicketType | None:
    row = store.one(f"{_SELECT} WHERE t.workflow_tag = ?", (workflow_tag,))  # noqa: S608
    return _from_row(row) if row else None


def addressed(candidates: list[TicketType], recipients: list[str]) -> TicketType | None:
    """The first of `candidates` whose address is among the recipients (case and +detail ignored)."""
    keys = {addresses.routing_key(r) for r in recipients}
    for ticket_type in candidates:
        if any(addresses.routing_key(a) in keys for a in ticket_type.email_to):
            return ticket_type
    return None


def bounce_address(store: Store) -> str | None:
    """The first address of the active bounce_back type: where VERP envelope senders point. Read once per
    write transaction (a mail written in each); this module's writes of types read it again."""

    def read() -> str | None:
        row = store.one(
            "SELECT email_to FROM ticket_types WHERE task = 'bounce_back' AND active = 1 ORDER BY id LIMIT 1"
        )
        addresses = json.loads(row[0]) if row else []
        return str(addresses[0]) if addresses else None

    return store.locked(("types", "bounce address"), read)


def insert(store: Store, values: dict[str, Any]) -> None:
    now = utcnow()
    store.db["ticket_types"].insert({**values, "created_at": now, "updated_at": now})
    store.forget("types")


def update(store: Store, type_id: int, values: dict[str, Any]) -> None:
    store.db["ticket_types"].update(type_id, {**values, "updated_at": utcnow()})
    store.forget("types")


def users(store: Store, type_id: int) -> tuple[int, list[str]]:
    """What refers to a type: (its tickets, the names of the courses using it)."""
    tickets = store.one("SELECT count(*) AS n FROM tickets WHERE type_id = ?", (type_id,))
    courses = store.query(
        "SELECT name FROM courses WHERE question_type_id = ? OR assignment_type_id = ? ORDER BY name",
        (type_id, type_id),
    )
    return (tickets["n"] if tickets else 0), [r["name"] for r in courses]


def delete(store: Store, type_id: int) -> None:
    store.conn.execute("DELETE FROM ticket_types WHERE id = ?", (type_id,))
    store.forget("types")


def reserved_tables(store: Store) -> set[str]:
    """Table names a save table may not take: ticketctl's own and SQLite's."""
    own = {m.lower() for m in re.findall(r"CREATE TABLE (\w+)", "".join(MIGRATIONS))}
    sqlite = {r["name"].lower() for r in store.query("SELECT name FROM sqlite_master WHERE name LIKE 'sqlite%'")}
    return own | sqlite
