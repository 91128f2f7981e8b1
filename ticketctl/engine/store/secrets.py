"""Secrets at rest: what a mailbox's secret columns hold, and the key that seals them.

A secret column (password, client secret, refresh token, the pending OAuth2 sign-in) holds one of:
- a reference, resolved each time the secret is used, so the database holds no secret at all:
  `env:NAME` (an environment variable), `file:/absolute/path` (the file's text, one trailing newline
  dropped) or `credential:NAME` (a systemd credential: `$CREDENTIALS_DIRECTORY/NAME`);
- `sealed:TOKEN`: the value encrypted with Fernet (cryptography: AES-128-CBC with an HMAC-SHA256) under
  the installation's key, which never enters the database. The key is `$TICKETCTL_SECRET_KEY` (one
  key, or several separated by commas: the first seals, any opens) or else the key file (the config's
  `secret_key_file`, by default the database's path with `.key`), created 0600 when the first secret
  is sealed (`ticketctl init` does it);
- `plain:VALUE`: a value stored before secrets were sealed (migration 4); `seal_plain` seals them.

The settings row `secret_key_id` names (by a fingerprint) the key the secrets were sealed with, so a
missing or wrong key is said in one sentence before any secret is tried, and a key is created only for
a database that never had one. `cryptography` is imported on first use.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ticketctl.engine.errors import ConfigError, StoreError
from ticketctl.engine.store import settings
from ticketctl.engine.store.blobs import fsync_dir
from ticketctl.engine.store.connection import Store, make_private_dir

KEY_ENV = "TICKETCTL_SECRET_KEY"
SEALED = "sealed:"
PLAIN = "plain:"
MASK = "********"
REFERENCE_HELP = "env:NAME, file:/absolute/path or credential:NAME (a systemd credential)"
_REFERENCE = re.compile(r"(env:[A-Za-z_][A-Za-z0-9_]*|file:/[^\x00-\x1f]+|credential:[A-Za-z0-9_.@-]+)")
_KEY_ID = "secret_key_id"
_MAX_SECRET_FILE = 64 * 1024


class Secret:
    """One secret as stored. It never shows its value: `repr`, `str` and `shown()` give a mask, or the
    reference (which is no secret); `reveal()` opens the seal or reads the reference, raising a
    TicketctlError sentence that names `what` when it cannot."""

    __slots__ = ("stored", "what", "_keys")

    def __init__(self, stored: str, what: str, keys: Keys | None = None) -> None:
        self.stored, self.what, self._keys = stored, what, keys

    @classmethod
    def given(cls, value: str, what: str = "the secret") -> Secret:
        """A secret held in memory only (not read from the store): reveal() gives `value`."""
        return cls(PLAIN + value, what)

    @property
    def reference(self) -> str | None:
        return None if self.stored.startswith((SEALED, PLAIN)) else self.stored

    def reveal(self) -> str:
        if self.stored.startswith(SEALED):
            if self._keys is None:
                raise AssertionError("a sealed secret read without the store's keys")
            return self._keys.unseal(self.stored, self.what)
        if self.stored.startswith(PLAIN):
            return self.stored[len(PLAIN) :]
        return _resolve(self.stored, self.what)

    def shown(self) -> str:
        return self.reference or MASK

    def __repr__(self) -> str:
        return f"Secret({self.shown()})"

    __str__ = shown

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.stored == self.stored

    def __hash__(self) -> int:
        return hash(self.stored)

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self  # immutable; and its keys hold the store's connection, which cannot be copied


def reference(text: str, what: str) -> Secret:
    """A reference the admin gave (`env:NAME`, `file:/path`, `credential:NAME`), checked for its form."""
    text = text.strip()
    if not _REFERENCE.fullmatch(text):
        raise ConfigError(f"'{text}' is not a reference to {what}; use {REFERENCE_HELP}.")
    return Secret(text, what)


def revealed(secret: Secret | None) -> str | None:
    return None if secret is None else secret.reveal()


def _resolve(ref: str, what: str) -> str:
    scheme, _, name = ref.partition(":")
    if scheme == "env":
        value = os.environ.get(name)
        if not value:
            raise ConfigError(
                f"{_cap(what)} comes from the environment variable {name}, which is not set here; set it "
                "where ticketctl runs (cron's environment too), or change the reference."
            )
        return value
    if scheme == "credential":
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ConfigError(
                f"{_cap(what)} is the systemd credential '{name}', but CREDENTIALS_DIRECTORY is not set; run "
                f"ticketctl from a unit with LoadCredential={name}:FILE, or refer to the file with file:PATH."
            )
        return _read_secret_file(Path(directory) / name, what)
    return _read_secret_file(Path(name), what)


def _read_secret_file(path: Path, what: str) -> str:
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise ConfigError(
            f"{_cap(what)} cannot be read from {path} ({exc.strerror}); check the file and that the user "
            "running ticketctl may read it."
        ) from exc
    text = data.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")
    if not text or len(data) > _MAX_SECRET_FILE:
        raise ConfigError(f"{_cap(what)} should be the text of {path}, but that file is empty or too big.")
    return text


class Keys:
    """The installation's key(s) for one store, read on first use (never shown by `repr`)."""

    def __init__(self, store: Store, key_file: Path | None = None) -> None:
        self._store = store
        self.file = key_file or store.path.with_suffix(".key")
        self._cipher: Any = None

    def __repr__(self) -> str:
        return f"Keys(source={self.source})"

    @property
    def from_env(self) -> bool:
        return bool(os.environ.get(KEY_ENV, "").strip())

    @property
    def source(self) -> str:
        return f"${KEY_ENV}" if self.from_env else f"the key file {self.file}"

    def seal(self, value: str) -> str:
        token: bytes = self.cipher(create=True).encrypt(value.encode("utf-8"))
        return SEALED + token.decode("ascii")

    def unseal(self, stored: str, what: str) -> str:
        from cryptography.fernet import InvalidToken

        cipher = self.cipher(create=False)
        try:
            return str(cipher.decrypt(stored[len(SEALED) :].encode("ascii")).decode("utf-8"))
        except (InvalidToken, UnicodeError):
            raise StoreError(
                f"{_cap(what)} does not open with {self.source}: it was sealed with another key or damaged; "
                "restore the right key, or set the secret again with `ticketctl mailbox edit`."
            ) from None

    def cipher(self, *, create: bool) -> Any:
        """The MultiFernet of the keys. With `create`, a database that never had a key gets a new key
        file; one whose key is missing or wrong is refused in one sentence either way."""
        if self._cipher is not None:
            return self._cipher
        from cryptography.fernet import Fernet, MultiFernet

        keys = self._read()
        recorded = settings.get(self._store, _KEY_ID)
        if not keys:
            if recorded is not None or not create:
                raise self._missing()
            keys = [self._create_file()]
        ids = {_fingerprint(k) for k in keys}
        if recorded is not None and recorded not in ids:
            raise StoreError(
                f"The secrets in {self._store.path} were sealed with another key than {self.source}; "
                "restore the key that belongs to this database (a backup of its key file)."
            )
        if recorded is None and create:
            with self._store.transaction():
                settings.put(self._store, _KEY_ID, _fingerprint(keys[0]))
        self._cipher = MultiFernet([Fernet(k) for k in keys])
        return self._cipher

    def rotate(self, tokens: list[str]) -> list[str]:
        """Make a new primary key (in the key file; from the environment it must be given first) and
        return `tokens` (sealed values) sealed under it. The caller stores them and, in the same
        transaction, `record_primary()`; after the commit, `drop_old()`."""
        self.cipher(create=True)  # the present key must be the right one before anything changes
        if self.from_env:
            if len(self._read()) < 2:
                raise ConfigError(
                    f"The key comes from ${KEY_ENV}: put a new key in front of the old one "
                    f"({KEY_ENV}=NEW,OLD; `openssl rand -base64 32 | tr '+/' '-_'` makes one), run rotate-key, "
                    "then drop the old key."
                )
        else:
            from cryptography.fernet import Fernet

            self._write_file([Fernet.generate_key(), *self._read()])  # both: a crash leaves all readable
        self._cipher = None
        new = self.cipher(create=False)
        return [SEALED + new.rotate(t[len(SEALED) :].encode("ascii")).decode("ascii") for t in tokens]

    def record_primary(self) -> None:
        settings.put(self._store, _KEY_ID, _fingerprint(self._read()[0]))

    def drop_old(self) -> None:
        """After the re-sealed secrets committed, the key file keeps only the new key (from the
        environment, the admin drops the old one)."""
        if not self.from_env:
            self._write_file(self._read()[:1])
        self._cipher = None

    def _missing(self) -> StoreError:
        return StoreError(
            f"The secrets in {self._store.path} are sealed with a key that is not here (${KEY_ENV} is not set "
            f"and there is no key file {self.file}); restore the key file from your backup or set {KEY_ENV}, "
            "or set each secret again with `ticketctl mailbox edit`."
        )

    def _read(self) -> list[bytes]:
        if self.from_env:
            text, where = os.environ[KEY_ENV], f"${KEY_ENV}"
        else:
            try:
                info = self.file.stat()
            except FileNotFoundError:
                return []
            except OSError as exc:
                raise StoreError(
                    f"Cannot read the key file {self.file} ({exc.strerror}); check its permissions."
                ) from exc
            if info.st_mode & 0o077:
                raise StoreError(
                    f"The key file {self.file} may be read by other users; make it private with "
                    f"`chmod 600 {self.file}`."
                )
            try:
                text, where = self.file.read_text(encoding="ascii"), f"the key file {self.file}"
            except (OSError, UnicodeError) as exc:
                raise StoreError(f"Cannot read the key file {self.file} ({exc}); restore it from your backup.") from exc
        keys = [k.encode("ascii") for k in re.split(r"[\s,]+", text) if k and not k.startswith("#")]
        if not keys or not all(_is_key(k) for k in keys):
            raise StoreError(
                f"{_cap(where)} does not hold a key (44 characters of URL-safe base64 each); "
                "restore it from your backup."
            )
        return keys

    def _create_file(self) -> bytes:
        """A new key in a new file (0600); if another process made one meanwhile, that one is used."""
        from cryptography.fernet import Fernet

        key: bytes = Fernet.generate_key()
        try:
            if not self.file.parent.exists():
                make_private_dir(self.file.parent)
            fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            return self._read()[0]
        except OSError as exc:
            raise StoreError(
                f"Cannot create the key file {self.file} ({exc.strerror}); set secret_key_file in the "
                f"configuration to a writable path, or give the key in {KEY_ENV}."
            ) from exc
        _write_all(fd, key)
        return key

    def _write_file(self, keys: list[bytes]) -> None:
        """Replace the key file at once (a new file renamed over it), keys one a line, the first sealing."""
        scratch = self.file.with_name(f".{self.file.name}.new")
        scratch.unlink(missing_ok=True)
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        _write_all(fd, b"\n".join(keys))
        os.replace(scratch, self.file)
        fsync_dir(self.file.parent)


def keys(store: Store) -> Keys:
    """The keys of this store: those `use_key_file` set, else the default key file beside the database."""
    found = store.memo.get("keys")
    if not isinstance(found, Keys):
        found = store.memo["keys"] = Keys(store)
    return found


def use_key_file(store: Store, key_file: Path | None) -> None:
    """Seal and open this store's secrets with `key_file` (the config's `secret_key_file`; None: the default)."""
    store.memo["keys"] = Keys(store, key_file)


def seal(store: Store, value: Secret | str | None) -> str | None:
    """The stored form of a secret about to be written: a new value is sealed, a kept one stays as it is
    (a legacy plain one is sealed now), a reference is stored as itself."""
    if value is None or value == "":
        return None
    if isinstance(value, Secret):
        if not value.stored.startswith(PLAIN):
            return value.stored
        value = value.stored[len(PLAIN) :]
    return keys(store).seal(value)


@contextmanager
def scrubbed(store: Store, *, compact: bool = False) -> Iterator[None]:
    """Writes whose old contents must not survive in the file: SQLite zeroes what they free
    (secure_delete); afterwards, with `compact`, the whole file is rewritten (VACUUM: clear text an older
    version left in free space is gone too; done once, when secrets stored in the clear are sealed), and
    the WAL is checkpointed into the database and truncated."""
    before = int(store.conn.execute("PRAGMA secure_delete").fetchone()[0])
    store.conn.execute("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        store.conn.execute(f"PRAGMA secure_delete = {before}")
    if store.in_transaction:
        return
    if compact:
        store.conn.execute("VACUUM")
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"ticketctl secret key id\x00" + key).hexdigest()[:16]


def _is_key(key: bytes) -> bool:
    import base64
    import binascii

    try:
        return len(base64.urlsafe_b64decode(key)) == 32
    except (binascii.Error, ValueError):
        return False


def _write_all(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as f:
        f.write(data + b"\n")
        f.flush()
        os.fsync(f.fileno())


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
