"""Where the raw bytes of each message taken in are kept.

A message up to INLINE_MAX bytes goes into the `raw_messages` table, inside the transaction that records
it: it is durable with that one commit (a batch of small messages costs one fsync, not a file, a rename
and two fsyncs each). A bigger one is a content-addressed file under the data directory (blobs.py), so
it never has to pass through SQLite in one piece. Either way it is stored once per SHA-256.
"""

from __future__ import annotations

from pathlib import Path

from ticketctl.engine.store import blobs
from ticketctl.engine.store.connection import Store

INLINE_MAX = 1024 * 1024


def keep(
    store: Store, sha: str, raw: bytes, spool: Path | None = None, spool_size: int = 0
) -> tuple[int | None, str | None]:
    """Store the message's bytes (once) and return where: (raw_messages id, None) or (None, path under
    the data directory). A message spooled to the file `spool` while it downloaded is linked into place."""
    data_dir = store.data_dir
    if spool is not None or len(raw) > INLINE_MAX:
        if spool is not None:
            blobs.save_blob_file(data_dir, "raw", spool, sha, spool_size)
        else:
            blobs.save_blob(data_dir, "raw", raw)
        return None, str(blobs.blob_path(data_dir, "raw", sha).relative_to(data_dir))
    row = store.one(
        "INSERT INTO raw_messages (sha256, data) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING RETURNING id", (sha, raw)
    ) or store.one("SELECT id FROM raw_messages WHERE sha256 = ?", (sha,))  # kept already: the same bytes
    assert row is not None
    return int(row[0]), None


def read(store: Store, raw_id: int | None, raw_path: str | None, limit: int = -1) -> bytes | None:
    """The bytes kept for a ledger row (its raw_id and raw_path; the first `limit` of them), or None when
    none were kept."""
    if raw_id is not None:
        if limit < 0:
            found = store.one("SELECT data FROM raw_messages WHERE id = ?", (raw_id,))
        else:
            found = store.one("SELECT substr(data, 1, ?) FROM raw_messages WHERE id = ?", (limit, raw_id))
        return bytes(found[0]) if found else None
    if raw_path is not None:
        with (store.data_dir / raw_path).open("rb") as f:
            return f.read(limit)
    return None
