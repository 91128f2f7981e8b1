"""The MIME tree of a parsed message as a flat list of leaves, each read without trusting its headers.

Metadata (type, charset, file name, disposition, Content-ID) is read through a `compat32` view built
from the part's raw headers, because `policy.default` header objects raise on some malformed values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import errors, policy
from email.message import Message
from email.policy import Compat32
from pathlib import Path
from typing import Any

from ticketctl.engine.mail.mailtext import Declared, decode_bytes, decode_header, raw_header_text

MAX_DEPTH = 40
MAX_PARTS = 2000
_META_HEADERS = (
    "content-type",
    "content-disposition",
    "content-transfer-encoding",
    "content-id",
    "content-description",
)
_TRUNCATED = (errors.InvalidBase64PaddingDefect, errors.InvalidBase64LengthDefect)


class _AsWritten(Compat32):
    """compat32 generation that leaves headers as parsed (no refolding, no space after an empty `Name:`)."""

    def _fold(self, name: str, value: object, sanitize: bool) -> str:
        if isinstance(value, str) and not value:
            return f"{name}:{self.linesep}"
        return super()._fold(name, value, sanitize)  # type: ignore[misc]


_GENERATOR_POLICY = _AsWritten(max_line_length=0)


@dataclass(frozen=True)
class DecodedFile:
    """A part's decoded body in a file (see mimespool): never held in memory whole."""

    path: Path
    sha256: str
    size: int


@dataclass
class Leaf:
    part: Message
    view: Message
    content_type: str
    alternatives: tuple[int, ...]  # ids of the multipart/alternative parts above this leaf
    filename: str | None = None
    disposition: str | None = None
    content_id: str | None = None
    description: str | None = None  # Content-Description, which names some nameless parts
    declared: Declared | None = None  # the message's charsets, should this part's label fail
    root: Message | None = None  # the whole message, whose line ending a generated part takes by default
    notes: list[str] = field(default_factory=list)
    _payload: bytes | None = None

    @property
    def payload(self) -> bytes:
        if self._payload is None:
            self._payload = _payload(self.part, self.view, self.content_type, self.root)
        return self._payload

    def text(self) -> str:
        text, note = decode_bytes(self.payload, self.view.get_content_charset(), self.declared)
        if note:
            self.notes.append(f"{self.content_type} part: {note}")
        return text.replace("\r\n", "\n").replace("\r", "\n")

    @property
    def is_body_candidate(self) -> bool:
        return (
            self.content_type in ("text/plain", "text/html") and self.disposition != "attachment" and not self.filename
        )


def view(part: Message, charset: str | None = None) -> Message:
    """A compat32 message holding only the part's MIME headers and payload: reading it never raises.

    Raw 8-bit bytes in those headers (a file name in the sender's charset) are decoded here, as UTF-8
    or the message's header `charset`: the email package would make replacement characters of them.
    """
    shadow = Message(policy=policy.compat32)
    for name, value in part.raw_items():
        if name.lower() in _META_HEADERS:
            ascii = isinstance(value, str) and value.isascii()
            shadow[name] = value if ascii else raw_header_text(str(value), charset)
    shadow.set_default_type(part.get_default_type())
    if not part.is_multipart():
        shadow.set_payload(raw_payload(part))  # the raw payload string; get_payload() would consult headers
    return shadow


def leaves(
    msg: Message, defects: list[str], charset: str | None = None, declared: Declared | None = None
) -> list[Leaf]:
    """Every non-multipart part in document order; message/* parts are leaves, not descended into.
    `charset` is the message's for raw 8-bit header bytes (see `view`), `declared` its charsets."""
    found: list[Leaf] = []
    stack: list[tuple[Message, tuple[int, ...], int]] = [(msg, (), 0)]
    while stack and len(found) < MAX_PARTS:
        part, alternatives, depth = stack.pop()
        shadow = view(part, charset)
        ctype = content_type(shadow)
        if ctype.startswith("multipart/") and part.is_multipart():
            if depth >= MAX_DEPTH:
                defects.append(f"MIME parts nested deeper than {MAX_DEPTH} levels were skipped")
                continue
            if ctype == "multipart/alternative":
                alternatives = (*alternatives, id(part))
            children = raw_payload(part)
            stack.extend((child, alternatives, depth + 1) for child in reversed(children))
            continue
        if ctype.startswith("multipart/"):
            defects.append(f"{ctype} part without readable sub-parts was read as text")
            ctype = "text/plain"
        found.append(make_leaf(part, shadow, ctype, alternatives, declared))
        found[-1].root = msg
    if stack:
        defects.append(f"more than {MAX_PARTS} MIME parts; the rest were skipped")
    return found


def raw_payload(part: Message) -> Any:
    """The payload as the parser stored it: a string (8-bit bytes as surrogates) or a list of parts."""
    return part._payload  # type: ignore[attr-defined]  # undocumented, but what get_payload() reads


def content_type(shadow: Message) -> str:
    try:
        return shadow.get_content_type()
    except Exception:  # compat32 is lenient, but a header can still be unreadable; RFC 2045 default
        return "text/plain"


def make_leaf(
    part: Message, shadow: Message, ctype: str, alternatives: tuple[int, ...], declared: Declared | None = None
) -> Leaf:
    leaf = Leaf(part, shadow, ctype, alternatives, declared=declared)
    try:
        name = shadow.get_filename()
        leaf.filename = decode_header(str(name))[0] if name else None
        leaf.disposition = shadow.get_content_disposition()
        cid = shadow.get("content-id")
        leaf.content_id = str(cid).strip().strip("<>").strip() or None if cid else None
        description = shadow.get("content-description")
        leaf.description = decode_header(str(description))[0].strip() or None if description else None
    except Exception as exc:  # a part we cannot name is still kept, under a default name
        leaf.notes.append(f"unreadable MIME parameters ({type(exc).__name__})")
    return leaf


def _payload(part: Message, shadow: Message, ctype: str, root: Message | None = None) -> bytes:
    if part.is_multipart():  # message/rfc822, message/delivery-status: the embedded text as bytes
        return _generated_body(part, root)
    try:
        data = shadow.get_payload(decode=True)
    except Exception:
        data = None
    # base64 that stops inside a quad or cannot be decoded is damage worth telling (stray characters are not)
    part.defects.extend(d for d in shadow.defects if isinstance(d, _TRUNCATED))
    raw = raw_payload(part)
    if isinstance(data, bytes):
        cte = str(shadow.get("content-transfer-encoding", "")).strip().lower()
        if cte in ("x-uuencode", "uuencode", "uue", "x-uue") and isinstance(raw, str) and "begin " not in raw:
            return _uudecode_lines(raw)
        return data
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _generated_body(part: Message, root: Message | None) -> bytes:
    """The body of a message/* part as bytes, generated from the parsed message with the line ending
    its own lines have (else the message's), so that a forwarded message keeps the bytes it was sent
    as; only the spacing of a header's colon and a missing final line ending are not kept."""
    ending = _line_ending(part) or (_line_ending(root) if root is not None else None)
    policy_ = _GENERATOR_POLICY.clone(linesep=ending or "\n")
    try:
        flat = part.as_bytes(policy=policy_)
    except Exception:
        return str(part.get_payload()).encode("utf-8", "surrogateescape")
    if flat.startswith(policy_.linesep.encode()):  # the part itself had no headers
        return flat[len(policy_.linesep) :]
    head, found, body = flat.partition(policy_.linesep.encode() * 2)
    return body if found else flat


_LINE_END = re.compile(r"\r\n|\r|\n")


def _line_ending(part: Message) -> str | None:
    """The line ending of the first text the parser kept as written (a folded header, a body)."""
    for sub in part.walk():
        payload = raw_payload(sub)
        texts = [str(v) for _, v in sub.raw_items()] + ([payload] if isinstance(payload, str) else [])
        for text in texts:
            match = _LINE_END.search(text)
            if match:
                return match.group()
    return None


def _uudecode_lines(text: str) -> bytes:
    """uuencoded data without its `begin` line, which the email package returns undecoded."""
    import binascii

    out = bytearray()
    for line in text.splitlines():
        if not line.strip() or line.strip() in ("`", "end"):
            continue
        try:
            out += binascii.a2b_uu(line.encode("ascii", "surrogateescape"))
        except binascii.Error:
            continue
    return bytes(out)
