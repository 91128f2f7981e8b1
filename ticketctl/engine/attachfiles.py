"""Attachment files, content-addressed under the data directory: `attachments/<sha[:2]>/<sha>`.

A stand-in with the same layout as the message-parsing work's engine/blobs.py (`blob_path`); when both
are on main this module should call that one.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ticketctl.engine.errors import StoreError
from ticketctl.engine.store import make_private_dir


def blob_path(data_dir: Path, sha256: str) -> Path:
    return Path(data_dir) / "attachments" / sha256[:2] / sha256


def save(data_dir: Path, payload: bytes) -> str:
    """Store `payload` once (by its SHA-256) and return the hash; an existing file is kept."""
    sha = hashlib.sha256(payload).hexdigest()
    path = blob_path(data_dir, sha)
    if path.exists():
        return sha
    try:
        make_private_dir(path.parent)
        tmp = path.with_name(f".{sha}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise StoreError(
            f"Cannot store an attachment under {path.parent}: {exc}; check the data directory."
        ) from exc
    return sha


def read(data_dir: Path, sha256: str) -> bytes:
    path = blob_path(data_dir, sha256)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StoreError(
            f"The attachment file {path} cannot be read ({exc.strerror}); restore it from a backup."
        ) from exc
