"""The SQLite store: opening (private files, WAL, foreign keys), migrations, transactions.

All SQL of the engine lives in this package, one module per table group (ledger.py, tickets.py,
queue.py, ...); this module owns only the connection. Those modules take the `Store` and run inside the
caller's `store.transaction()` when they write.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ticketctl.engine.errors import StoreError
from ticketctl.engine.store.schema import MIGRATIONS

log = logging.getLogger(__name__)

BUSY_SECONDS = 30  # how long a statement waits for another process's write transaction
IN_CHUNK = 500  # values of one IN list (query_in)
INTAKE_WAL_PAGES = 8000  # 31 MiB of 4 KiB pages
# A run's page cache, KiB. At SQLite's 2,000 a batch's changed pages did not fit: they were spilled into
# the WAL before the commit (and written again by it), and read back from there. At 6,000 the main
# process of a 5,000-message run read 1,080 -> 730 MB and made 322k -> 249k write calls (4,000: 1,000
# MB read); its peak RSS rose by 4 MB (56.7 -> 60.7 MB).
INTAKE_CACHE_KIB = 6000

_T = TypeVar("_T")


_second: tuple[int, str] = (-1, "")  # the last second utcnow() formatted, and how


def utcnow() -> str:
    """The current time as an ISO 8601 UTC string, the one format stored in the database. It names whole
    seconds, so each second is formatted once (a message takes in several rows, each with a time)."""
    global _second
    now = int(time.time())
    if now != _second[0]:
        _second = (now, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)))
    return _second[1]


def make_private_dir(path: Path) -> None:
    """Create a directory and any missing parents, each readable only by its owner. A folder that
    exists already is left as it is: it may be shared (/tmp, a team's folder) and is not ours to lock."""
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask


class Store:
    """One open database. Use `transaction()` for every group of writes that belong together.

    Only `create=True` (what `ticketctl init` does) makes a database that is not there; otherwise a
    missing file raises `NoDatabase`, so a command run in the wrong folder never starts an empty one.
    """

    def __init__(self, path: Path, data_dir: Path, *, create: bool = False) -> None:
        self.path = path
        self.data_dir = data_dir
        self.conn = _connect(path, create)
        self._savepoints = 0
        self.memo: dict[str, Any] = {}  # values that never change once written (the installation secret)
        # Values read or allocated inside the current write transaction (`locked`): no other process
        # writes while it holds the lock, so they hold until it ends, and the module that writes one
        # itself keeps it true (`forget`, or it updates the value). Emptied when the transaction ends and
        # at every ROLLBACK TO: the writes undone may have made them.
        self._locked: dict[Hashable, Any] = {}
        self._writing = False  # inside a transaction() of ours: BEGIN IMMEDIATE, the write lock held
        try:
            make_private_dir(data_dir)
        except OSError as exc:
            raise StoreError(f"Cannot create the data directory {data_dir}: {exc}; check its permissions.") from exc
        self.migrate()

    @property
    def db(self) -> Any:
        """A sqlite_utils.Database over the same connection (imported on first use)."""
        import sqlite_utils

        if not hasattr(self, "_db"):
            self._db = sqlite_utils.Database(self.conn)
        return self._db

    def migrate(self) -> int:
        """Bring the schema to the newest version; returns the version. Safe to call again, and from
        several processes at once: the version is read again inside the write transaction that applies
        the migrations, so a process that waited for another one's upgrade finds nothing left to do."""
        if self._version() == len(MIGRATIONS):
            return len(MIGRATIONS)  # the usual case: no write lock taken
        with self.transaction():
            version = self._version()
            for number in range(version + 1, len(MIGRATIONS) + 1):
                for statement in _split(MIGRATIONS[number - 1]):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number}")
        return len(MIGRATIONS)

    def _version(self) -> int:
        version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise StoreError(
                f"The database {self.path} was made by a newer ticketctl (schema {version}); "
                "upgrade ticketctl to use it."
            )
        return version

    def tune_for_intake(self) -> None:
        """For a processing run, which writes a batch of mail a commit, each message a savepoint, and
        for the background sender beside it: savepoint journals in memory (in a temporary file, each
        savepoint wrote every page it changed there first, 100 write calls a message; a run's
        statements sort nothing large), a page cache a batch's changes fit in (INTAKE_CACHE_KIB), and a
        WAL of up to INTAKE_WAL_PAGES before a checkpoint copies it into the database (fewer copies of
        the pages every batch changes again)."""
        self.conn.execute("PRAGMA temp_store = MEMORY")
        self.conn.execute(f"PRAGMA cache_size = -{INTAKE_CACHE_KIB}")
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {INTAKE_WAL_PAGES}")

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error. Inside another transaction it is a
        SAVEPOINT: an error undoes only its own writes, and nothing is durable before the outer COMMIT."""
        if self.conn.in_transaction:
            with self._savepoint():
                yield self.conn
            return
        self._begin()
        self._writing = True
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        finally:
            self._writing = False
            self._locked.clear()
        self.conn.execute("COMMIT")

    def _begin(self) -> None:
        """BEGIN IMMEDIATE, trying again every millisecond while another process writes (up to
        BUSY_SECONDS). SQLite's own busy wait backs off to 100 ms between tries: a run that commits a
        batch and begins the next within milliseconds would keep its background sender waiting for
        seconds, and the other way round."""
        deadline = None
        self.conn.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                        raise
                    deadline = deadline or time.monotonic() + BUSY_SECONDS
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.001)
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}")

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._locked.clear()
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        self.conn.execute(f"RELEASE {name}")

    def locked(self, key: Hashable, read: Callable[[], _T]) -> _T:
        """`read()`, once per write transaction (see `_locked`); outside one, every time."""
        if not self._writing:
            return read()
        if key not in self._locked:
            self._locked[key] = read()
        return self._locked[key]

    def remember(self, key: Hashable, value: object) -> None:
        """What `locked(key, ...)` answers for the rest of this write transaction (nothing outside one)."""
        if self._writing:
            self._locked[key] = value

    def recalled(self, key: Hashable) -> Any:
        """What this write transaction remembers under `key`, or None."""
        return self._locked.get(key) if self._writing else None

    def forget(self, kind: str) -> None:
        """This process writes what values of `kind` (the first item of their key) say: read them again."""
        for key in [k for k in self._locked if isinstance(k, tuple) and k[:1] == (kind,)]:
            del self._locked[key]

    def query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def query_in(self, sql: str, values: Sequence[Any], before: Sequence[Any] = ()) -> Iterator[sqlite3.Row]:
        """The rows of `sql` whose `{marks}` is the IN list of `values`, run IN_CHUNK values at a time
        (SQLite bounds how many parameters a statement may bind); `before` binds what comes first."""
        for start in range(0, len(values), IN_CHUNK):
            part = list(values[start : start + IN_CHUNK])
            yield from self.conn.execute(sql.replace("{marks}", ", ".join("?" * len(part))), [*before, *part])

    def execute_in(self, sql: str, values: Sequence[Any], before: Sequence[Any] = ()) -> None:
        """`query_in` for a statement whose rows are not wanted (an UPDATE or DELETE)."""
        for _ in self.query_in(sql, values, before):
            pass

    def one(self, sql: str, params: Any = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def close(self) -> None:
        self.conn.close()


def _connect(path: Path, create: bool) -> sqlite3.Connection:
    try:
        if not path.exists():
            if not create:
                raise NoDatabase(path)
            make_private_dir(path.parent)
            try:
                os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
                os.chmod(path, 0o600)  # the umask may have taken bits of the owner's
            except FileExistsError:
                pass  # another process made it meanwhile: theirs, as it is
        _warn_if_shared(path)
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_SECONDS)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}")
    except (OSError, sqlite3.DatabaseError) as exc:
        raise StoreError(f"Cannot open the database {path}: {exc}; check the path and its permissions.") from exc
    return conn


class NoDatabase(StoreError):
    """There is no database file at the path, and the caller did not ask to create one."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"There is no database at {path}; `ticketctl init` creates it.")
        self.path = path


def _warn_if_shared(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "The database %s can be read or written by other users (mode %04o); it holds the mail and "
            "the mailbox passwords: `chmod 600 %s` unless that is what you want.",
            path,
            mode,
            path,
        )


def _split(script: str) -> list[str]:
    """Split a migration into statements (sqlite3.complete_statement knows where one ends)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return [s for s in statements if s]
