"""Parsing a message from a file without ever holding its base64 attachments in memory.

The standard parser (`email.feedparser` with `compat32`, as `message.parse` uses it) is fed the file in
pieces. The body lines of every base64 part that will become an attachment are taken out of the
parser's input before the parser collects them, and decoded straight into a file in a scratch
directory, hashed on the way; the parser sees an empty body there. Everything else -- structure,
headers, defects, text parts -- is the parser's own work, so the result is the one `message.parse`
gives, with `DecodedFile`s where it would hold payload bytes.

Text body candidates go to a `_TextSink`: while they are small their lines become the part's payload
after the parse, exactly as the parser would have made it; past KEEP_TEXT characters the part is
decoded (its transfer encoding) into a file as well, `decoded` holds the whole, and the payload keeps
only its first KEEP_TEXT characters (message.py attaches the whole text). A line longer than
LONG_LINE reaches the sink in pieces as it arrives, instead of being assembled in memory first.

Not diverted (kept in memory as before): attachments that are not base64, uuencoded text, and every
part inside a message/* part (a forwarded message is stored flattened whole). The stdlib's feedparser
internals used here (`_input`, `_cur`, `_msgstack`, `_parse_headers`) are the ones of Python 3.11-3.13;
the corpus equivalence test (tests/engine/test_mimespool.py) fails if a new Python changes them.
"""

from __future__ import annotations

import binascii
import hashlib
import os
import re
from email import errors, policy
from email.feedparser import BufferedSubFile, BytesFeedParser  # type: ignore[attr-defined]
from email.message import Message
from pathlib import Path
from typing import Any, BinaryIO

from ticketctl.engine.mail.mimeparts import DecodedFile, content_type, make_leaf, view

READ_CHUNK = 256 * 1024
KEEP_TEXT = 1024 * 1024  # characters of a text body part kept in memory (and in the ticket's log)
LONG_LINE = 64 * 1024  # a line longer than this cannot be a boundary: it goes to the sink in pieces
DECODE_CHUNK = 256 * 1024  # encoded characters decoded at a time
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_ALPHABET = bytes(sorted(set(range(256)) - set(_ALPHABET)))  # what a lenient base64 decoder skips


class Unsupported(Exception):
    """The file cannot be parsed this way with the in-memory result; the caller parses it in memory."""


class SpooledPart(Message):
    """A MIME part; `decoded` is set when its body went to a file instead of `_payload`."""

    decoded: DecodedFile | None = None


def load(head: bytes, rest: BinaryIO, scratch: Path) -> Message:
    """The message whose first bytes are `head` and the rest `rest`, as `BytesParser(policy=compat32)`
    would parse it, base64 attachment bodies decoded into files under `scratch`."""
    parser = _Parser(scratch)
    parser.feed(head)
    while data := rest.read(READ_CHUNK):
        parser.feed(data)
    root = parser.close()
    if parser.sink is not None:  # the input ended inside a diverted part: the close finished it
        parser.finish_sink()
    for part, payload in parser.kept:  # the parser set an empty payload when each part ended
        part.set_payload(payload)
    return root


class _Input(BufferedSubFile):
    """The parser's line buffer; while a part is diverted its lines go to the sink, not the parser."""

    def __init__(self, parser: _Parser) -> None:
        super().__init__()
        self.parser = parser
        self.long_line = False  # in the middle of a long line that goes to the sink in pieces

    def push(self, data: str) -> None:
        sink = self.parser.sink
        if not isinstance(sink, _TextSink) or self._lines:
            super().push(data)
            return
        end = _LINE_END.search(data)
        if self.long_line:
            sink.line(data[: end.end()] if end else data)
            if end is None:
                return
            self.long_line, data = False, data[end.end() :]
        elif end is None and self._partial.tell() + len(data) > LONG_LINE:
            sink.line(self._partial.getvalue() + data)
            self._partial.seek(0)
            self._partial.truncate()
            self.long_line = True
            return
        super().push(data)

    def readline(self) -> Any:
        line = super().readline()
        while self.parser.sink is not None and isinstance(line, str):
            if not line:  # the part's end (a boundary, or the end of the input)
                self.parser.finish_sink()
                break
            self.parser.sink.line(line)
            line = super().readline()
        return line


class _Parser(BytesFeedParser):
    def __init__(self, scratch: Path) -> None:
        super().__init__(SpooledPart, policy=policy.compat32)
        self._input = _Input(self)
        self.scratch = scratch
        self.sink: _Base64Sink | _TextSink | None = None
        self._sink_part: SpooledPart | None = None
        self.kept: list[tuple[SpooledPart, str]] = []  # text parts and the payloads their sinks kept

    def _parse_headers(self, lines: list[str]) -> None:
        super()._parse_headers(lines)  # type: ignore[misc]
        part = self._cur  # type: ignore[attr-defined]
        ancestors = self._msgstack[:-1]  # type: ignore[attr-defined]
        if isinstance(part, SpooledPart) and _diverted(part, ancestors):
            self.sink = _Base64Sink(self.scratch)
            self._sink_part = part
        elif isinstance(part, SpooledPart) and (encoding := _text_body(part, ancestors)) is not None:
            self.sink = _TextSink(self.scratch, encoding, in_multipart=bool(ancestors))
            self._sink_part = part

    def finish_sink(self) -> None:
        sink, part = self.sink, self._sink_part
        self.sink = self._sink_part = None
        self._input.long_line = False
        if sink is not None and part is not None:
            part.decoded = sink.finish()
            if isinstance(sink, _Base64Sink) and sink.unpadded:  # what get_payload(decode=True) notes
                part.defects.append(errors.InvalidBase64PaddingDefect())
            if isinstance(sink, _TextSink):
                self.kept.append((part, sink.payload))


def _diverted(part: Message, ancestors: list[Message]) -> bool:
    """True for a base64 leaf that `message._read_body` will make an attachment of, and that the
    feedparser reads as a plain leaf (not message/*, not multipart), outside any message/* part."""
    try:
        if part.get_content_maintype() in ("message", "multipart"):
            return False
        if any(a.get_content_maintype() == "message" for a in ancestors):
            return False
        shadow = view(part)
        ctype = content_type(shadow)
        if ctype.startswith("multipart/") or ctype.startswith("message/"):
            return False
        # the same test Message.get_payload(decode=True) makes before it base64-decodes
        if str(shadow.get("content-transfer-encoding", "")).lower() != "base64":
            return False
        return not make_leaf(part, shadow, ctype, ()).is_body_candidate
    except Exception:
        return False


def _text_body(part: Message, ancestors: list[Message]) -> str | None:
    """The transfer encoding of a text body candidate that a _TextSink can take (outside message/*
    parts, not uuencoded); None for any other part."""
    try:
        if part.get_content_maintype() in ("message", "multipart"):
            return None
        if any(a.get_content_maintype() == "message" for a in ancestors):
            return None
        shadow = view(part)
        ctype = content_type(shadow)
        encoding = str(shadow.get("content-transfer-encoding", "")).strip().lower()
        if ctype not in ("text/plain", "text/html") or encoding in ("x-uuencode", "uuencode", "uue", "x-uue"):
            return None
        return encoding if make_leaf(part, shadow, ctype, ()).is_body_candidate else None
    except Exception:
        return None


_LINE_END = re.compile(r"\r\n|\r|\n")
_EOL_AT_END = re.compile(r"(\r\n|\r|\n)\Z")


class _TextSink:
    """A text body part's lines. `payload` is what the parser would have made of them (the line end
    before a boundary belongs to the boundary), or, past KEEP_TEXT characters, its first KEEP_TEXT
    characters; then `finish()` gives the whole part decoded into a file, else None."""

    def __init__(self, scratch: Path, encoding: str, in_multipart: bool) -> None:
        self.scratch, self.encoding, self.in_multipart = scratch, encoding, in_multipart
        self._kept: list[str] = []
        self._size = 0
        self._file: _Base64Sink | _QuotedPrintableSink | _RawSink | None = None
        self._last = ""  # held back: its line end may belong to the boundary
        self.payload = ""

    def line(self, text: str) -> None:
        if self._last:
            self._take(self._last)
        self._last = text

    def finish(self) -> DecodedFile | None:
        last = _EOL_AT_END.sub("", self._last) if self.in_multipart else self._last
        if last:
            self._take(last)
        self.payload = "".join(self._kept)
        return self._file.finish() if self._file is not None else None

    def _take(self, text: str) -> None:
        if self._file is None and self._size + len(text) <= KEEP_TEXT:
            self._kept.append(text)
            self._size += len(text)
            return
        if self._file is None:
            sink = {"base64": _Base64Sink, "quoted-printable": _QuotedPrintableSink}.get(self.encoding, _RawSink)
            self._file = sink(self.scratch)
            for kept in self._kept:
                self._file.line(kept)
            self._kept.append(_cut(text[: KEEP_TEXT - self._size]))
            self._size = KEEP_TEXT
        self._file.line(text)


def _cut(text: str) -> str:
    """A prefix of an encoded line that decodes as the start of the whole: no half of a
    quoted-printable escape (message.py drops a cut character at the end of what it decodes to)."""
    end = len(text)
    if "=" in text[max(end - 2, 0) : end]:
        end = text.rfind("=", 0, end)
    return text[:end]


class _Base64Sink:
    """Decodes base64 body lines into a file exactly as `email._encoded_words.decode_b` decodes the
    joined lines (what `get_payload(decode=True)` returns): characters outside the alphabet are
    skipped, decoding stops at a completed padding, a last quad of 2 or 3 characters is padded. A
    last quad of 1 character (decode_b then returns the undecoded text) raises Unsupported."""

    def __init__(self, scratch: Path) -> None:
        self.path = scratch / f"part-{os.urandom(8).hex()}"
        self._out = os.fdopen(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        self._lines: list[str] = []
        self._buffered = 0
        self._pending = bytearray()  # alphabet characters not decoded yet
        self._pads = 0
        self._done = False
        self._hash = hashlib.sha256()
        self._size = 0
        self.unpadded = False  # the data ended inside a quad, without padding: truncated

    def line(self, line: str) -> None:
        if self._done:
            return
        self._lines.append(line)
        self._buffered += len(line)
        if self._buffered >= DECODE_CHUNK:
            self._take()

    def finish(self) -> DecodedFile:
        self._take()
        rest = len(self._pending) % 4
        if rest == 1 and not self._done:
            raise Unsupported("a base64 part ends one character into a quad")
        self.unpadded = bool(rest) and not self._done
        tail = bytes(self._pending) + (b"==" if rest else b"")
        self._write(binascii.a2b_base64(tail))
        self._out.close()
        return DecodedFile(self.path, self._hash.hexdigest(), self._size)

    def _take(self) -> None:
        data = "".join(self._lines).encode("ascii", "surrogateescape")
        self._lines, self._buffered = [], 0
        start = 0
        while not self._done:
            pad = data.find(b"=", start)
            chunk = (data[start:] if pad < 0 else data[start:pad]).translate(None, _NOT_ALPHABET)
            if chunk:
                self._pads = 0
                self._pending += chunk
            if pad < 0:
                break
            quad = len(self._pending) % 4
            if quad >= 2:
                self._pads += 1
                self._done = quad + self._pads >= 4
            start = pad + 1
        whole = len(self._pending) - len(self._pending) % 4
        if whole and not self._done:
            self._write(binascii.a2b_base64(self._pending[:whole]))
            del self._pending[:whole]

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._hash.update(data)
        self._size += len(data)


class _RawSink(_Base64Sink):
    """A 7bit, 8bit or binary part's bytes into a file as they are (the base64 sink's file, unencoded)."""

    def line(self, line: str) -> None:
        self._write(line.encode("ascii", "surrogateescape"))

    def finish(self) -> DecodedFile:
        self._out.close()
        return DecodedFile(self.path, self._hash.hexdigest(), self._size)


class _QuotedPrintableSink(_RawSink):
    """A quoted-printable part decoded into a file as `quopri.decodestring` decodes it whole (it works
    line by line; a piece of a long line keeps a cut escape for the next)."""

    def __init__(self, scratch: Path) -> None:
        super().__init__(scratch)
        self._carry = b""

    def line(self, line: str) -> None:
        data = self._carry + line.encode("ascii", "surrogateescape")
        cut = len(data)
        if not data.endswith((b"\n", b"\r")):  # a piece of a long line: an escape may go on in the next
            escape = data.rfind(b"=", max(len(data) - 2, 0))
            cut = escape if escape >= 0 else cut
        self._carry = data[cut:]
        self._write(binascii.a2b_qp(data[:cut]))

    def finish(self) -> DecodedFile:
        self._write(binascii.a2b_qp(self._carry))
        return super().finish()
