"""Contacts: the people mail comes from and goes to, each an address with a name and a role (contact,
lead, student, tutor, admin). Mail creates `contact`s on first sight; staff add, change and import them,
and read one with what the manual shows on its tabs: tickets, assignments, bounces (and courses)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ticketctl.engine.admin import csvrows
from ticketctl.engine.enums import Role
from ticketctl.engine.errors import ConfigError, NotFound
from ticketctl.engine.mail import addresses
from ticketctl.engine.store import assignments, bounces, contacts, courses, tickets
from ticketctl.engine.store.assignments import AssignmentSummary
from ticketctl.engine.store.bounces import BounceView
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.contacts import Contact, NewContact
from ticketctl.engine.store.courses import Enrolment
from ticketctl.engine.store.tickets import TicketSummary

ROLES = tuple(str(r) for r in Role)
SHOWN = 20  # tickets and assignments `show` lists, newest first


def address(value: str, what: str = "the contact") -> str:
    """An address as stored: stripped, lower-cased; anything else is refused naming `what`."""
    return addresses.check(value, what)


def parse_role(value: str) -> Role:
    found = value.strip().lower()
    if found not in ROLES:
        raise ConfigError(f"Role '{value}' is not valid; use one of: {', '.join(ROLES)}.")
    return Role(found)


def get(store: Store, email: str) -> Contact:
    """The contact with this address, or a NotFound saying how to list them."""
    found = contacts.find(store, email)
    if found is None:
        raise NotFound(f"There is no contact with the address '{email}'; `ticketctl contacts list` shows them.")
    return found


def list_all(
    store: Store, role: str | None = None, search: str | None = None, limit: int = 50, offset: int = 0
) -> list[Contact]:
    return contacts.list_all(store, parse_role(role) if role else None, search or None, limit, offset)


def add(store: Store, email: str, name: str = "", role: str = "contact") -> Contact:
    new = NewContact(address(email), name.strip(), parse_role(role))
    with store.transaction():
        if contacts.find(store, new.email):
            raise ConfigError(
                f"There is a contact with the address {new.email} already; change it with "
                f"`ticketctl contacts edit {new.email}`."
            )
        contacts.add(store, new)
    return get(store, new.email)


def edit(
    store: Store, email: str, *, new_email: str | None = None, name: str | None = None, role: str | None = None
) -> Contact:
    """Change a contact's address, name or role; what is left as None keeps its value."""
    with store.transaction():
        current = get(store, email)
        new = NewContact(
            address(new_email) if new_email is not None else current.email,
            current.name if name is None else name.strip(),
            parse_role(role) if role is not None else Role(current.role),
        )
        other = contacts.find(store, new.email)
        if other is not None and other.id != current.id:
            raise ConfigError(f"The address {new.email} belongs to another contact already; choose another.")
        contacts.update(store, current.id, new)
    return get(store, new.email)


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int


def import_csv(store: Store, path: Path) -> ImportResult:
    """Add or update the contacts of a CSV file (columns `email`, and optionally `name`, `role`); a row
    with an empty cell keeps what the contact has. One bad row and nothing is imported."""
    problems = csvrows.Problems(path)
    rows = csvrows.read(problems, ("email",), ("name", "role"))
    wanted: dict[str, tuple[str | None, Role | None]] = {}
    first_line: dict[str, int] = {}
    for row in rows:
        try:
            email = address(row.get("email"), "the email column") if row.get("email") else None
            given_role = parse_role(row.get("role")) if row.get("role") else None
        except ConfigError as exc:
            problems.add(row, str(exc).rstrip("."))
            continue
        if email is None:
            problems.add(row, "the email is missing")
        elif email in wanted:
            problems.add(row, f"{email} is on line {first_line[email]} already")
        else:
            wanted[email] = (row.get("name") or None, given_role)
            first_line[email] = row.line
    problems.refuse_any()
    added = updated = 0
    with store.transaction():
        for email, (name, given_role) in wanted.items():
            current = contacts.find(store, email)
            if current is None:
                contacts.add(store, NewContact(email, name or "", given_role or Role.CONTACT))
                added += 1
            else:
                contacts.update(
                    store, current.id, NewContact(email, name or current.name, given_role or Role(current.role))
                )
                updated += 1
    return ImportResult(added, updated)


@dataclass(frozen=True)
class ContactView:
    """A contact with the manual's tabs: tickets, assignments (as student or tutor), bounces, courses."""

    contact: Contact
    tickets: list[TicketSummary]
    more_tickets: bool
    assignments: list[AssignmentSummary]
    more_assignments: bool
    bounces: list[BounceView]
    enrolments: list[Enrolment]


def show(store: Store, email: str, all_bounces: bool = False) -> ContactView:
    """The contact and its tabs; bounces unresolved only (the manual's default) unless `all_bounces`."""
    contact = get(store, email)
    found = tickets.summaries(store, tickets.TicketQuery(contact_id=contact.id), "updated", SHOWN + 1, 0)
    works = assignments.summaries(store, assignments.AssignmentQuery(contact_id=contact.id), SHOWN + 1, 0)
    return ContactView(
        contact=contact,
        tickets=found[:SHOWN],
        more_tickets=len(found) > SHOWN,
        assignments=works[:SHOWN],
        more_assignments=len(works) > SHOWN,
        bounces=bounces.of_contact(store, contact.id, contact.email, unresolved_only=not all_bounces),
        enrolments=courses.enrolments_of(store, contact.id),
    )
