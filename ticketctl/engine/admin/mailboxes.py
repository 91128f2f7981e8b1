"""Mailboxes: where mail is read from. Add, list, show, edit and remove, with validation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ticketctl.engine.errors import ConfigError, InUse, NotFound
from ticketctl.engine.store.connection import Store, utcnow

KINDS = ("imap", "pop3", "maildir")
SECURITIES = ("ssl", "starttls", "none")
AUTHS = ("password", "oauth2")
PROVIDERS = ("microsoft",)
SECRETS = ("password", "client_secret", "refresh_token", "oauth_state")
MASK = "********"
DEFAULT_PORTS = {
    ("imap", "ssl"): 993,
    ("imap", "starttls"): 143,
    ("imap", "none"): 143,
    ("pop3", "ssl"): 995,
    ("pop3", "starttls"): 110,
    ("pop3", "none"): 110,
}


@dataclass(frozen=True)
class Mailbox:
    id: int
    name: str
    kind: str
    host: str | None = None
    port: int | None = None
    security: str = "ssl"
    verify_tls: bool = True
    ca_file: str | None = None
    username: str | None = None
    auth: str = "password"
    password: str | None = None
    folder: str = "INBOX"
    processed_folder: str | None = None
    maildir_path: str | None = None
    oauth_provider: str | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    client_secret_expires_at: str | None = None
    redirect_url: str | None = None
    refresh_token: str | None = None
    refresh_token_issued_at: str | None = None
    access_token_expires_at: str | None = None
    oauth_state: str | None = None
    last_run_at: str | None = None
    last_success_at: str | None = None
    last_error: str | None = None
    failed_runs: int = 0
    created_at: str = ""
    updated_at: str = ""

    def public(self) -> dict[str, Any]:
        """Every field, with secrets masked: what `show`, `list` and `--json` may print."""
        data = dataclasses.asdict(self)
        for key in SECRETS:
            if data[key]:
                data[key] = MASK
        return data


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


def _from_row(row: Any) -> Mailbox:
    data = dict(row)
    data["verify_tls"] = bool(data["verify_tls"])
    return Mailbox(**data)


def get(store: Store, name: str) -> Mailbox:
    row = store.one("SELECT * FROM mailboxes WHERE name = ?", (name,))
    if row is None:
        raise NotFound(f"There is no mailbox named '{name}'; `ticketctl mailbox list` shows the names.")
    return _from_row(row)


def get_by_id(store: Store, mailbox_id: int) -> Mailbox:
    row = store.one("SELECT * FROM mailboxes WHERE id = ?", (mailbox_id,))
    if row is None:
        raise NotFound(f"There is no mailbox with id {mailbox_id}.")
    return _from_row(row)


def list_all(store: Store) -> list[Mailbox]:
    return [_from_row(r) for r in store.query("SELECT * FROM mailboxes ORDER BY name")]


def add(store: Store, **fields: Any) -> Mailbox:
    """Create a mailbox from `fields` (names as in Mailbox); returns it as stored."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ConfigError(f"Unknown mailbox field(s): {', '.join(sorted(unknown))}.")
    base = {f.name: f.default for f in dataclasses.fields(Mailbox) if f.name in EDITABLE}
    values = validate({**base, **{k: v for k, v in fields.items() if v is not None}})
    if store.one("SELECT 1 FROM mailboxes WHERE name = ?", (values["name"],)):
        raise ConfigError(f"A mailbox named '{values['name']}' already exists; choose another name.")
    now = utcnow()
    with store.transaction():
        store.db["mailboxes"].insert({**values, "created_at": now, "updated_at": now})
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
    if values["name"] != name and store.one("SELECT 1 FROM mailboxes WHERE name = ?", (values["name"],)):
        raise ConfigError(f"A mailbox named '{values['name']}' already exists; choose another name.")
    with store.transaction():
        store.db["mailboxes"].update(current.id, {**values, "updated_at": utcnow()})
    return get(store, values["name"])


def remove(store: Store, name: str) -> None:
    """Remove an unused mailbox; refuse, naming what uses it, otherwise."""
    mailbox = get(store, name)
    types = [
        r["name"]
        for r in store.query("SELECT name FROM ticket_types WHERE mailbox_id = ? ORDER BY name", (mailbox.id,))
    ]
    tickets = store.one("SELECT count(*) AS n FROM tickets WHERE mailbox_id = ?", (mailbox.id,))["n"]
    ledger = store.one("SELECT count(*) AS n FROM ledger WHERE mailbox_id = ?", (mailbox.id,))["n"]
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
    with store.transaction() as conn:
        conn.execute("DELETE FROM runs WHERE mailbox_id = ?", (mailbox.id,))
        conn.execute("DELETE FROM mailboxes WHERE id = ?", (mailbox.id,))


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
