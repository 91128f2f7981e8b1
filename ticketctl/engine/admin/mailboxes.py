"""Mailboxes: where mail is read from. Add, list, show, edit and remove, with validation."""

from __future__ import annotations

import dataclasses
from typing import Any

from ticketctl.engine.errors import ConfigError, InUse, NotFound
from ticketctl.engine.store import mailboxes
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.mailboxes import Mailbox

KINDS = ("imap", "pop3", "maildir")
SECURITIES = ("ssl", "starttls", "none")
AUTHS = ("password", "oauth2")
PROVIDERS = ("microsoft",)
DEFAULT_PORTS = {
    ("imap", "ssl"): 993,
    ("imap", "starttls"): 143,
    ("imap", "none"): 143,
    ("pop3", "ssl"): 995,
    ("pop3", "starttls"): 110,
    ("pop3", "none"): 110,
}

EDITABLE = tuple(
    f.name
    for f in dataclasses.fields(Mailbox)
    if f.name
    not in (
        "id",
        "created_at",
        "updated_at",
        "last_run_at",
        "last_success_at",
        "last_error",
        "failed_runs",
        "oauth_state",
    )
)


def get(store: Store, name: str) -> Mailbox:
    return mailboxes.named(store, name)


def get_by_id(store: Store, mailbox_id: int) -> Mailbox:
    found = mailboxes.get_by_id(store, mailbox_id)
    if found is None:
        raise NotFound(f"There is no mailbox with id {mailbox_id}.")
    return found


def list_all(store: Store) -> list[Mailbox]:
    return mailboxes.list_all(store)


def add(store: Store, **fields: Any) -> Mailbox:
    """Create a mailbox from `fields` (names as in Mailbox); returns it as stored."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ConfigError(f"Unknown mailbox field(s): {', '.join(sorted(unknown))}.")
    base = {f.name: f.default for f in dataclasses.fields(Mailbox) if f.name in EDITABLE}
    values = validate({**base, **{k: v for k, v in fields.items() if v is not None}})
    if mailboxes.get(store, values["name"]):
        raise ConfigError(f"A mailbox named '{values['name']}' already exists; choose another name.")
    with store.transaction():
        mailboxes.insert(store, values)
    return get(store, values["name"])


def edit(store: Store, name: str, /, **changes: Any) -> Mailbox:
    """Change the given fields of a mailbox; a None value leaves a field as it is."""
    current = get(store, name)
    changes = {k: v for k, v in changes.items() if v is not None}
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ConfigError(f"Unknown mailbox field(s): {', '.join(sorted(unknown))}.")
    merged = {k: getattr(current, k) for k in EDITABLE}
    if "kind" in changes or "security" in changes:
        if merged["port"] == DEFAULT_PORTS.get((merged["kind"], merged["security"])) and "port" not in changes:
            merged["port"] = None  # follow the new default
    merged.update(changes)
    values = validate(merged)
    if values["name"] != name and mailboxes.get(store, values["name"]):
        raise ConfigError(f"A mailbox named '{values['name']}' already exists; choose another name.")
    with store.transaction():
        mailboxes.update(store, current.id, values)
    return get(store, values["name"])


def remove(store: Store, name: str) -> None:
    """Remove an unused mailbox; refuse, naming what uses it, otherwise."""
    mailbox = get(store, name)
    types, tickets, ledger = mailboxes.users(store, mailbox.id)
    users = []
    if types:
        users.append(f"ticket type(s) {', '.join(repr(t) for t in types)}")
    if tickets:
        users.append(f"{tickets} ticket(s)")
    if ledger and not tickets:
        users.append(f"{ledger} processed message(s)")
    if users:
        raise InUse(
            f"Mailbox '{name}' is used by {' and '.join(users)}; "
            "move or remove those first (or set its types inactive)."
        )
    with store.transaction():
        mailboxes.delete(store, mailbox.id)


def validate(values: dict[str, Any]) -> dict[str, Any]:
    """Check a complete set of mailbox fields; return them normalised. Raises ConfigError."""
    v = dict(values)
    if not v.get("name") or not str(v["name"]).strip():
        raise ConfigError("A mailbox needs a name.")
    v["name"] = str(v["name"]).strip()
    _choice(v, "kind", KINDS)
    _choice(v, "security", SECURITIES)
    _choice(v, "auth", AUTHS)
    if v["kind"] == "maildir":
        if not v.get("maildir_path"):
            raise ConfigError("A maildir mailbox needs a path; give it with --path.")
        v["port"] = None
    else:
        if not v.get("host"):
            raise ConfigError(f"An {v['kind']} mailbox needs a host; give it with --host.")
        if not v.get("username"):
            raise ConfigError(f"An {v['kind']} mailbox needs a username; give it with --username.")
        if v.get("port") is None:
            v["port"] = DEFAULT_PORTS[(v["kind"], v["security"])]
        if not isinstance(v["port"], int) or not 1 <= v["port"] <= 65535:
            raise ConfigError(f"Port {v['port']} is not valid; use a number from 1 to 65535.")
    if v["auth"] == "oauth2":
        if v["kind"] == "maildir":
            raise ConfigError("A maildir mailbox has no login; OAuth2 applies to imap and pop3 only.")
        v["oauth_provider"] = v.get("oauth_provider") or "microsoft"
        _choice(v, "oauth_provider", PROVIDERS)
        missing = [k for k in ("tenant_id", "client_id", "client_secret", "redirect_url") if not v.get(k)]
        if missing:
            flags = ", ".join("--" + k.replace("_", "-") for k in missing)
            raise ConfigError(f"An OAuth2 mailbox needs {flags}.")
    if v.get("client_secret_expires_at"):
        v["client_secret_expires_at"] = _date(v["client_secret_expires_at"])
    v["verify_tls"] = bool(v.get("verify_tls", True))
    return v


def _date(value: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise ConfigError(f"'{value}' is not a date; use the form YYYY-MM-DD.") from None


def _choice(values: dict[str, Any], key: str, choices: tuple[str, ...]) -> None:
    if values.get(key) not in choices:
        raise ConfigError(
            f"{key.replace('_', ' ').capitalize()} '{values.get(key)}' is not valid; use one of: {', '.join(choices)}."
        )
