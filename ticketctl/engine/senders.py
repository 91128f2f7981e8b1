"""Building the MIME message for a queue row, and the two ways to send it: `directory` (an .eml file per
mail, the embedded default) and `smtp` (smtplib: implicit TLS, STARTTLS or none; password or XOAUTH2).

A sender raises `MessageRefused` when the server refuses this one mail (a recipient, its content), and
`SendError` when nothing can be sent this run (server down, login refused).
"""

from __future__ import annotations

import base64
import itertools
import os
import re
import secrets
import smtplib
import ssl
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.policy import Compat32
from email.utils import format_datetime, formataddr, getaddresses
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from ticketctl.engine.config import SmtpConfig
from ticketctl.engine.errors import SendError
from ticketctl.engine.outbox import QueueRow

LOOP_HEADER = "X-Ticketctl-Loop"


class MessageRefused(SendError):
    """The server refused this one mail; other mails may still go. `permanent` for 5xx answers."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class FileAttachment:
    filename: str
    content_type: str
    payload: bytes = b""
    path: Path | None = None  # when set, the content is read from this file while the mail is written
    size: int = 0  # of the file at `path`

    def base64_chunks(self) -> Iterator[bytes]:
        """The content base64-encoded as `base64.encodebytes` does it (76-character lines), with CRLFs,
        a piece at a time."""
        if self.path is None:
            data = memoryview(self.payload)
            for start in range(0, len(data), _RAW_CHUNK):
                yield _encode(data[start : start + _RAW_CHUNK])
            return
        with self.path.open("rb") as f:
            while piece := f.read(_RAW_CHUNK):
                yield _encode(piece)

    @property
    def base64_size(self) -> int:
        size = self.size if self.path is not None else len(self.payload)
        return 4 * -(-size // 3) + 2 * -(-size // 57)  # 76 characters + CRLF for each 57 bytes


_RAW_CHUNK = 57 * 16 * 1024  # whole base64 lines of 57 bytes each


def _encode(data: bytes | memoryview) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


class MailData:
    """An outgoing mail made while it is written: the MIME skeleton, with each attachment's base64
    encoded from its file (or bytes) piece by piece where the skeleton holds a placeholder. A large
    attachment is never in memory whole, nor its encoding; `len()` is the mail's size (SMTP SIZE)."""

    def __init__(self, skeleton: bytes, placeholders: dict[bytes, FileAttachment]) -> None:
        self._pieces: list[bytes | FileAttachment] = []
        if placeholders:
            pattern = re.compile(b"(" + b"|".join(re.escape(p) for p in placeholders) + b")\r\n")
            for n, piece in enumerate(pattern.split(skeleton)):
                self._pieces.append(placeholders[piece] if n % 2 else piece)
        else:
            self._pieces.append(skeleton)

    def __len__(self) -> int:
        return sum(len(p) if isinstance(p, bytes) else p.base64_size for p in self._pieces)

    def __bytes__(self) -> bytes:
        return b"".join(self.chunks())

    def chunks(self) -> Iterator[bytes]:
        for piece in self._pieces:
            if isinstance(piece, bytes):
                if piece:
                    yield piece
            else:
                yield from piece.base64_chunks()


def recipients(row: QueueRow) -> list[str]:
    """Envelope recipients: To and every Cc address."""
    found = [row.to_email] + [email for _, email in getaddresses([row.cc]) if email]
    return list(dict.fromkeys(found))


def build_message(row: QueueRow, attachments: list[FileAttachment], installation_id: str) -> bytes:
    """The mail for a queue row, with CRLF line ends, in memory (see `build_mail`)."""
    return bytes(build_mail(row, attachments, installation_id))


def build_mail(row: QueueRow, attachments: list[FileAttachment], installation_id: str) -> MailData:
    """The mail for a queue row, with CRLF line ends. Every header comes from the row, so a resend is
    byte-for-byte the same message apart from transport headers. Attachments are encoded as the mail
    is written (MailData), not here.

    Built with the `compat32` MIME classes: `EmailMessage` with `policy.SMTP` parses every header it is
    given into a header object and refolds it on output, which cost more than all the rest of a run's
    work on a mail."""
    from email.mime.base import MIMEBase
    from email.mime.multipart import MIMEMultipart

    body: Message = _text_part(row.body_text, "plain")
    if row.body_html:
        body = MIMEMultipart("alternative", _boundary(), [body, _text_part(row.body_html, "html")])
    msg = body
    placeholders: dict[bytes, FileAttachment] = {}
    if attachments:
        msg = MIMEMultipart("mixed", _boundary(), [body])
        marker = uuid.uuid4().hex
        for n, item in enumerate(attachments):
            maintype, _, subtype = item.content_type.split(";")[0].strip().lower().partition("/")
            part = MIMEBase(maintype or "application", subtype or "octet-stream")
            placeholder = f"ticketctl-attachment-{marker}-{n}"
            placeholders[placeholder.encode("ascii")] = item
            part.set_payload(placeholder + "\n")  # written as the placeholder line, then replaced
            part["Content-Transfer-Encoding"] = "base64"
            part.add_header("Content-Disposition", "attachment", filename=_param(item.filename))
            msg.attach(part)
    headers = [
        ("From", _folded(formataddr((_one_line(row.from_name), row.from_email), charset="utf-8"))),
        ("To", _folded(formataddr((_one_line(row.to_name), row.to_email), charset="utf-8"))),
        ("Cc", _folded(_address_list(row.cc))),
        ("Reply-To", _folded(_address_list(row.reply_to or ""))),
        ("Subject", _folded(_one_line(row.subject))),
        ("Date", _rfc2822(row.created_at)),
        ("Message-ID", f"<{row.message_id}>"),
        ("In-Reply-To", f"<{row.in_reply_to}>" if row.in_reply_to else ""),
        ("References", _folded(_one_line(row.references_))),
        (LOOP_HEADER, installation_id),
        ("Auto-Submitted", "auto-generated" if row.auto_submitted else ""),
        ("X-Auto-Response-Suppress", "All" if row.auto_submitted else ""),
    ]
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # the MIME classes write it into every part; it belongs at the top
    _put_first(msg, [(name, value) for name, value in headers if value])
    out: list[str] = []
    _flatten(msg, out)
    return MailData("".join(out).encode("ascii"), placeholders)


def _flatten(part: Message, out: list[str]) -> None:
    """The wire form of a tree `build_mail` made: every payload in it is already 7-bit text (plain
    ASCII, quoted-printable or base64), so this only joins headers, boundaries and lines with CRLF,
    several times faster than the email package's generator, which re-reads each part line by line."""
    out.extend(_WIRE.fold(name, value) for name, value in part.items())
    out.append("\r\n")
    if part.is_multipart():
        boundary = part.get_boundary()
        for child in part.get_payload():
            out.append(f"--{boundary}\r\n")
            _flatten(child, out)
            out.append("\r\n")
        out.append(f"--{boundary}--\r\n")
    else:
        out.append(_NEWLINE.sub("\r\n", part.get_payload()))


class _Wire(Compat32):
    """CRLF line ends, and ASCII header values written as given: `build_message` encodes and folds its
    values itself (compat32 would re-encode every one through a `Header`)."""

    def _fold(self, name: str, value: object, sanitize: bool) -> str:
        if isinstance(value, str) and value.isascii():
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)  # type: ignore[misc]


_WIRE = _Wire(linesep="\r\n")


def _folded(value: str) -> str:
    """RFC 2047-encoded when not ASCII, folded when longer than a line."""
    if value.isascii() and len(value) <= 76:
        return value
    return Header(value, "utf-8" if not value.isascii() else None).encode(linesep="\r\n")


_NEWLINE = re.compile(r"\r\n|\r|\n")
_BOUNDARY_SALT = secrets.token_hex(12)  # unknown outside this process, so no text can hold a boundary
_boundaries = itertools.count()


def _boundary() -> str:
    return f"=_{_BOUNDARY_SALT}.{next(_boundaries)}"


def _text_part(text: str, subtype: str) -> Message:
    from email.mime.text import MIMEText

    if text.isascii() and max(map(len, text.splitlines() or [""])) <= 998:
        return MIMEText(text, subtype, "us-ascii")
    charset = Charset("utf-8")
    charset.body_encoding = QP  # readable in the raw mail, unlike base64
    return MIMEText(text, subtype, charset)  # type: ignore[arg-type]  # a Charset is accepted


def _one_line(value: str) -> str:
    """Header text from stored values never carries a line break (no header injection)."""
    return " ".join(value.split()) if ("\n" in value or "\r" in value) else value


def _address_list(value: str) -> str:
    pairs = getaddresses([_one_line(value)]) if value else []
    return ", ".join(formataddr((name, email), charset="utf-8") for name, email in pairs if email)


def _param(value: str) -> str | tuple[str, str, str]:
    """A MIME parameter, RFC 2231-encoded when it is not ASCII."""
    return value if value.isascii() else ("utf-8", "", value)


def _put_first(msg: Message, headers: list[tuple[str, str]]) -> None:
    """The message headers before the MIME headers the classes wrote, as mail clients order them."""
    mime = list(msg.items())
    for name in {name for name, _ in mime}:
        del msg[name]
    for name, value in [*headers, *mime]:
        msg[name] = value


def _rfc2822(iso: str) -> str:
    from datetime import datetime

    return format_datetime(datetime.fromisoformat(iso.replace("Z", "+00:00")))


class Sender(Protocol):
    resend_is_harmless: bool  # True: sending a row again makes no second mail

    def __enter__(self) -> Sender: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def send(self, message_id: str, data: bytes | MailData, envelope_from: str, to: list[str]) -> None: ...

    def flush(self) -> dict[str, SendError]:
        """Wait for every mail handed over; the ones that failed, by Message-ID."""
        ...


def _chunks(data: bytes | MailData) -> Iterator[bytes]:
    if isinstance(data, MailData):
        yield from data.chunks()
    else:
        yield data


class DirectorySender:
    """Writes each mail as `<Message-ID>.eml` into a directory; a resend overwrites the same file.

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
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
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

    def send(self, message_id: str, data: bytes | MailData, envelope_from: str, to: list[str]) -> None:
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

    def flush(self) -> dict[str, SendError]:
        self._wait()
        failed, self._failed = self._failed, {}
        return failed

    def _wait(self) -> None:
        for message_id, write in self._writes.items():
            try:
                write.result()
            except SendError as exc:
                self._failed[message_id] = exc
        self._writes.clear()
        self._pending_bytes = 0

    @staticmethod
    def _write(path: Path, head: bytes, data: bytes | MailData) -> None:
        tmp = path.with_name(f".{path.stem}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                for chunk in (head, *_chunks(data)) if isinstance(data, MailData) else (data,):
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

    def flush(self) -> dict[str, SendError]:
        return {}  # every mail went (or failed) within send()

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

    def send(self, message_id: str, data: bytes | MailData, envelope_from: str, to: list[str]) -> None:
        smtp = self._connection()
        international = not all(address.isascii() for address in (envelope_from, *to))
        try:
            # sendmail takes len() for SIZE and hands the data to data(), which _StreamingData streams
            message: Any = data
            refused = smtp.sendmail(envelope_from, to, message, mail_options=["SMTPUTF8"] if international else [])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{addr}: {code} {_text(text)}" for addr, (code, text) in exc.recipients.items())
            raise MessageRefused(
                f"The mail server refused the recipient ({detail}); check the address.",
                permanent=all(code >= 500 for code in codes),
            ) from exc
        except smtplib.SMTPDataError as exc:
            raise MessageRefused(
                f"The mail server refused the mail ({exc.smtp_code} {_text(exc.smtp_error)}).",
                permanent=exc.smtp_code >= 500,
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
        if refused:
            addrs = ", ".join(refused)
            raise MessageRefused(f"The mail server refused {addrs}; the other recipients got it.", permanent=True)

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
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(
                f"Cannot reach the mail server {self.where} ({exc}); check outbox.smtp host, port and "
                "security, or wait: queued mail is tried again later."
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
            return super().data(msg)  # type: ignore[misc, no-any-return]
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


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
