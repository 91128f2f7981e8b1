"""Content-addressed files under the data directory: raw messages and attachments."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

_SHA = re.compile(r"^[0-9a-f]{64}$")


def blob_path(data_dir: Path, kind: str, sha: str) -> Path:
    if not _SHA.match(sha) or kind not in ("raw", "attachments"):
        raise ValueError(f"not a blob name: {kind}/{sha}")
    return data_dir / kind / sha[:2] / sha


def save_blob(data_dir: Path, kind: str, payload: bytes, sha: str | None = None) -> str:
    """Write payload once (temp file, fsync, rename; 0600); return its SHA-256."""
    sha = sha or hashlib.sha256(payload).hexdigest()
    path = blob_path(data_dir, kind, sha)
    if path.exists():
        return sha
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return sha
