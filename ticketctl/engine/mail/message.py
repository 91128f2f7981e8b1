"""Parsing mail (the standard `email` package with `policy.compat32`) into what the rules need.

`parse` never raises on bad input: a broken message yields what could be read plus `defects`.
Header values are decoded by our own tolerant decoder from the raw header lines (RFC 2047 words
anywhere, 8-bit bytes through a charset fallback chain), because `policy.default`'s header objects
raise on some malformed values and cost half the parsing time.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses
from pathlib import Path
from typing import BinaryIO

from ticketctl.engine.mail.addresses import drop_comments
from ticketctl.engine.mail.filenames import extension_for, safe_filename
from ticketctl.engine.mail.mailtext import (
    Declared,
    codec_for,
    decode_header,
    header_charset,
    html_to_text,
    raw_header_text,
    sanitise_html,
)
from ticketctl.engine.mail.mimeparts import DecodedFile, Leaf, leaves, raw_payload, view

_WORD_CHARSET = re.compile(r"=\?([^?*\s]+)[^?\s]*\?[bBqQ]\?")  # the label of an RFC 2047 encoded word
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To")


@dataclass(frozen=True)
class Address:
    name: str
    email: str  # as written, stripped; compare with addresses.routing_key()


@dataclass(frozen=True)
class Attachment:
    filename: str  # safe: no path parts, no control characters
    content_type: str
    payload: bytes  # empty when `file` holds the content
    content_id: str | None = None
    inline: bool = False
    file: DecodedFile | None = None  # a large message's part, decoded to a scratch file by parse_file
    whole_text: bool = False  # the whole of a long body part whose beginning is body_text (parse_file)

    @property
    def sha256(self) -> str:
        return self.file.sha256 if self.file else hashlib.sha256(self.payload).hexdigest()

    @property
    def size(self) -> int:
        return self.file.size if self.file else len(self.payload)

    def read(self) -> bytes:
        """The content, wherever it is (reads a file into memory: for small attachments and tests)."""
        return self.file.path.read_bytes() if self.file else self.payload


@dataclass
class ParsedMessage:
    message_id: str | None  # without angle brackets
    subject: str
    from_: Address | None
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    envelope_to: list[str] = field(default_factory=list)  # Delivered-To, X-Original-To, Envelope-To
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    date: str | None = None
    body_text: str = ""
    body_html: str | None = None  # sanitised
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, list[str]] = field(default_factory=dict)  # lower-cased name -> decoded values
    defects: list[str] = field(default_factory=list)
    body_type: str = ""  # "text/plain", or "text/html" when body_text was made from HTML; "" if none
    size: int = 0  # bytes on the server (set by the run)
    headers_only: bool = False  # only the header block was read (parse_headers)
    parse_error: str | None = None  # why the message could not be read at all (set by the run)
    # the body's lines without the quoted history (quotes.history_of), when a parse worker read them ahead
    history: list[str] | None = None
    # whether it may be a delivery report (bouncereport.may_be_report), when a parse worker looked; a
    # look ahead, not part of what the message is
    report_hint: bool | None = field(default=None, compare=False)

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def recipients(self) -> list[str]:
        """Every address the mail was delivered to: To, Cc and the envelope headers."""
        return [a.email for a in (*self.to, *self.cc)] + list(self.envelope_to)


def parse(raw: bytes) -> ParsedMessage:
    """Everything the rules need from a raw message; never raises, whatever the bytes."""
    try:
        repaired, repairs = _repair_head(raw)
        msg = _load(BytesParser, repaired)
        charset, declared = _charsets(msg)
        parsed = _from_headers(msg, charset)
        parsed.defects.extend(repairs)
        _read_body(msg, parsed, charset, declared)
    except (Exception, RecursionError) as exc:  # the documented promise: a poisoned mail is still read
        return _fallback(raw, exc)
    return parsed


def parse_file(path: Path, scratch: Path) -> ParsedMessage:
    """`parse` for a large message in a file: the same result, except that base64 attachments are
    decoded into files under `scratch` (`Attachment.file`) and the message is never in memory whole.
    A message this cannot read the same way (see mimespool) is read into memory and parsed there."""
    from ticketctl.engine.mail import mimespool

    try:
        with path.open("rb") as f:
            head = _read_head(f)
            if head is not None:
                repaired, repairs = _repair_head(head)
                msg = mimespool.load(repaired, f, scratch)
                charset, declared = _charsets(msg)
                parsed = _from_headers(msg, charset)
                parsed.defects.extend(repairs)
                _read_body(msg, parsed, charset, declared)
                return parsed
    except (Exception, RecursionError):  # parse() gives the in-memory result, its fallback included
        pass
    return parse(path.read_bytes())


def parse_headers(header_bytes: bytes) -> ParsedMessage:
    """The header part of a message (e.g. of one too large to fetch whole), with an empty body."""
    parsed = _headers(header_bytes)
    parsed.headers_only = True
    return parsed


def _headers(header_bytes: bytes) -> ParsedMessage:
    try:
        msg = _load(BytesHeaderParser, header_bytes)
        return _from_headers(msg, _charsets(msg)[0])
    except (Exception, RecursionError) as exc:
        return _minimal(header_bytes, f"headers could not be parsed ({type(exc).__name__})")


def _load(parser: type[BytesParser] | type[BytesHeaderParser], raw: bytes) -> Message:
    # compat32: header values stay strings (we decode them ourselves), where policy.default would build
    # a header object for every Content-Type the parser reads, half the cost of parsing a mail.
    return parser(policy=policy.compat32).parsebytes(raw)


HEAD_LIMIT = 1024 * 1024
_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
_HEAD_END = re.compile(rb"\r?\n\r?\n|\r\r")
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _read_head(f: BinaryIO) -> bytes | None:
    """The start of the file up to past the end of its header block (as `_repair_head` finds it in the
    whole message), or the whole file if it has none; None if the header block is longer than
    HEAD_LIMIT."""
    buf = bytearray()
    while True:
        data = f.read(64 * 1024)
        buf += data
        end = _HEAD_END.search(buf)
        # 4 more bytes: an end that a later byte could still turn into a longer or earlier match is not one
        if (end is not None and end.end() + 4 <= len(buf)) or not data:
            return bytes(buf)
        if len(buf) > HEAD_LIMIT:
            return None


def _repair_head(raw: bytes) -> tuple[bytes, list[str]]:
    """Fix two header-block breakages seen in the wild, which would otherwise end the headers early:
    junk lines before the first header, and folded lines that lost their leading whitespace."""
    end = _HEAD_END.search(raw)
    head = raw[: end.start()] if end else raw
    lines = _LINE.findall(head)
    fields = [i for i, line in enumerate(lines) if _HEADER_LINE.match(line) or (i == 0 and line.startswith(b"From "))]
    if not fields or end is None:
        return raw, []
    first, last = fields[0], fields[-1]
    header_rows = set(fields) | {i for i, line in enumerate(lines) if line[:1] in (b" ", b"\t")}
    if len(header_rows) == len(lines):
        return raw, []
    fixed, notes = [], []
    for i, line in enumerate(lines):
        if i < first:
            notes.append("junk before the first header line was skipped")
        elif i < last and i not in header_rows and line[:1] not in (b" ", b"\t"):
            fixed.append(b" " + line)
            notes.append("a folded header line without leading whitespace was joined to its header")
        else:
            fixed.append(line)
    return b"".join(fixed) + raw[end.start() :], list(dict.fromkeys(notes))


# --- headers ---------------------------------------------------------------------------------


def _from_headers(msg: Message, charset: str | None) -> ParsedMessage:
    headers: dict[str, list[str]] = {}
    raw_values: dict[str, list[str]] = {}
    defects: list[str] = []
    for name, value in msg.raw_items():
        key = str(name).lower()
        text, notes = decode_header(str(value), charset)
        headers.setdefault(key, []).append(text)
        raw_values.setdefault(key, []).append(str(value))
        defects.extend(f"{name}: {note}" for note in notes)

    def addresses(name: str, bare: bool = False) -> list[Address]:
        return _addresses(raw_values.get(name.lower(), []), charset, bare)

    first = headers.get
    mid = _ids(" ".join(first("message-id", [])))
    return ParsedMessage(
        message_id=mid[0] if mid else _bare_id(first("message-id", [""])[0]),
        subject=first("subject", [""])[0],
        from_=_sender(addresses("From"), addresses("Reply-To"), addresses("Sender"), addresses("From", bare=True)),
        to=addresses("To"),
        cc=addresses("Cc"),
        reply_to=addresses("Reply-To"),
        envelope_to=[a.email for h in _ENVELOPE_HEADERS for a in addresses(h)],
        in_reply_to=_ids(" ".join(first("in-reply-to", []))),
        references=_ids(" ".join(first("references", []))),
        date=first("date", [None])[0],
        headers=headers,
        defects=defects,
    )


def _charsets(msg: Message) -> tuple[str | None, Declared]:
    """The charset of the raw 8-bit bytes in the headers of the message and its parts (None if there
    are none), and the charsets the message declares, worked out only when a text needs them."""
    parts = _all_parts(msg)
    values = [str(value) for part in parts for _, value in part.raw_items()]
    declared = functools.cache(functools.partial(_declared_charsets, parts, values))
    return header_charset(values, declared), declared


def _declared_charsets(parts: list[Message], header_values: list[str]) -> list[str]:
    """The charsets the parts declare, body first, then those of encoded words: what the sender's
    mailer used, and so the best guess for its undeclared 8-bit text."""
    found = []
    for part in parts:
        try:
            charset = view(part).get_content_charset()
        except Exception:
            continue
        if charset:
            found.append(charset)
    found += [label for value in header_values if "=?" in value for label in _WORD_CHARSET.findall(value)]
    return list(dict.fromkeys(found))


def _addresses(raw_values: list[str], charset: str | None, bare: bool = False) -> list[Address]:
    """The addresses of a header; with `bare`, those of a header that names no domain at all (a bare
    MAILER-DAEMON) instead. The raw value is split first and each name decoded after, so an encoded
    comma or quote in a name cannot change the structure; comments are dropped from names, as mail
    clients show them."""
    values = [drop_comments(_FOLD.sub("", raw_header_text(v, charset))) for v in raw_values]
    if bare and any("@" in v for v in values):  # a domain was written: what failed to parse is no address
        return []
    try:
        pairs = getaddresses(values)
    except Exception:
        return []
    return [Address(decode_header(n)[0].strip(), e.strip()) for n, e in pairs if e and (bare or "@" in e)]


def _sender(*candidates: list[Address]) -> Address | None:
    """From, else Reply-To, else Sender; last a From without a domain (a bare MAILER-DAEMON), which
    still says who sent it."""
    return next((addresses[0] for addresses in candidates if addresses), None)


def _ids(value: str | None) -> list[str]:
    return re.findall(r"<([^<>\s]+)>", value or "")


def _bare_id(value: str) -> str | None:
    value = value.strip().strip("<>")
    return value if value and not re.search(r"\s", value) else None


# --- body and attachments --------------------------------------------------------------------


def _read_body(msg: Message, parsed: ParsedMessage, charset: str | None, declared: Declared) -> None:
    defects = parsed.defects
    parts = leaves(msg, defects, charset, declared)
    for leaf in parts:
        if getattr(leaf.part, "decoded", None) is not None and leaf.is_body_candidate:
            leaf._payload = _whole_characters(leaf.payload, leaf.view.get_content_charset())
    plain, html = _choose_body(parts)
    if plain is not None:
        parsed.body_text, parsed.body_type = plain.text(), "text/plain"
    if html is not None:
        parsed.body_html = sanitise_html(html.text())
        if plain is None:
            parsed.body_text, parsed.body_type = html_to_text(parsed.body_html), "text/html"
    chosen = {id(leaf) for leaf in (plain, html) if leaf is not None}
    for extra in _more_text(parts, plain):
        parsed.body_text += "\n" + extra.text()
        chosen.add(id(extra))
    for leaf in parts:
        if id(leaf) in chosen or _is_empty_body_part(leaf):
            continue
        parsed.attachments.append(_attachment(leaf, len(parsed.attachments) + 1, charset))
    _attach_whole_texts([leaf for leaf in parts if id(leaf) in chosen], parsed)
    for leaf in parts:
        defects.extend(leaf.notes)
    defects.extend(_email_defects(msg))
    parsed.defects = list(dict.fromkeys(defects))


def _choose_body(parts: list[Leaf]) -> tuple[Leaf | None, Leaf | None]:
    """The text/plain body and its HTML alternative; HTML alone when the plain text is missing or empty."""
    candidates = [leaf for leaf in parts if leaf.is_body_candidate]
    plain = next((c for c in candidates if c.content_type == "text/plain"), None)
    html = next((c for c in candidates if c.content_type == "text/html"), None)
    if plain is not None and html is not None:
        if not plain.text().strip():
            return None, html
        if not set(plain.alternatives) & set(html.alternatives):
            return plain, None  # an HTML part beside, not instead of, the text: an attachment
    return plain, html


def _more_text(parts: list[Leaf], plain: Leaf | None) -> list[Leaf]:
    """Further inline text/plain parts of a mixed message (Apple Mail splits the text around inline
    images); they belong to the body, not in the attachment list."""
    if plain is None or plain.alternatives:
        return []
    return [
        leaf
        for leaf in parts
        if leaf is not plain and leaf.is_body_candidate and leaf.content_type == "text/plain" and not leaf.alternatives
    ]


def _is_empty_body_part(leaf: Leaf) -> bool:
    return leaf.is_body_candidate and leaf.content_type == "text/plain" and not leaf.payload.strip()


def _attachment(leaf: Leaf, index: int, charset: str | None) -> Attachment:
    decoded: DecodedFile | None = getattr(leaf.part, "decoded", None)  # set by parse_file (mimespool)
    inline = leaf.disposition == "inline" or (leaf.content_id is not None and leaf.disposition is None)
    return Attachment(
        filename=safe_filename(_name(leaf, charset), leaf.content_type, index),
        content_type=leaf.content_type,
        payload=b"" if decoded else leaf.payload,
        content_id=leaf.content_id,
        inline=inline,
        file=decoded,
    )


def _whole_characters(data: bytes, charset: str | None) -> bytes:
    """The beginning of a long text (mimespool cut it at a byte) without the part of a character at
    its end, so it decodes as the whole text would."""
    try:
        decoder = codecs.getincrementaldecoder(codec_for(charset) or "utf-8")(errors="ignore")
    except LookupError:
        return data
    decoder.decode(data[-16:], final=False)
    pending = len(decoder.getstate()[0])
    return data[: len(data) - pending]


def _attach_whole_texts(chosen: list[Leaf], parsed: ParsedMessage) -> None:
    """A body part longer than mimespool.KEEP_TEXT (parse_file) gave the body only its beginning; the
    whole part goes with the mail as an attachment, and the body says so (once, for its own part)."""
    noted = False
    for leaf in chosen:
        whole: DecodedFile | None = getattr(leaf.part, "decoded", None)
        if whole is None:
            continue
        name = "message.html" if leaf.content_type == "text/html" else "message.txt"
        parsed.attachments.append(Attachment(name, leaf.content_type, b"", file=whole, whole_text=True))
        if not noted and leaf.content_type == parsed.body_type:
            noted = True
            parsed.body_text = parsed.body_text.rstrip("\n") + (
                f"\n\n[This is the beginning of a long text: the whole of it ({whole.size:,} bytes) is the "
                f"attachment {name}.]\n"
            )


def _name(leaf: Leaf, charset: str | None) -> str | None:
    """The part's file name; for a nameless part what mail clients show: a forwarded message's
    subject, the Content-Description, Outlook's image name in the Content-ID."""
    if leaf.filename:
        return leaf.filename
    forwarded = leaf.content_type in ("message/rfc822", "message/global")
    subject = _forwarded_subject(leaf.part, charset) if forwarded else ""
    if subject:
        return f"{subject}.eml"
    if leaf.description:
        stem, dot, ext = leaf.description.rpartition(".")
        known = dot and stem and ext.isalnum() and len(ext) <= 5
        return leaf.description if known else leaf.description + extension_for(leaf.content_type)
    if forwarded:
        return "forwarded-message.eml"
    if leaf.content_id and re.fullmatch(r"[^@/\\]+\.\w{1,5}@.*", leaf.content_id):
        return leaf.content_id.split("@", 1)[0]  # Outlook's "image001.jpg@01CD..." names the image
    return None


def _forwarded_subject(part: Message, charset: str | None) -> str:
    """The subject of a forwarded message, which mail clients name it after."""
    inner = part.get_payload(0) if part.is_multipart() else None
    if not isinstance(inner, Message):
        return ""
    subject = next((v for k, v in inner.raw_items() if k.lower() == "subject"), "")
    return decode_header(str(subject), charset)[0].strip()


def _email_defects(msg: Message) -> list[str]:
    found: list[str] = []
    for part in _all_parts(msg):
        for defect in getattr(part, "defects", []):
            detail = str(defect)
            found.append(f"{type(defect).__name__}: {detail}" if detail else type(defect).__name__)
    return found


def _all_parts(msg: Message) -> list[Message]:
    """The message and all its parts, forwarded messages' included, in document order."""
    seen: list[Message] = []
    stack = [msg]
    while stack and len(seen) < 5000:
        part = stack.pop()
        seen.append(part)
        payload = raw_payload(part)
        if isinstance(payload, list):
            stack.extend(p for p in reversed(payload) if isinstance(p, Message))
    return seen


# --- last resort -----------------------------------------------------------------------------


def _fallback(raw: bytes, exc: BaseException) -> ParsedMessage:
    """A message the email package cannot read: its headers as far as they go, the rest as text."""
    head, body = _split_head(raw)
    parsed = _headers(head)
    from ticketctl.engine.mail.mailtext import decode_bytes

    parsed.body_text = decode_bytes(body)[0]
    parsed.body_type = "text/plain"
    parsed.defects.append(f"the MIME structure could not be read ({type(exc).__name__}); body kept as raw text")
    return parsed


def _split_head(raw: bytes) -> tuple[bytes, bytes]:
    match = re.search(rb"\r?\n\r?\n|\r\r", raw)
    return (raw[: match.start()], raw[match.end() :]) if match else (raw, b"")


def _minimal(header_bytes: bytes, reason: str) -> ParsedMessage:
    return ParsedMessage(message_id=None, subject="", from_=None, defects=[reason])
