"""The key that seals the stored secrets: made by `ticketctl init`, replaced by `secrets rotate-key`."""

from __future__ import annotations

from dataclasses import dataclass

from ticketctl.engine.store import mailboxes, secrets
from ticketctl.engine.store.connection import Store


@dataclass(frozen=True)
class KeyReport:
    source: str  # "$TICKETCTL_SECRET_KEY" or "the key file PATH"
    from_env: bool
    sealed: int  # secrets sealed (or sealed again) by this command


def prepare(store: Store) -> KeyReport:
    """Make sure the key exists (a new key file for a database that never had one) and seal whatever
    an older version stored in the clear."""
    keys = secrets.keys(store)
    keys.cipher(create=True)
    return KeyReport(keys.source, keys.from_env, mailboxes.seal_plain(store))


def rotate(store: Store) -> KeyReport:
    """Seal every stored secret under a new key and forget the old one."""
    keys = secrets.keys(store)
    count = mailboxes.rotate_key(store)
    return KeyReport(keys.source, keys.from_env, count)
