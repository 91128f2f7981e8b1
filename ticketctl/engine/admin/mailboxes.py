"""Mailboxes: where mail is read from. Add, list, show, edit and remove, with validation."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from ticketctl.engine.config import Config
from ticketctl.engine.enums import MailboxAuth, MailboxKind, OAuthProvider, Security
from ticketctl.engine.errors import ConfigError, InUse, NotFound, typed
from ticketctl.engine.store import mailboxes, secrets
from ticketctl.engine.store.connection import Store, utcnow
from ticketctl.engine.store.mailboxes import Mailbox

KINDS = tuple(str(k) for k in MailboxKind)
SECURITIES = tuple(str(s) for s in Security)
AUTHS = tuple(str(a) for a in MailboxAuth)
PROVIDERS = tuple(str(p) for p in OAuthProvider)
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
        "backlog_open",
        "oauth_state",
    )
)


@dataclass(frozen=True)
class MailboxCheck:
    """What `mailbox test` (and `mailbox add`) found, and what the next `process` will do with it."""

    mailbox: str
    waiting: int
    total_bytes: int
    after_processing: str  # what becomes of a message on the server once it is recorded
    backlog: str | None  # why the waiting mail will be taken in without notifying anyone, if it will
    read_by: list[str]  # the active ticket types reading it; none: `process` leaves it alone


def check(store: Store, config: Config, name: str) -> MailboxCheck:
    """Connect, log in, open the folder and count what waits (changing nothing); raises SourceError or
    MailboxAuthError with the sentence that says what to fix."""
    from ticketctl.engine.intake.pipeline import default_backlog
    from ticketctl.engine.intake.sources.probe import probe
    from ticketctl.engine.oauth.tokens import token_source
    from ticketctl.engine.store import types

    mailbox = get(store, name)
    tokens = token_source(store, mailbox) if mailbox.auth == "oauth2" else None
    found = probe(mailbox, config.limits, tokens)
    return MailboxCheck(
        mailbox=mailbox.name,
        waiting=found.count,
        total_bytes=found.total_bytes,
        after_processing=after_processing(mailbox),
        backlog=default_backlog(store, config, mailbox, found.count),
        read_by=[t.name for t in types.list_all(store, mailbox.id, active_only=True)],
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
    """Create a mailbox from `fields` (names as in Mailbox, plus `password_ref` and `client_secret_ref`:
    a reference resolved when the secret is used, instead of the secret); returns it as stored."""
    fields = _references(fields, str(fields.get("name") or ""))
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ConfigError(f"Unknown mailbox field(s): {', '.join(sorted(unknown))}.")
    base = {f.name: f.default for f in dataclasses.fields(Mailbox) if f.name in EDITABLE}
    values = validate({**base, **_given(fields)}, editing=False)
    if mailboxes.get(store, values["name"]):
        raise ConfigError(f"A mailbox named '{values['name']}' already exists; choose another name.")
    with store.transaction():
        mailboxes.insert(store, values)
    return get(store, values["name"])


def edit(store: Store, name: str, /, **changes: Any) -> Mailbox:
    """Change the given fields of a mailbox; a None value leaves a field as it is."""
    current = get(store, name)
    changes = _given(_references(changes, name))
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ConfigError(f"Unknown mailbox field(s): {', '.join(sorted(unknown))}.")
    merged = {k: getattr(current, k) for k in EDITABLE}
    if "kind" in changes or "security" in changes:
        if merged["port"] == DEFAULT_PORTS.get((merged["kind"], merged["security"])) and "port" not in changes:
            merged["port"] = None  # follow the new default
    merged.update(changes)
    values = validate(merged, editing=True)
    if values["name"] != name and mailboxes.get(store, values["name"]):
        raise ConfigError(f"A mailbox named '{values['name']}' already exists; choose another name.")
    with store.transaction():
        mailboxes.update(store, current.id, values)
    return get(store, values["name"])


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields given (None: not given); a refresh token brought from elsewhere counts from now."""
    given = {k: v for k, v in fields.items() if v is not None}
    if given.get("refresh_token"):
        given.setdefault("refresh_token_issued_at", utcnow())
    return given


def remove(store: Store, name: str) -> Mailbox:
    """Remove an unused mailbox; refuse, naming what uses it, otherwise. Returns what was removed."""
    mailbox = removable(store, name)
    with store.transaction():
        mailboxes.delete(store, mailbox.id)
    return mailbox


def removable(store: Store, name: str) -> Mailbox:
    """The mailbox, if nothing uses it (to ask before removing it); else InUse naming what does."""
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
    return mailbox


def after_processing(mailbox: Mailbox) -> str:
    """What `ticketctl process` does with a message once the commit that records it is done."""
    if mailbox.processed_folder:
        return f"moves it to the folder '{mailbox.processed_folder}'"
    if mailbox.kind == "pop3":
        return "deletes it from the server (POP3 keeps no folders)"
    where = "the Maildir" if mailbox.kind == "maildir" else "the server"
    hint = f"; `ticketctl mailbox edit {typed(mailbox.name)} --processed-folder FOLDER` moves it there instead"
    return f"deletes it from {where}{hint}"


def describe(mailbox: Mailbox) -> str:
    """`imap support@example.com at imap.example.com:993, folder INBOX`: what a mailbox reads."""
    if mailbox.kind == "maildir":
        return f"the Maildir {mailbox.maildir_path}"
    return f"{mailbox.kind} {mailbox.username} at {mailbox.host}:{mailbox.port}, folder {mailbox.folder}"


def _references(fields: dict[str, Any], name: str) -> dict[str, Any]:
    """`password_ref` / `client_secret_ref` become the secret fields, holding the checked reference."""
    fields = dict(fields)
    for secret, label in (("password", "password"), ("client_secret", "client secret")):
        ref = fields.pop(f"{secret}_ref", None)
        if ref is None:
            continue
        if fields.get(secret) is not None:
            raise ConfigError(f"Give the {label} or a reference to it (--{secret.replace('_', '-')}-ref), not both.")
        fields[secret] = secrets.reference(ref, f"the {label} of mailbox '{name}'")
    return fields


def validate(values: dict[str, Any], editing: bool = False) -> dict[str, Any]:
    """Check a complete set of mailbox fields; return them normalised. Raises ConfigError, whose hint
    is the option to add (`editing`: the whole `ticketctl mailbox edit NAME` command to run)."""
    v = dict(values)
    if not v.get("name") or not str(v["name"]).strip():
        raise ConfigError("A mailbox needs a name.")
    v["name"] = str(v["name"]).strip()

    def give(option: str) -> str:
        return f"`ticketctl mailbox edit {typed(v['name'])} {option}`" if editing else f"add {option} to the command"

    _choice(v, "kind", KINDS)
    _choice(v, "security", SECURITIES)
    _choice(v, "auth", AUTHS)
    if v["kind"] == "maildir":
        if not v.get("maildir_path"):
            raise ConfigError(f"A maildir mailbox needs a path; {give('--path DIR')}.")
        v["port"] = None
    else:
        if not v.get("host"):
            raise ConfigError(f"An {v['kind']} mailbox needs a host; {give('--host HOST')}.")
        if not v.get("username"):
            raise ConfigError(f"An {v['kind']} mailbox needs a username; {give('--username NAME')}.")
        if v.get("port") is None:
            v["port"] = DEFAULT_PORTS[(v["kind"], v["security"])]
        if not isinstance(v["port"], int) or not 1 <= v["port"] <= 65535:
            raise ConfigError(f"Port {v['port']} is not valid; use a number from 1 to 65535.")
    if v["kind"] == "pop3" and v.get("processed_folder"):
        raise ConfigError(
            "POP3 has no folders to move processed mail to: a POP3 mailbox deletes what it took in; "
            "use IMAP to keep processed mail in a folder."
        )
    if v["auth"] == "oauth2":
        if v["kind"] == "maildir":
            raise ConfigError("A maildir mailbox has no login; OAuth2 applies to imap and pop3 only.")
        v["oauth_provider"] = v.get("oauth_provider") or "microsoft"
        _choice(v, "oauth_provider", PROVIDERS)
        missing = [k for k in ("tenant_id", "client_id", "client_secret", "redirect_url") if not v.get(k)]
        if missing:
            flags = ", ".join("--" + k.replace("_", "-") for k in missing)
            hint = f"; {give(' '.join(f'{flag} …' for flag in flags.split(', ')))}" if editing else ""
            raise ConfigError(f"An OAuth2 mailbox needs {flags}{hint}.")
    if v.get("refresh_token") and v["auth"] != "oauth2":
        raise ConfigError("A refresh token belongs to an OAuth2 mailbox; give --auth oauth2 with it.")
    if v.get("processed_folder") is not None:
        v["processed_folder"] = _folder_name(str(v["processed_folder"]))
    _refuse_cleartext(v)
    if v.get("client_secret_expires_at"):
        v["client_secret_expires_at"] = _date(v["client_secret_expires_at"])
    v["verify_tls"] = bool(v.get("verify_tls", True))
    v["allow_cleartext"] = bool(v.get("allow_cleartext", False))
    return v


def _folder_name(name: str) -> str:
    """A processed folder is one folder's name: it becomes `.NAME` inside a Maildir, so a path is refused."""
    name = name.strip()
    if not name or "/" in name or "\\" in name or ".." in name or re.search(r"[\x00-\x1f\x7f]", name):
        raise ConfigError(
            f"The processed folder {name!r} is not a folder name; give one name without '/', '\\', '..' "
            "or control characters, e.g. --processed-folder Processed."
        )
    return name


def _refuse_cleartext(v: dict[str, Any]) -> None:
    """A password or token sent without TLS can be read on the way, except to this machine itself."""
    if v["kind"] == "maildir" or v["security"] != "none" or v.get("allow_cleartext"):
        return
    if not (v["auth"] == "oauth2" or v.get("password")) or _loopback(str(v.get("host") or "")):
        return
    what = "an OAuth2 token" if v["auth"] == "oauth2" else "the password"
    raise ConfigError(
        f"With --security none, {what} would cross the network to {v['host']} unencrypted; use --security "
        "ssl or starttls, or add --allow-cleartext if the network is trusted."
    )


def _loopback(host: str) -> bool:
    if host.lower().rstrip(".") in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
