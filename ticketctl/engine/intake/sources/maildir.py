"""A local Maildir: the embedded default, and what a local MTA delivers into.

Reads new/ and cur/; the uid is the file's unique name (the part before ':', which stays the same
when a mail client moves the file from new/ to cur/ and adds flags).
"""

from __future__ import annotations

import os
from pathlib import Path

from ticketctl.engine.errors import SourceError, typed
from ticketctl.engine.intake.sources import SPOOL_BYTES, Fetched, OneAtATime, SpoolWriter, Waiting
from ticketctl.engine.store.mailboxes import Mailbox

COPY_CHUNK = 1024 * 1024


class MaildirSource(OneAtATime):
    def __init__(self, mailbox: Mailbox, *, spool_dir: Path | None = None) -> None:
        self.spool_dir = spool_dir
        self.root = Path(mailbox.maildir_path or "")
        self.processed = mailbox.processed_folder
        if not (self.root / "new").is_dir() or not (self.root / "cur").is_dir():
            raise SourceError(
                f"Mailbox '{mailbox.name}': {self.root} is not a Maildir (it needs new/ and cur/); "
                f"check the path with `ticketctl mailbox edit {typed(mailbox.name)} --path DIR`."
            )
        self._paths: dict[str, Path] = {}

    def waiting(self) -> list[Waiting]:
        found: list[tuple[float, str, Waiting]] = []
        for sub in ("new", "cur"):
            with os.scandir(self.root / sub) as entries:
                for entry in entries:
                    if not entry.is_file() or entry.name.startswith("."):
                        continue
                    uid = entry.name.split(":", 1)[0]
                    stat = entry.stat()
                    self._paths[uid] = Path(entry.path)
                    found.append((stat.st_mtime, entry.name, Waiting(uid, stat.st_size)))
        found.sort(key=lambda t: (t[0], t[1]))
        return [w for _, _, w in found]

    def fetch(self, uid: str, max_bytes: int) -> Fetched:
        path = self._path(uid)
        size = path.stat().st_size
        if size > max_bytes:
            return Fetched(uid, size, None, _read_headers(path))
        if size > SPOOL_BYTES:
            return self._spooled(uid, path)
        return Fetched(uid, size, path.read_bytes())

    def _spooled(self, uid: str, path: Path) -> Fetched:
        """A copy in a spool, like the network sources give: the file itself may be renamed or removed
        by a mail client before the run has stored it."""
        with SpoolWriter(self.spool_dir) as out, path.open("rb") as f:
            while data := f.read(COPY_CHUNK):
                out.write(data)
            spool = out.finish()
        return Fetched(uid, spool.size, None, spool=spool)

    def dispose(self, uid: str) -> None:
        path = self._path(uid)
        if self.processed:
            target = self.root / f".{self.processed}"
            for folder in (target, target / "cur", target / "new", target / "tmp"):
                folder.mkdir(mode=0o700, exist_ok=True)  # private when we make it; an existing one is left alone
            os.replace(path, target / "cur" / path.name)
        else:
            path.unlink(missing_ok=True)
        self._paths.pop(uid, None)

    def set_aside(self, uid: str, again: bool = False) -> None:
        """Messages we could not keep stay where they are; the ledger remembers them."""

    def close(self) -> None:
        self._paths.clear()

    def abort(self) -> None:
        self._paths.clear()

    def _path(self, uid: str) -> Path:
        path = self._paths.get(uid)
        if path is None or not path.exists():
            raise SourceError(f"Message {uid} is no longer in the Maildir {self.root}.")
        return path


def _read_headers(path: Path, limit: int = 256 * 1024) -> bytes:
    """The header block with its closing blank line (as IMAP's BODY[HEADER] and POP3's TOP n 0 give
    it), reading at most `limit` bytes."""
    out = bytearray()
    with path.open("rb") as f:
        for line in f:
            if len(out) > limit:
                break
            out += line
            if line in (b"\r\n", b"\n"):
                break
    return bytes(out)
