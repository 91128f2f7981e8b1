"""POP3 with the standard library: LIST/UIDL, RETR, DELE; uids are the server's UIDL strings.

DELE only marks a message; the server removes marked messages when the session ends with QUIT
(`close`). `abort` sends RSET and drops the connection without QUIT, so nothing marked in this
session is removed (RFC 1939: no UPDATE state without QUIT). POP3 has no folders: `set_aside` leaves
the message on the server.
"""

from __future__ import annotations

import base64
import poplib
from pathlib import Path
from typing import Any

from ticketctl.engine.config import LimitsConfig
from ticketctl.engine.errors import SourceError, typed
from ticketctl.engine.intake.sources import SPOOL_BYTES, Fetched, OneAtATime, SpoolWriter, Waiting
from ticketctl.engine.intake.sources.net import access_token, guarded, login_refused, tls_context
from ticketctl.engine.oauth.tokens import AccessTokenSource
from ticketctl.engine.store.mailboxes import Mailbox
from ticketctl.engine.store.secrets import revealed

MAX_LINE = 1024 * 1024  # poplib's 2048-byte line limit refuses real mail with long lines


class _LongLines:
    """poplib's line reader with a larger limit (its own reads a module constant)."""

    file: Any

    def _getline(self) -> tuple[bytes, int]:
        line = self.file.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise poplib.error_proto("line too long")
        if not line:
            raise EOFError("the server closed the connection")
        octets = len(line)
        if line[-2:] == b"\r\n":
            return line[:-2], octets
        if line[:1] == b"\r":
            return line[1:-1], octets
        return line[:-1], octets


class _POP3(_LongLines, poplib.POP3):
    pass


class _POP3SSL(_LongLines, poplib.POP3_SSL):
    pass


class Pop3Source(OneAtATime):
    def __init__(
        self,
        mailbox: Mailbox,
        limits: LimitsConfig,
        tokens: AccessTokenSource | None,
        *,
        spool_dir: Path | None = None,
    ) -> None:
        self.mailbox = mailbox
        self.limits = limits
        self.spool_dir = spool_dir
        self._numbers: dict[str, int] = {}
        self._sizes: dict[str, int] = {}
        self.pop = _connect(mailbox, limits)
        try:
            self._login(tokens)
        except BaseException:
            _drop(self.pop)
            raise

    # --- the Source interface ---
    def waiting(self) -> list[Waiting]:
        with self._guard("listing messages"):
            uidl = self.pop.uidl()[1]
            sizes = self.pop.list()[1]
        by_number = {int(n): int(s) for n, s in (line.split()[:2] for line in sizes)}
        waiting = []
        self._numbers.clear()
        for line in uidl:
            number_text, uid_bytes = line.split()[:2]
            number, uid = int(number_text), uid_bytes.decode("ascii", "replace")
            if number not in by_number:
                continue
            self._numbers[uid] = number
            self._sizes[uid] = by_number[number]
            waiting.append(Waiting(uid, by_number[number]))
        return waiting

    def fetch(self, uid: str, max_bytes: int) -> Fetched:
        number = self._number(uid)
        size = self._sizes[uid]
        with self._guard(f"fetching message {uid}"):
            if size > max_bytes:
                lines = self.pop.top(number, 0)[1]
                return Fetched(uid, size, None, _join(lines))
            if size > SPOOL_BYTES:
                return self._retr_spooled(uid, number)
            raw = _join(self.pop.retr(number)[1])
        return Fetched(uid, len(raw), raw)

    def dispose(self, uid: str) -> None:
        """Mark for deletion; the server deletes at `close` (QUIT)."""
        number = self._number(uid)
        with self._guard(f"deleting message {uid}"):
            self.pop.dele(number)
        self._numbers.pop(uid, None)

    def set_aside(self, uid: str, again: bool = False) -> None:
        """POP3 has nowhere to move a message to: it stays on the server."""

    def close(self) -> None:
        try:
            with self._guard("ending the session (QUIT), which applies the deletions"):
                self.pop.quit()
        finally:
            _drop(self.pop)

    def abort(self) -> None:
        try:
            self.pop.rset()
        except Exception:  # noqa: S110 - the connection may be gone already; then nothing is applied
            pass
        _drop(self.pop)

    # --- steps ---
    def _guard(self, doing: str) -> Any:
        return guarded(self.mailbox, self.limits, doing)

    def _retr_spooled(self, uid: str, number: int) -> Fetched:
        """RETR read line by line into a spool file, as poplib's `retr` would join them (dot-unstuffed,
        CRLF line ends), without its list of every line of the message."""
        pop: Any = self.pop
        with SpoolWriter(self.spool_dir) as out:
            pop._putcmd(f"RETR {number}")
            pop._getresp()  # raises error_proto on -ERR
            while True:
                line = pop._getline()[0]
                if line == b".":
                    break
                out.write((line[1:] if line.startswith(b"..") else line) + b"\r\n")
            spool = out.finish()
        return Fetched(uid, spool.size, None, spool=spool)

    def _number(self, uid: str) -> int:
        if uid not in self._numbers:
            self.waiting()
        if uid not in self._numbers:
            raise SourceError(f"Mailbox '{self.mailbox.name}': message {uid} is no longer on the server.")
        return self._numbers[uid]

    def _login(self, tokens: AccessTokenSource | None) -> None:
        mailbox = self.mailbox
        with self._guard("logging in"):
            try:
                if mailbox.auth == "oauth2":
                    xoauth2(self.pop, mailbox.username or "", access_token(mailbox, tokens))
                else:
                    self.pop.user(mailbox.username or "")
                    self.pop.pass_(revealed(mailbox.password) or "")
            except poplib.error_proto as exc:
                raise login_refused(mailbox, exc.args[0] if exc.args else exc) from exc


def xoauth2(pop: poplib.POP3, user: str, token: str) -> bytes:
    """SASL XOAUTH2 in the two-step form Microsoft requires: `AUTH XOAUTH2`, wait for `+`, then the
    base64 string on its own line. A failure comes as a `+ <base64 JSON>` challenge that must be
    answered with an empty line before the server says -ERR. poplib has no SASL, hence its
    internal line methods."""
    secret = base64.b64encode(f"user={user}\x01auth=Bearer {token}\x01\x01".encode()).decode("ascii")
    pop._putcmd("AUTH XOAUTH2")  # type: ignore[attr-defined]
    line = pop._getline()[0]  # type: ignore[attr-defined]
    if not line.startswith(b"+") or line.startswith(b"+OK"):
        raise poplib.error_proto(line)
    pop._putline(secret.encode("ascii"))  # type: ignore[attr-defined]  # _putcmd would log the token
    line = pop._getline()[0]  # type: ignore[attr-defined]
    if line.startswith(b"+") and not line.startswith(b"+OK"):
        pop._putcmd("")  # type: ignore[attr-defined]
        line = pop._getline()[0]  # type: ignore[attr-defined]
    if not line.startswith(b"+OK"):
        raise poplib.error_proto(line)
    return line


def _join(lines: list[bytes]) -> bytes:
    """poplib returns lines without their CRLF and already dot-unstuffed; put the CRLFs back."""
    return b"".join(line + b"\r\n" for line in lines)


def _connect(mailbox: Mailbox, limits: LimitsConfig) -> poplib.POP3:
    host, port = mailbox.host or "", mailbox.port or 0
    with guarded(mailbox, limits, "connecting", connecting=True):
        if mailbox.security == "ssl":
            pop: poplib.POP3 = _POP3SSL(host, port, timeout=limits.connect_timeout, context=tls_context(mailbox))
        else:
            pop = _POP3(host, port, timeout=limits.connect_timeout)
    try:
        pop.sock.settimeout(limits.read_timeout)
        if mailbox.security == "starttls":
            with guarded(mailbox, limits, "starting TLS", connecting=True):
                if "STLS" not in pop.capa():
                    raise SourceError(
                        f"Mailbox '{mailbox.name}': {host}:{port} does not offer STARTTLS (STLS); "
                        f"use `ticketctl mailbox edit {typed(mailbox.name)} --security ssl --port 995` (the TLS port), "
                        "or check the port."
                    )
                pop.stls(tls_context(mailbox))
    except BaseException:
        _drop(pop)
        raise
    return pop


def _drop(pop: poplib.POP3) -> None:
    """Close the socket without QUIT; a socket a failed TLS handshake already took is fine too."""
    try:
        pop.close()
    except OSError:
        pass
