"""The `settings` table: small named values of the installation, among them its one secret."""

from __future__ import annotations

from ticketctl.engine.store.connection import Store


def get(store: Store, key: str) -> str | None:
    row = store.one("SELECT value FROM settings WHERE key = ?", (key,))
    return row["value"] if row else None


def put(store: Store, key: str, value: str) -> None:
    store.conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def installation_secret(store: Store) -> str:
    """The random per-installation secret that signs the Message-IDs and VERP addresses we send (made by
    migration 3). Read once per open store: it never changes."""
    secret = store.memo.get("installation_secret")
    if secret is None:
        secret = get(store, "installation_secret")
        if secret is None:
            raise AssertionError("the installation secret is made by a migration; the schema is incomplete")
        store.memo["installation_secret"] = secret
    return str(secret)
