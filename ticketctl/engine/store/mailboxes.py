"""The `mailboxes` table with what hangs off a mailbox: its runs and its OAuth2 tokens."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from ticketctl.engine.errors import NotFound
from ticketctl.engine.store.connection import Store, utcnow

SECRETS = ("password", "client_secret", "refresh_token", "oauth_state")
MASK = "********"


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
    backlog_open: bool = False  # a first run's backlog is not taken in completely yet
    created_at: str = ""
    updated_at: str = ""

    def public(self) -> dict[str, Any]:
        """Every field, with secrets masked: what `show`, `list` and `--json` may print."""
        data = dataclasses.asdict(self)
        for key in SECRETS:
            if data[key]:
                data[key] = MASK
        return data

    def __repr__(self) -> str:
        return f"Mailbox(id={self.id}, name={self.name!r}, kind={self.kind!r})"


def _from_row(row: Any) -> Mailbox:
    data = dict(row)
    data["verify_tls"] = bool(data["verify_tls"])
    data["backlog_open"] = bool(data["backlog_open"])
    return Mailbox(**data)


def get(store: Store, name: str) -> Mailbox | None:
    row = store.one("SELECT * FROM mailboxes WHERE name = ?", (name,))
    return _from_row(row) if row else None


def named(store: Store, name: str) -> Mailbox:
    """The mailbox called `name`, or a NotFound that says how to list them."""
    found = get(store, name)
    if found is None:
        raise NotFound(f"There is no mailbox named '{name}'; `ticketctl mailbox list` shows the names.")
    return found


def get_by_id(store: Store, mailbox_id: int) -> Mailbox | None:
    row = store.one("SELECT * FROM mailboxes WHERE id = ?", (mailbox_id,))
    return _from_row(row) if row else None


def list_all(store: Store) -> list[Mailbox]:
    return [_from_row(r) for r in store.query("SELECT * FROM mailboxes ORDER BY name")]


def to_process(store: Store) -> list[Mailbox]:
    """Mailboxes with an active ticket type; those with a bounce_back type first (their bounces must be
    known before the other mailboxes' mail is answered), then by name."""
    rows = store.query(
        "SELECT m.*, max(t.task = 'bounce_back') AS bounces FROM mailboxes m"
        " JOIN ticket_types t ON t.mailbox_id = m.id AND t.active = 1"
        " GROUP BY m.id ORDER BY bounces DESC, m.name"
    )
    return [_from_row({k: r[k] for k in r.keys() if k != "bounces"}) for r in rows]


def insert(store: Store, values: dict[str, Any]) -> None:
    now = utcnow()
    store.db["mailboxes"].insert({**values, "created_at": now, "updated_at": now})


def update(store: Store, mailbox_id: int, values: dict[str, Any]) -> None:
    store.db["mailboxes"].update(mailbox_id, {**values, "updated_at": utcnow()})


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
    store.conn.execute("UPDATE mailboxes SET oauth_state = ? WHERE id = ?", (state, mailbox_id))


def save_tokens(
    store: Store,
    mailbox_id: int,
    *,
    refresh_token: str | None,
    refresh_token_issued_at: str,
    access_token_expires_at: str,
    forget_state: bool,
    now: str,
) -> None:
    store.conn.execute(
        "UPDATE mailboxes SET refresh_token = ?, refresh_token_issued_at = ?, access_token_expires_at = ?,"
        " oauth_state = CASE WHEN ? THEN NULL ELSE oauth_state END, updated_at = ? WHERE id = ?",
        (refresh_token, refresh_token_issued_at, access_token_expires_at, forget_state, now, mailbox_id),
    )
