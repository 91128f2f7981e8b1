"""The mail for a queue row, built with the `compat32` MIME classes and joined to 7-bit CRLF text by us.

`EmailMessage` with `policy.SMTP` parses every header it is given into a header object and refolds it
on output, which cost more than the rest of a run's work on a mail. Attachments are encoded while the
mail is written (`MailData`), so a large one is never in memory whole.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.policy import Compat32
from email.utils import format_datetime, formataddr, getaddresses
from pathlib import Path

from ticketctl.engine.store.queue import QueueRow

LOOP_HEADER = "X-Ticketctl-Loop"


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


def envelope_recipients(to_email: str, cc: str) -> tuple[tuple[str, str], ...]:
    """The envelope recipients of a mail, each once (letter case aside): (address, 'to' | 'cc')."""
    found: dict[str, tuple[str, str]] = {to_email.lower(): (to_email, "to")}
    for _, email in getaddresses([cc]) if cc else []:
        if email:
            found.setdefault(email.lower(), (email, "cc"))
    return tuple(found.values())


def build_message(row: QueueRow, attachments: list[FileAttachment], installation_id: str) -> bytes:
    """The mail for a queue row, with CRLF line ends, in memory (see `build_mail`)."""
    return bytes(build_mail(row, attachments, installation_id))


def build_mail(row: QueueRow, attachments: list[FileAttachment], installation_id: str) -> MailData:
    """The mail for a queue row, with CRLF line ends. Every header and MIME boundary comes from the row,
    so a resend (after a crash, or to a recipient whose server said "later") is byte-for-byte the same
    message, which the receiver can drop by its Message-ID. Attachments are encoded as the mail is
    written (MailData), not here.

    Built with the `compat32` MIME classes: `EmailMessage` with `policy.SMTP` parses every header it is
    given into a header object and refolds it on output, which cost more than all the rest of a run's
    work on a mail."""
    from email.mime.base import MIMEBase
    from email.mime.multipart import MIMEMultipart

    boundary = _boundary(row)
    body: Message = _text_part(row.body_text, "plain")
    if row.body_html:
        body = MIMEMultipart("alternative", f"{boundary}.1", [body, _text_part(row.body_html, "html")])
    msg = body
    placeholders: dict[bytes, FileAttachment] = {}
    if attachments:
        msg = MIMEMultipart("mixed", f"{boundary}.0", [body])
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
        ("References", _folded(_one_line(row.references))),
        (LOOP_HEADER, installation_id),
        ("Auto-Submitted", "auto-generated" if row.auto_submitted else ""),
        ("X-Auto-Response-Suppress", "All" if row.auto_submitted else ""),
    ]
    for inner in msg.walk():
        if inner is not msg:
            del inner["MIME-Version"]  # the MIME classes write it into every part; it belongs at the top
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
        children: list[Message] = part.get_payload()  # type: ignore[assignment]  # a multipart's parts
        for child in children:
            out.append(f"--{boundary}\r\n")
            _flatten(child, out)
            out.append("\r\n")
        out.append(f"--{boundary}--\r\n")
    else:
        text: str = part.get_payload()  # type: ignore[assignment]  # 7-bit text, see above
        out.append(_NEWLINE.sub("\r\n", text))


class _Wire(Compat32):
    """CRLF line ends, and ASCII header values written as given: `build_mail` encodes and folds its
    values itself (compat32 would re-encode every one through a `Header`)."""

    def _fold(self, name: str, value: object, sanitize: bool) -> str:
        if isinstance(value, str) and value.isascii():
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)  # type: ignore[misc]


_WIRE = _Wire(linesep="\r\n")


def _folded(value: str) -> str:
    """RFC 2047-encoded when not ASCII, folded when longer than a line."""
    if value.isascii():
        return value if len(value) <= 76 else Header(value).encode(linesep="\r\n")
    return _encoded_words(value)


_WORD_BYTES = 42  # of UTF-8 in one encoded word: 56 base64 characters, 68 with `=?utf-8?b?...?=`


def _encoded_words(value: str) -> str:
    """The value as RFC 2047 base64 words of UTF-8, each holding whole characters, one a line (the
    first fits a line after a header name). What `Header(value, "utf-8")` gives, without its search
    character by character for the shortest of two encodings."""
    words: list[bytes] = []
    word = b""
    for char in value:
        data = char.encode()
        if word and len(word) + len(data) > _WORD_BYTES:
            words.append(word)
            word = b""
        word += data
    words.append(word)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


_NEWLINE = re.compile(r"\r\n|\r|\n")


def _boundary(row: QueueRow) -> str:
    """The stem of the mail's MIME boundaries, the same in every process: from its Message-ID (signed,
    so not known before the mail's text was written), made longer until no text part holds it."""
    salt = 0
    while True:
        stem = "=_" + hashlib.sha256(f"{row.message_id}\0{salt}".encode()).hexdigest()[:32]
        if stem not in row.body_text and stem not in (row.body_html or ""):
            return stem
        salt += 1


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


def chunks(data: bytes | MailData) -> Iterator[bytes]:
    if isinstance(data, MailData):
        yield from data.chunks()
    else:
        yield data
