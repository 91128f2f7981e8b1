"""The `mailboxes` table with what hangs off a mailbox: its runs and its OAuth2 tokens.

Its secret columns (`SECRETS`) are read as `Secret`s and sealed on the way in (store/secrets.py): no
password, client secret or token is ever written to the database in the clear."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from ticketctl.engine.errors import NotFound
from ticketctl.engine.store import secrets
from ticketctl.engine.store.connection import Store, utcnow
from ticketctl.engine.store.secrets import Secret

# column: how its errors name it
SECRETS = {
    "password": "password",
    "client_secret": "client secret",
    "refresh_token": "OAuth2 refresh token",
    "oauth_state": "pending OAuth2 sign-in",
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
    allow_cleartext: bool = False
    ca_file: str | None = None
    username: str | None = None
    auth: str = "password"
    password: Secret | None = None
    folder: str = "INBOX"
    processed_folder: str | None = None
    maildir_path: str | None = None
    oauth_provider: str | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    client_secret_expires_at: str | None = None
    redirect_url: str | None = None
    refresh_token: Secret | None = None
    refresh_token_issued_at: str | None = None
    access_token_expires_at: str | None = None
    oauth_state: Secret | None = None
    last_run_at: str | None = None
    last_success_at: str | None = None
    last_error: str | None = None
    failed_runs: int = 0
    backlog_open: bool = False  # a first run's backlog is not taken in completely yet
    created_at: str = ""
    updated_at: str = ""

    def public(self) -> dict[str, Any]:
        """Every field, with secrets masked (a reference is shown): what `show`, `list` and `--json` print."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key in SECRETS:
            if data[key] is not None:
                data[key] = data[key].shown()
        return data

    def __repr__(self) -> str:
        return f"Mailbox(id={self.id}, name={self.name!r}, kind={self.kind!r})"


def _from_row(store: Store, row: Any) -> Mailbox:
    data = dict(row)
    data["verify_tls"] = bool(data["verify_tls"])
    data["backlog_open"] = bool(data["backlog_open"])
    data["allow_cleartext"] = bool(data["allow_cleartext"])
    keys = secrets.keys(store)
    for key, label in SECRETS.items():
        if data[key]:
            data[key] = Secret(data[key], f"the {label} of mailbox '{data['name']}'", keys)
        else:
            data[key] = None
    return Mailbox(**data)


def _sealed(store: Store, values: dict[str, Any]) -> dict[str, Any]:
    return {k: secrets.seal(store, v) if k in SECRETS else v for k, v in values.items()}


def get(store: Store, name: str) -> Mailbox | None:
    row = store.one("SELECT * FROM mailboxes WHERE name = ?", (name,))
    return _from_row(store, row) if row else None


def named(store: Store, name: str) -> Mailbox:
    """The mailbox called `name`, or a NotFound that says how to list them."""
    found = get(store, name)
    if found is None:
        raise NotFound(f"There is no mailbox named '{name}'; `ticketctl mailbox list` shows the names.")
    return found


def get_by_id(store: Store, mailbox_id: int) -> Mailbox | None:
    row = store.one("SELECT * FROM mailboxes WHERE id = ?", (mailbox_id,))
    return _from_row(store, row) if row else None


def list_all(store: Store) -> list[Mailbox]:
    return [_from_row(store, r) for r in store.query("SELECT * FROM mailboxes ORDER BY name")]


def to_process(store: Store) -> list[Mailbox]:
    """Mailboxes with an active ticket type; those with a bounce_back type first (their bounces must be
    known before the other mailboxes' mail is answered), then by name."""
    rows = store.query(
        "SELECT m.*, max(t.task = 'bounce_back') AS bounces FROM mailboxes m"
        " JOIN ticket_types t ON t.mailbox_id = m.id AND t.active = 1"
        " GROUP BY m.id ORDER BY bounces DESC, m.name"
    )
    return [_from_row(store, {k: r[k] for k in r.keys() if k != "bounces"}) for r in rows]


def insert(store: Store, values: dict[str, Any]) -> None:
    now = utcnow()
    store.db["mailboxes"].insert({**_sealed(store, values), "created_at": now, "updated_at": now})


def update(store: Store, mailbox_id: int, values: dict[str, Any]) -> None:
    store.db["mailboxes"].update(mailbox_id, {**_sealed(store, values), "updated_at": utcnow()})


def users(store: Store, mailbox_id: int) -> tuple[list[str], int, int]:
    """What refers to a mailbox: (names of its ticket types, its tickets, its ledger rows)."""
    types = [
        r["name"]
        for r in store.query("SELECT name FROM ticket_types WHERE mailbox_id = ? ORDER BY name", (mailbox_id,))
    ]
    tickets = store.one("SELECT count(*) AS n FROM tickets WHERE mailbox_id = ?", (mailbox_id,))
    ledger = store.one("SELECT count(*) AS n FROM ledger WHERE mailbox_id = ?", (mailbox_id,))
    return types, tickets["n"] if tickets else 0, ledger["n"] if ledger else 0


def delete(store: Store, mailbox_id: int) -> None:
    store.conn.execute("DELETE FROM runs WHERE mailbox_id = ?", (mailbox_id,))
    store.conn.execute("DELETE FROM mailboxes WHERE id = ?", (mailbox_id,))


# --- runs ------------------------------------------------------------------------------------


def start_run(store: Store, mailbox_id: int) -> int:
    cur = store.conn.execute("INSERT INTO runs (mailbox_id, started_at) VALUES (?, ?)", (mailbox_id, utcnow()))
    return int(cur.lastrowid or 0)


def finish_run(store: Store, mailbox_id: int, run_id: int, counts: dict[str, int], error: str | None) -> None:
    now = utcnow()
    store.conn.execute(
        "UPDATE runs SET finished_at = ?, ok = ?, counts = ?, error = ? WHERE id = ?",
        (now, int(error is None), json.dumps(counts), error, run_id),
    )
    if error is not None:
        store.conn.execute(
            "UPDATE mailboxes SET last_run_at = ?, last_error = ?, failed_runs = failed_runs + 1 WHERE id = ?",
            (now, error, mailbox_id),
        )
    else:
        store.conn.execute(
            "UPDATE mailboxes SET last_run_at = ?, last_success_at = ?, last_error = NULL, failed_runs = 0"
            " WHERE id = ?",
            (now, now, mailbox_id),
        )


def set_backlog_open(store: Store, mailbox_id: int, is_open: bool) -> None:
    store.conn.execute("UPDATE mailboxes SET backlog_open = ? WHERE id = ?", (int(is_open), mailbox_id))


@dataclass(frozen=True)
class LastRun:
    finished_at: str | None
    ok: bool | None
    error: str | None


def last_run(store: Store, mailbox_id: int) -> LastRun | None:
    row = store.one(
        "SELECT finished_at, ok, error FROM runs WHERE mailbox_id = ? ORDER BY id DESC LIMIT 1", (mailbox_id,)
    )
    if row is None:
        return None
    return LastRun(row["finished_at"], None if row["ok"] is None else bool(row["ok"]), row["error"])


# --- OAuth2 ----------------------------------------------------------------------------------


def save_oauth_state(store: Store, mailbox_id: int, state: str | None) -> None:
    store.conn.execute("UPDATE mailboxes SET oauth_state = ? WHERE id = ?", (secrets.seal(store, state), mailbox_id))


def save_tokens(
    store: Store,
    mailbox_id: int,
    *,
    refresh_token: Secret | str | None,
    refresh_token_issued_at: str,
    access_token_expires_at: str,
    forget_state: bool,
    now: str,
) -> None:
    store.conn.execute(
        "UPDATE mailboxes SET refresh_token = ?, refresh_token_issued_at = ?, access_token_expires_at = ?,"
        " oauth_state = CASE WHEN ? THEN NULL ELSE oauth_state END, updated_at = ? WHERE id = ?",
        (
            secrets.seal(store, refresh_token),
            refresh_token_issued_at,
            access_token_expires_at,
            forget_state,
            now,
            mailbox_id,
        ),
    )


# --- secrets at rest -------------------------------------------------------------------------


def seal_plain(store: Store) -> int:
    """Seal the secrets stored before sealing existed (migration 4 marked them `plain:`), with the key
    (made now if this database never had one); then the file is rewritten, so no clear text survives in
    it (once per database: the VACUUM takes a while on a big one). Returns how many were sealed."""
    plain = [(i, c, v) for i, c, v in _stored_secrets(store) if v.startswith(secrets.PLAIN)]
    if plain:
        with secrets.scrubbed(store, compact=True), store.transaction():
            for mailbox_id, column, stored in plain:
                _put_secret(store, mailbox_id, column, secrets.seal(store, stored[len(secrets.PLAIN) :]))
    return len(plain)


def plain_count(store: Store) -> tuple[int, int]:
    """(secrets still stored in the clear, secrets sealed), for health checks."""
    stored = [v for _i, _c, v in _stored_secrets(store)]
    return sum(v.startswith(secrets.PLAIN) for v in stored), sum(v.startswith(secrets.SEALED) for v in stored)


def rotate_key(store: Store) -> int:
    """Seal every stored secret under a new key (secrets.Keys.rotate) in one transaction; returns how many."""
    seal_plain(store)
    keys = secrets.keys(store)
    sealed = [(i, c, v) for i, c, v in _stored_secrets(store) if v.startswith(secrets.SEALED)]
    resealed = keys.rotate([v for _i, _c, v in sealed])
    with secrets.scrubbed(store), store.transaction():
        for (mailbox_id, column, _old), stored in zip(sealed, resealed, strict=True):
            _put_secret(store, mailbox_id, column, stored)
        keys.record_primary()
    keys.drop_old()
    return len(sealed)


def _stored_secrets(store: Store) -> list[tuple[int, str, str]]:
    """(mailbox id, column, stored form) of every secret, as the columns hold them."""
    columns = ", ".join(SECRETS)
    found = []
    for row in store.query(f"SELECT id, {columns} FROM mailboxes ORDER BY id"):  # noqa: S608
        found += [(row["id"], key, row[key]) for key in SECRETS if row[key]]
    return found


def _put_secret(store: Store, mailbox_id: int, column: str, stored: str | None) -> None:
    assert column in SECRETS
    store.conn.execute(f"UPDATE mailboxes SET {column} = ? WHERE id = ?", (stored, mailbox_id))  # noqa: S608
