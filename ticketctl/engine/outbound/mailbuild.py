"""The mail for a queue row, as a small MIME tree of our own joined to 7-bit CRLF text.

`EmailMessage` with `policy.SMTP` parses every header it is given into a header object and refolds it
on output, and the compat32 MIME classes parse back each parameter they set and encode quoted-printable
in Python: either cost more than the rest of a run's work on a mail. Attachments are encoded while the
mail is written (`MailData`), so a large one is never in memory whole.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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

    Built as a small tree of our own and joined by `_flatten`: the email package's MIME classes parse
    back every parameter they set and encode quoted-printable in Python, which cost more than the rest
    of a mail's work in the sender."""
    boundary = _boundary(row)
    body = _text_part(row.body_text, "plain")
    if row.body_html:
        body = _multipart("alternative", f"{boundary}.1", [body, _text_part(row.body_html, "html")])
    msg = body
    placeholders: dict[bytes, FileAttachment] = {}
    if attachments:
        marker = uuid.uuid4().hex
        parts = [body]
        for n, item in enumerate(attachments):
            placeholder = f"ticketctl-attachment-{marker}-{n}"
            placeholders[placeholder.encode("ascii")] = item
            parts.append(_attachment_part(item, placeholder))  # written as the placeholder line, then replaced
        msg = _multipart("mixed", f"{boundary}.0", parts)
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
    content_type, *more = msg.headers  # MIME-Version belongs at the top, after the message's type
    msg.headers = [*((name, value) for name, value in headers if value), content_type, _MIME_VERSION, *more]
    out: list[str] = []
    _flatten(msg, out)
    return MailData("".join(out).encode("ascii"), placeholders)


@dataclass
class _Part:
    """One MIME part: its headers, and either its 7-bit text or its parts under `boundary`."""

    headers: list[tuple[str, str]]
    text: str = ""
    parts: list[_Part] | None = None
    boundary: str = ""


_MIME_VERSION = ("MIME-Version", "1.0")


def _flatten(part: _Part, out: list[str]) -> None:
    """The wire form: every payload is already 7-bit text (plain ASCII, quoted-printable or base64),
    so this only joins headers, boundaries and lines with CRLF."""
    out.extend(_WIRE.fold(name, value) for name, value in part.headers)
    out.append("\r\n")
    if part.parts is None:
        out.append(_crlf(part.text))
        return
    for child in part.parts:
        out.append(f"--{part.boundary}\r\n")
        _flatten(child, out)
        out.append("\r\n")
    out.append(f"--{part.boundary}--\r\n")


def _multipart(subtype: str, boundary: str, parts: list[_Part]) -> _Part:
    return _Part([("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')], parts=parts, boundary=boundary)


def _text_part(text: str, subtype: str) -> _Part:
    """ASCII text as it is (7bit); any other as UTF-8 quoted-printable, readable in the raw mail."""
    if text.isascii() and max(map(len, text.splitlines() or [""])) <= 998:
        charset, encoding = "us-ascii", "7bit"
    else:
        charset, encoding = "utf-8", "quoted-printable"
        text = binascii.b2a_qp(text.encode("utf-8", "replace"), istext=True).decode("ascii")
    headers = [("Content-Type", f'text/{subtype}; charset="{charset}"'), ("Content-Transfer-Encoding", encoding)]
    return _Part(headers, text)


def _attachment_part(item: FileAttachment, placeholder: str) -> _Part:
    maintype, _, subtype = item.content_type.split(";")[0].strip().lower().partition("/")
    disposition = Message()  # for its parameter quoting (RFC 2231 when the name is not ASCII)
    disposition.add_header("Content-Disposition", "attachment", filename=_param(item.filename))
    headers = [
        ("Content-Type", f"{maintype or 'application'}/{subtype or 'octet-stream'}"),
        ("Content-Transfer-Encoding", "base64"),
        ("Content-Disposition", str(disposition["Content-Disposition"])),
    ]
    return _Part(headers, placeholder + "\n")


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


def _crlf(text: str) -> str:
    """Every line end as CRLF. Text without a CR (what templates and quoted-printable give) takes
    str.replace, a tenth of the regex's time on a body of a few KB."""
    return text.replace("\n", "\r\n") if "\r" not in text else _NEWLINE.sub("\r\n", text)


def _boundary(row: QueueRow) -> str:
    """The stem of the mail's MIME boundaries, the same in every process: from its Message-ID (signed,
    so not known before the mail's text was written), made longer until no text part holds it."""
    salt = 0
    while True:
        stem = "=_" + hashlib.sha256(f"{row.message_id}\0{salt}".encode()).hexdigest()[:32]
        if stem not in row.body_text and stem not in (row.body_html or ""):
            return stem
        salt += 1


def _one_line(value: str) -> str:
    """Header text from stored values never carries a line break (no header injection)."""
    return " ".join(value.split()) if ("\n" in value or "\r" in value) else value


def _address_list(value: str) -> str:
    pairs = getaddresses([_one_line(value)]) if value else []
    return ", ".join(formataddr((name, email), charset="utf-8") for name, email in pairs if email)


def _param(value: str) -> str | tuple[str, str, str]:
    """A MIME parameter, RFC 2231-encoded when it is not ASCII."""
    return value if value.isascii() else ("utf-8", "", value)


def _rfc2822(iso: str) -> str:
    from datetime import datetime

    return format_datetime(datetime.fromisoformat(iso.replace("Z", "+00:00")))


def chunks(data: bytes | MailData) -> Iterator[bytes]:
    if isinstance(data, MailData):
        yield from data.chunks()
    else:
        yield data
