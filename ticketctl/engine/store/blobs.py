"""Content-addressed storage of raw messages and attachments under the data directory.

A blob lives at `data_dir/<kind>/<sha[:2]>/<sha>`, where `sha` is the SHA-256 of its bytes, so the
same payload is stored once and a stored file never changes. Writes are atomic (temp file, fsync,
rename) and private (0600 files, 0700 directories); the temporary files are written in
`data_dir/<kind>/.parts/`, where `sweep_parts` finds what a killed process left. Inside
`synced_together()` the fsyncs and renames wait for the end of the block and then run on a few threads
at once, so that a batch of blobs shares the disk's journal commits instead of waiting for one each.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import BinaryIO

from ticketctl.engine.errors import StoreError

KINDS = ("raw", "attachments")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_WRITERS = 8
_pending: ContextVar[dict[Path, Path] | None] = ContextVar("pending_blobs", default=None)  # final path -> temp
COPY_CHUNK = 1024 * 1024
PARTS = ".parts"  # in each kind's folder: temporary files, renamed into place once complete
STALE_PART_SECONDS = 3600  # a writer finishes a part in seconds; one this old was left by a killed process


def blob_path(data_dir: Path, kind: str, sha: str) -> Path:
    """Where the blob `sha` of `kind` lives; refuses anything that is not a known kind and a SHA-256."""
    if kind not in KINDS:
        raise StoreError(f"Unknown blob kind {kind!r}; use one of {', '.join(KINDS)}.")
    if not _SHA256.fullmatch(sha):
        raise StoreError(f"{sha!r} is not a SHA-256 hex digest; blobs are named by their lower-case SHA-256.")
    return Path(data_dir) / kind / sha[:2] / sha


def save_blob(data_dir: Path, kind: str, payload: bytes) -> str:
    """Store `payload` (once) and return its SHA-256; safe to call again with the same bytes."""
    sha = hashlib.sha256(payload).hexdigest()
    path = blob_path(data_dir, kind, sha)
    pending = _pending.get()
    if (pending is not None and path in pending) or (path.is_file() and path.stat().st_size == len(payload)):
        return sha
    _make_private_dirs(Path(data_dir), path.parent)
    tmp = _part(data_dir, kind, f"{sha}.{os.getpid()}")  # unique enough: one writer per process and blob
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if pending is not None:
        pending[path] = tmp
    else:
        _make_durable({path: tmp}, max_workers=1)
    return sha


@contextmanager
def synced_together() -> Iterator[None]:
    """Blobs saved inside the block are on disk under their names when it ends without an error (do
    the commit that refers to them after it); after an error their temp files are removed."""
    pending: dict[Path, Path] = {}
    token = _pending.set(pending)
    try:
        yield
        _make_durable(pending, _WRITERS)
    finally:
        _pending.reset(token)
        for tmp in pending.values():
            tmp.unlink(missing_ok=True)


def _make_durable(pending: dict[Path, Path], max_workers: int) -> None:
    """fsync each temp file, rename it into place, fsync the directories; then forget them."""
    if not pending:
        return

    def settle(item: tuple[Path, Path]) -> Path:
        path, tmp = item
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return path.parent

    if max_workers == 1:
        directories = {settle(item) for item in pending.items()}
        for directory in directories:
            fsync_dir(directory)
    else:
        with ThreadPoolExecutor(max_workers) as pool:
            directories = set(pool.map(settle, pending.items()))
            list(pool.map(fsync_dir, directories))
    pending.clear()


def save_blob_file(data_dir: Path, kind: str, source: Path, sha: str, size: int) -> None:
    """Store the file `source` as blob `sha` without reading it into memory; the caller took its SHA-256
    and size while writing it. A hard link when `source` is on the same file system (spool files are
    0600 too), a copy otherwise; `source` stays where it is, so storing again is harmless."""
    path = blob_path(data_dir, kind, sha)
    if path.is_file() and path.stat().st_size == size:
        return
    _make_private_dirs(Path(data_dir), path.parent)
    with open(source, "rb") as src:
        os.fsync(src.fileno())
        tmp = _part(data_dir, kind, os.urandom(8).hex())
        try:
            try:
                os.link(source, tmp)
            except OSError:
                _copy(src, tmp)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    fsync_dir(path.parent)


def _part(data_dir: Path, kind: str, name: str) -> Path:
    """A temporary file's path (in the kind's folder, so the rename into place stays on one file system)."""
    folder = Path(data_dir) / kind / PARTS
    if not folder.is_dir():
        _make_private_dirs(Path(data_dir), folder)
    return folder / f"{name}.part"


def sweep_parts(data_dir: Path) -> int:
    """Remove the temporary files killed processes left behind (older than STALE_PART_SECONDS; a live
    writer's are younger); returns how many. One small folder per kind is read, not the store."""
    cutoff = time.time() - STALE_PART_SECONDS
    removed = 0
    for kind in KINDS:
        try:
            with os.scandir(Path(data_dir) / kind / PARTS) as entries:
                for entry in entries:
                    if entry.name.endswith(".part") and entry.stat().st_mtime < cutoff:
                        Path(entry.path).unlink(missing_ok=True)
                        removed += 1
        except FileNotFoundError:
            continue
    return removed


def _copy(src: BinaryIO, target: Path) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(src, out, COPY_CHUNK)
        out.flush()
        os.fsync(out.fileno())


def read_blob(data_dir: Path, kind: str, sha: str) -> bytes:
    """The bytes stored under `sha`."""
    path = blob_path(data_dir, kind, sha)
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise _missing(kind, sha, path) from exc


def stored(data_dir: Path, kind: str, sha: str) -> tuple[Path, int]:
    """Where the blob `sha` is and its size, for reading it in pieces."""
    path = blob_path(data_dir, kind, sha)
    try:
        return path, path.stat().st_size
    except FileNotFoundError as exc:
        raise _missing(kind, sha, path) from exc


def _missing(kind: str, sha: str, path: Path) -> StoreError:
    return StoreError(f"The stored {kind} blob {sha} is missing from {path.parent}; restore the data directory.")


def _make_private_dirs(data_dir: Path, leaf: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for directory in (leaf.parent, leaf):
        if not directory.is_dir():
            directory.mkdir(exist_ok=True, mode=0o700)
            os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask


def fsync_dir(directory: Path) -> None:
    """Make the entries of `directory` (a rename into it) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
