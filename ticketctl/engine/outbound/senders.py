"""The two ways to send a built mail: `directory` (an .eml file per mail, the embedded default) and
`smtp` (smtplib: implicit TLS, STARTTLS or none; password or XOAUTH2). The mail itself is built in
mailbuild.py.

`send` returns the recipients the server refused (a `Refused` each: 4xx for now, 5xx for good); the
others have the mail. A sender raises `MessageRefused` when the server refuses the mail itself (its
content, for every recipient), and `SendError` when nothing can be sent this run (server down, login
refused).
"""

from __future__ import annotations

import itertools
import os
import re
import smtplib
import ssl
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from ticketctl.engine.config import SmtpConfig
from ticketctl.engine.errors import SendError
from ticketctl.engine.outbound.mailbuild import MailData, chunks
from ticketctl.engine.store.blobs import fsync_dir
from ticketctl.engine.store.connection import make_private_dir


@dataclass(frozen=True)
class Refused:
    """Why a recipient (or a whole mail) did not get through: a sentence, whether trying again can
    help, and the server's reply code when it answered."""

    error: str
    permanent: bool
    code: int | None = None


class MessageRefused(SendError):
    """The server refused this one mail for all its recipients; other mails may still go. `permanent`
    for 5xx answers."""

    def __init__(self, message: str, permanent: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code

    @property
    def refused(self) -> Refused:
        return Refused(str(self), self.permanent, self.code)


class Sender(Protocol):
    resend_is_harmless: bool  # True: sending a row again makes no second mail

    def __enter__(self) -> Sender: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def send(self, message_id: str, data: bytes | MailData, envelope_from: str, to: list[str]) -> dict[str, Refused]:
        """Hand the mail over for the addresses `to`; the ones the server refused."""
        ...

    def flush(self) -> dict[str, SendError]:
        """Wait for every mail handed over; the ones that failed, by Message-ID."""
        ...


class DirectorySender:
    """Writes each mail as `<Message-ID>.eml` into a directory; a resend overwrites the same file. A
    write counts once the file and the directory entry are on disk (fsync of both).

    Files are written and fsynced by a few threads while the drain builds the next mails: fsyncs in
    flight together share the disk's journal commits (one at a time, each waits for its own). A mail up
    to INLINE_BYTES is made into bytes here and the thread only writes them: memory a thread allocates
    stays in its own malloc arena, which would raise the peak RSS by megabytes a thread.
    """

    resend_is_harmless = True
    WRITERS = 4
    INLINE_BYTES = 1024 * 1024
    PENDING_BYTES = 8 * 1024 * 1024  # wait for the writes in flight beyond this

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._pool: ThreadPoolExecutor | None = None
        self._writes: dict[str, Future[None]] = {}
        self._failed: dict[str, SendError] = {}
        self._pending_bytes = 0

    def __enter__(self) -> DirectorySender:
        try:
            make_private_dir(self.directory)
        except OSError as exc:
            raise SendError(
                f"Cannot create the outbox directory {self.directory}: {exc.strerror}; "
                "check outbox.directory in the configuration."
            ) from exc
        self._pool = ThreadPoolExecutor(self.WRITERS, thread_name_prefix="outbox")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def send(self, message_id: str, data: bytes | MailData, envelope_from: str, to: list[str]) -> dict[str, Refused]:
        assert self._pool is not None, "use the sender as a context manager"
        name = "".join(c if c.isalnum() or c in ".-_" else "_" for c in message_id)
        head = f"Return-Path: <{envelope_from}>\r\n".encode()
        size = len(data)
        if size <= self.INLINE_BYTES:
            data = head + bytes(data)
            head = b""
        self._writes[message_id] = self._pool.submit(self._write, self.directory / f"{name}.eml", head, data)
        self._pending_bytes += size
        if self._pending_bytes > self.PENDING_BYTES:
            self._wait()
        return {}

    def flush(self) -> dict[str, SendError]:
        self._wait()
        failed, self._failed = self._failed, {}
        return failed

    def _wait(self) -> None:
        written = []
        for message_id, write in self._writes.items():
            try:
                write.result()
                written.append(message_id)
            except SendError as exc:
                self._failed[message_id] = exc
        self._writes.clear()
        self._pending_bytes = 0
        if written:
            try:
                fsync_dir(self.directory)  # the renames: without it a power cut can lose a file marked sent
            except OSError as exc:
                error = SendError(f"Cannot sync the outbox directory {self.directory}: {exc.strerror}.")
                self._failed.update(dict.fromkeys(written, error))

    @staticmethod
    def _write(path: Path, head: bytes, data: bytes | MailData) -> None:
        tmp = path.with_name(f".{path.stem}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                for chunk in itertools.chain((head,), chunks(data)):  # piece by piece: never the whole mail
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as exc:
            raise SendError(
                f"Cannot write {path}: {exc.strerror}; check the outbox directory and free disk space."
            ) from exc


class SmtpSender:
    """One SMTP session for a whole drain, opened on the first mail and closed at the end."""

    resend_is_harmless = False

    def __init__(
        self,
        config: SmtpConfig,
        *,
        password: str | None = None,
        token: Callable[[], str] | None = None,
        username: str | None = None,
    ) -> None:
        self.config = config
        self.password = password
        self.token = token
        self.username = username or config.username
        self._smtp: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def send(self, message_id: str, data: bytes | MailData, envelope_from: str, to: list[str]) -> dict[str, Refused]:
        smtp = self._connection()
        international = not all(address.isascii() for address in (envelope_from, *to))
        try:
            # sendmail takes len() for SIZE and hands the data to data(), which _StreamingData streams
            message: Any = data
            refused = smtp.sendmail(envelope_from, to, message, mail_options=["SMTPUTF8"] if international else [])
        except smtplib.SMTPRecipientsRefused as exc:  # every recipient
            return {addr: _refused(addr, code, text) for addr, (code, text) in exc.recipients.items()}
        except smtplib.SMTPDataError as exc:
            later = "" if exc.smtp_code >= 500 else "; it is tried again later"
            raise MessageRefused(
                f"The mail server refused the mail ({exc.smtp_code} {_text(exc.smtp_error)}){later}.",
                permanent=exc.smtp_code >= 500,
                code=exc.smtp_code,
            ) from exc
        except smtplib.SMTPSenderRefused as exc:
            self.close()
            raise SendError(
                f"The mail server {self.where} refused the sender {exc.sender} "
                f"({exc.smtp_code} {_text(exc.smtp_error)}); check that the account may send as that address."
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise SendError(
                f"The connection to the mail server {self.where} broke while sending ({exc}); "
                "the mail stays queued and is tried again later."
            ) from exc
        return {addr: _refused(addr, code, text) for addr, (code, text) in refused.items()}

    def flush(self) -> dict[str, SendError]:
        return {}  # every mail went (or failed) within send()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._connect()
            try:
                self._login(self._smtp)
            except BaseException:
                self.close()
                raise
        return self._smtp

    def _tls_context(self) -> ssl.SSLContext:
        cafile = str(self.config.ca_file) if self.config.ca_file else None
        try:
            context = ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise SendError(f"Cannot load the CA file {cafile} ({exc}); check outbox.smtp.ca_file.") from exc
        if not self.config.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        try:
            if c.security == "ssl":
                smtp: smtplib.SMTP = _SMTPSSL(c.host, c.port, timeout=c.timeout, context=self._tls_context())
            else:
                smtp = _SMTP(c.host, c.port, timeout=c.timeout)
            smtp.ehlo()
            if c.security == "starttls":
                smtp.starttls(context=self._tls_context())
                smtp.ehlo()
        except ssl.SSLCertVerificationError as exc:
            raise SendError(
                f"The certificate of the mail server {self.where} cannot be verified ({exc.verify_message}); "
                "set outbox.smtp.ca_file to the CA that signed it."
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise SendError(
                f"The mail server {self.where} does not offer STARTTLS; set outbox.smtp.security to ssl or none."
            ) from exc
        except (ssl.SSLError, smtplib.SMTPServerDisconnected) as exc:  # it answered, but not as configured
            raise SendError(
                f"The mail server {self.where} answered, but the connection failed ({exc}); check "
                "outbox.smtp.security against the port (ssl: implicit TLS, usually 465; starttls: usually 587)."
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(
                f"Cannot reach the mail server {self.where} ({exc}); queued mail is tried again later, "
                "and if the server is running, check outbox.smtp.host and port."
            ) from exc
        return smtp

    def _login(self, smtp: smtplib.SMTP) -> None:
        auth = self.config.auth
        if auth == "none":
            return
        user = self.username or ""
        try:
            if auth == "password":
                smtp.login(user, self.password or "")
            else:
                token = self.token() if self.token else ""
                smtp.auth(
                    "XOAUTH2",
                    lambda challenge=None: f"user={user}\x01auth=Bearer {token}\x01\x01" if challenge is None else "",
                    initial_response_ok=True,
                )
        except smtplib.SMTPAuthenticationError as exc:
            what = "the password" if auth == "password" else "the OAuth2 token"
            raise SendError(
                f"The mail server {self.where} refused the login for {user} ({exc.smtp_code}); "
                f"check outbox.smtp.username and {what}."
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise SendError(
                f"The mail server {self.where} offers no login here; use security starttls or ssl, "
                "or set outbox.smtp.auth to none."
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"Logging in to the mail server {self.where} failed ({exc}); try again later.") from exc


class _StreamingData:
    """smtplib's DATA for a MailData: the same dot-stuffing and final CRLF . CRLF, sent piece by piece."""

    def data(self, msg: Any) -> tuple[int, bytes]:
        if not isinstance(msg, MailData):
            return super().data(msg)  # type: ignore[misc]
        smtp: Any = self
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        line_start, last = True, b""
        for chunk in msg.chunks():
            stuffed = _LINE_DOT.sub(b"\n..", chunk)
            if line_start and stuffed.startswith(b"."):
                stuffed = b"." + stuffed
            smtp.send(stuffed)
            line_start, last = chunk.endswith(b"\n"), (last + chunk)[-2:]
        smtp.send((b"" if last == b"\r\n" else b"\r\n") + b".\r\n")
        result: tuple[int, bytes] = smtp.getreply()
        return result


_LINE_DOT = re.compile(rb"\n\.")


class _SMTP(_StreamingData, smtplib.SMTP):
    pass


class _SMTPSSL(_StreamingData, smtplib.SMTP_SSL):
    pass


def _refused(address: str, code: int, text: bytes | str) -> Refused:
    said = f"{code} {_text(text)}"
    if code >= 500:
        return Refused(f"The mail server refused {address} ({said}); check the address.", True, code)
    return Refused(f"The mail server refused {address} for now ({said}); it is tried again later.", False, code)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
