"""Turning mail bytes into text without ever failing: charsets, RFC 2047 headers, HTML.

Every decoder here returns a `str` (with replacement characters when nothing fits) plus, where it
had to guess, a short note that the parser records as a defect.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from html2text import HTML2Text

# Labels that mail clients write but Python's codec registry does not know.
_ALIASES = {
    "x-gbk": "gbk",
    "cn-gb": "gb2312",
    "x-big5": "big5",
    "x-sjis": "shift_jis",
    "windows-31j": "cp932",
    "iso-8859-8-i": "iso-8859-8",
}

# Charsets that mail means as a larger one (as browsers decode them, WHATWG-style), by codec name.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "iso2022_jp": "iso2022_jp_ext",
    "euc_kr": "cp949",
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "tis-620": "cp874",
    "iso8859-11": "cp874",
}


@functools.lru_cache(maxsize=256)
def codec_for(label: str | None) -> str | None:
    """The Python codec for a charset label as written in mail, or None when we do not know it."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    try:
        name = codecs.lookup(_ALIASES.get(name, name)).name
        return codecs.lookup(_SUPERSETS.get(name, name)).name
    except (LookupError, ValueError):
        return None


@functools.lru_cache(maxsize=256)
def _single_byte(codec: str) -> bool:
    """True for 8-bit charsets that decode any byte string, so a wrong label never shows as an error."""
    if codec.startswith("utf") or "2022" in codec or codec == "hz":  # stateful or multi-byte
        return False
    try:
        return len(bytes(range(256)).decode(codec, "replace")) == 256
    except (LookupError, ValueError):
        return False


def decode_bytes(data: bytes, label: str | None = None, declared: Declared | None = None) -> tuple[str, str | None]:
    """Decode text whose charset label may be missing, unknown or wrong; return (text, note or None).

    A multi-byte label is tried first, then UTF-8 and the charsets it is mistaken for in practice. An
    8-bit label (latin-1, cp125x) comes after UTF-8: it decodes any bytes, and valid UTF-8 under it is
    far more often a mislabel than real latin-1 text. UTF-8 with a few stray 8-bit bytes keeps its
    UTF-8. Only text with no usable label, or whose multi-byte label fails, has its charset detected,
    preferring the label and then the charsets the message `declared` elsewhere.
    """
    codec = codec_for(label)
    note = None if codec or not label else f"unknown charset {label!r}"
    if data.isascii() and (codec is None or _single_byte(codec) or codec == "utf-8"):
        return data.decode("ascii"), note
    for candidate in _candidates(codec, data):
        text = _strict(data, candidate)
        if text is not None:
            if codec and candidate != codec and codec != "cp1252":
                note = f"text labelled {label!r} is not valid {codec}; decoded as {candidate}"
            return text, note
    what = f"labelled {label!r}" if label else "without a charset"
    if data.isascii():  # a 7-bit label (ISO-2022) with broken escapes: nothing to detect
        return data.decode(codec or "ascii", "replace"), f"text {what} has bytes invalid in {codec}; replaced"
    mixed = _mostly_utf8(data)
    if mixed is not None:
        return mixed, f"text {what} is UTF-8 with stray 8-bit bytes, read as cp1252"
    if codec and _single_byte(codec):
        text = _strict(data, codec)
        if text is not None:
            return text, note
        return data.decode(codec, "replace"), f"text {what} has bytes invalid in {codec}; replaced"
    found = detect(data, [codec] if codec else [], declared)
    if found is not None:
        return data.decode(found, "replace"), f"text {what} is not valid {codec or 'UTF-8'}; detected {found}"
    if codec and codec not in ("utf-8", "utf-7"):
        return data.decode(codec, "replace"), f"text {what} has bytes invalid in {codec}; replaced"
    return _cp1252(data), f"text {what} is not valid; decoded as cp1252"


def _candidates(codec: str | None, data: bytes) -> list[str]:
    """The charsets to try strictly, in order, for text labelled `codec` (8-bit labels come later)."""
    # ISO-2022 is 7-bit: ASCII bytes that fail it are broken escapes, which "valid UTF-8" would keep raw.
    utf8 = [] if data.isascii() else ["utf-8"]
    if codec is None or _single_byte(codec):
        return utf8
    return list(dict.fromkeys([codec, *utf8, *_SIBLINGS.get(codec, ())]))


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return _jis_via_cp932(data) if codec == "jis-cp932" else data.decode(codec)
    except (UnicodeDecodeError, LookupError, ValueError):
        return None


_STRAY = re.compile("[\udc80-\udcff]+")


def _mostly_utf8(data: bytes) -> str | None:
    """Text that is UTF-8 but for a few stray 8-bit bytes (a signature or a pasted line in another
    charset), with those bytes read as cp1252; None unless nine in ten 8-bit bytes are valid UTF-8."""
    text = data.decode("utf-8", "surrogateescape")
    stray = sum(len(run) for run in _STRAY.findall(text))
    eight_bit = len(data) - len(data.translate(None, _HIGH_BYTES))
    if not stray or stray * 10 > eight_bit:
        return None
    return _STRAY.sub(lambda m: _cp1252(m.group().encode("utf-8", "surrogateescape")), text)


_HIGH_BYTES = bytes(range(0x80, 0x100))


# What detection may answer: the legacy charsets of the WHATWG Encoding Standard (what browsers and
# mail clients decode). Without this, charset-normalizer picks DOS, EBCDIC or Mac code pages for short
# texts, which fit as well as the right charset when there are only a few letters to go by.
_DETECTABLE = [
    "utf_8", "cp1252", "iso8859_15", "cp1250", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_10",
    "iso8859_13", "iso8859_14", "iso8859_16", "cp1257", "cp1251", "koi8_r", "koi8_u", "iso8859_5",
    "cp866", "cp1253", "iso8859_7", "cp1254", "cp1255", "iso8859_8", "cp1256", "iso8859_6", "cp874",
    "cp1258", "gb18030", "big5", "big5hkscs", "cp932", "shift_jis", "euc_jp", "cp949", "euc_kr",
]  # fmt: skip
# When the text does not tell (too few letters), the charsets most used in mail, most used first.
_USUAL = ["cp1252", "gb18030", "cp932", "cp949", "cp1251", "big5hkscs", "cp1250", "euc_jp", "koi8-r"]
# How much more garbled than the best reading (chaos: charset-normalizer's share of suspicious
# characters, at 0.2 of which it drops a charset) a charset the message declares may read the text
# and still be taken: a declaration is evidence, and a few letters in a row make chaos noisy.
_DECLARED_SLACK = 0.1
DETECT_SAMPLE = 64 * 1024  # bytes: detection reads up to this much of the lines that hold 8-bit bytes

Declared = Callable[[], list[str]]  # the charsets a message declares (asked only when detecting)


def detect(data: bytes, prefer: list[str], declared: Declared | None = None) -> str | None:
    """The charset of 8-bit text that has no usable label, by charset-normalizer, as a codec name.

    A short text fits many charsets about equally well, so the detector's ranking is only the last
    word: first comes a charset of `prefer` or then of `declared` (labels, e.g. those the message
    declares) that reads the text nearly as well as the best one, then of the usual charsets one
    that reads it as well (charset-normalizer's own tie: as little garbling, as much likeness to a
    language). None when no charset reads the text.
    """
    from charset_normalizer import from_bytes

    sample = _sample(data)
    try:
        matches = list(from_bytes(sample, cp_isolation=_DETECTABLE))
    except Exception:  # parse() must not fail because a detector did
        matches = []
    wanted = _with_siblings([*prefer, *(declared() if declared else [])])
    if not matches:
        return next((c for c in wanted if _strict(sample, c) is not None), None)
    best = matches[0]
    close = [m for m in matches if m.chaos <= best.chaos + _DECLARED_SLACK]
    ties = [m for m in close if m.chaos - best.chaos < 0.005 and best.coherence - m.coherence <= 0.02]
    for group, candidates in ((close, wanted), (ties, _USUAL)):
        for codec in candidates:
            if any(codec in map(codec_for, m.could_be_from_charset) for m in group):
                return codec
    return codec_for(best.encoding)


def _with_siblings(labels: list[str]) -> list[str]:
    """The codecs for `labels`, each followed by the charsets it is mistaken for (see _SIBLINGS)."""
    found: list[str] = []
    for codec in filter(None, map(codec_for, labels)):
        found += [codec, *(c for c in _SIBLINGS.get(codec, ()) if codec_for(c))]
    return list(dict.fromkeys(found))


_EIGHT_BIT = re.compile(rb"[\x80-\xff]")


def _sample(data: bytes) -> bytes:
    """The lines of `data` that hold 8-bit bytes, up to DETECT_SAMPLE bytes: where the charset shows
    (a large mostly-ASCII part would otherwise give the detector mostly ASCII to look at)."""
    if len(data) <= DETECT_SAMPLE:
        return data
    pieces: list[bytes] = []
    size = pos = 0
    while (hit := _EIGHT_BIT.search(data, pos)) is not None:
        start = max(pos, data.rfind(b"\n", 0, hit.start()) + 1)
        end = data.find(b"\n", hit.start())
        end = len(data) if end < 0 else end + 1
        if size + end - start > DETECT_SAMPLE:
            if not pieces:  # one huge line: cut it at a space, where no multi-byte character can be cut
                cut = data.rfind(b" ", start, start + DETECT_SAMPLE)
                pieces.append(data[start : cut if cut > start else start + DETECT_SAMPLE])
            break
        pieces.append(data[start:end])
        size, pos = size + end - start, end
    return b"".join(pieces)


# Charsets mislabelled as each other in practice (Shift_JIS bytes under an ISO-2022-JP label, ...).
_SIBLINGS = {
    "iso2022_jp_ext": ("jis-cp932", "cp932", "euc_jp"),
    "iso2022_jp": ("jis-cp932", "cp932", "euc_jp"),
    "cp932": ("euc_jp",),
    "euc_jp": ("cp932",),
    "gb18030": ("big5hkscs",),
    "big5hkscs": ("gb18030",),
}


def _jis_via_cp932(data: bytes) -> str:
    """ISO-2022-JP with Windows (NEC, IBM) characters such as ①, which Python's codecs refuse:
    the JIS byte pairs mapped arithmetically to Shift_JIS and decoded as cp932."""
    out = bytearray()
    mode = b"B"
    for chunk in re.split(rb"(\x1b(?:\$[@B]|\([BJI]))", data):
        if chunk.startswith(b"\x1b"):
            mode = b"2" if chunk[1:2] == b"$" else chunk[2:3]
            continue
        if mode == b"2":
            if len(chunk) % 2:
                raise UnicodeDecodeError("iso2022_jp", data, 0, len(data), "odd JIS byte count")
            for j1, j2 in zip(chunk[::2], chunk[1::2], strict=True):
                s1 = (j1 + 1) // 2 + 0x70
                s1 += 0x40 if s1 > 0x9F else 0
                s2 = j2 + 0x1F + (j2 >= 0x60) if j1 % 2 else j2 + 0x7E
                out += bytes((s1, s2))
        elif mode == b"I":
            out += bytes(b + 0x80 for b in chunk)
        else:
            out += chunk
    return out.decode("cp932")


def _cp1252(data: bytes) -> str:
    # cp1252 leaves five bytes undefined; latin-1 gives those a (control) character instead of failing.
    return data.decode("cp1252", "_latin1_fallback")


def _latin1_fallback(err: UnicodeError) -> tuple[str, int]:
    assert isinstance(err, UnicodeDecodeError)
    return err.object[err.start : err.end].decode("latin-1"), err.end


codecs.register_error("_latin1_fallback", _latin1_fallback)


# --- headers ---------------------------------------------------------------------------------

# The payload may contain spaces: invalid, but common enough (and unambiguous) to decode.
_ENCODED_WORD = re.compile(r"=\?([^?\s]+?)\?([bBqQ])\?([^?]*?)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_BETWEEN_WORDS = re.compile(r"[ \t\r\n]*")


def raw_header_text(value: str, charset: str | None = None) -> str:
    """A raw header value as the parser stored it (8-bit bytes as surrogates) turned into text: UTF-8
    where it is valid, else `charset` (the message's, from `header_charset`)."""
    if value.isascii():
        return value
    data = value.encode("utf-8", "surrogateescape")
    text = _strict(data, "utf-8") or (_strict(data, charset) if charset else None)
    return text if text is not None else decode_bytes(data, charset)[0]


def header_charset(values: list[str], declared: Declared) -> str | None:
    """The charset of a message's raw 8-bit header values that are not UTF-8 (old mailers wrote them in
    their own charset), detected over all of them at once, since one header gives few letters to go
    by. None if there are no such values."""
    raw = (v.encode("utf-8", "surrogateescape") for v in values if not v.isascii())
    odd = [data for data in raw if _strict(data, "utf-8") is None]
    if not odd:
        return None
    return detect(b"\n".join(odd), [], declared)


def decode_header(value: str, charset: str | None = None) -> tuple[str, list[str]]:
    """Unfold and decode a raw header value, tolerating malformed RFC 2047 words and raw 8-bit bytes.

    Adjacent encoded words are joined before decoding (mailers split multi-byte characters across
    words) and encoded words are decoded wherever they appear, even inside quotes or words.
    """
    notes: list[str] = []
    text = _FOLD.sub("", raw_header_text(value.rstrip(), charset))
    if "=?" not in text:
        return text, notes
    out: list[str] = []
    pending: list[tuple[str | None, bytes]] = []  # runs of adjacent encoded words: (label, bytes)
    pos = 0
    for match in _ENCODED_WORD.finditer(text):
        gap = text[pos : match.start()]
        if pending and _BETWEEN_WORDS.fullmatch(gap) is None or (not pending and gap):
            _flush(pending, out, notes)
            out.append(gap)
        label = match.group(1).split("*", 1)[0]  # RFC 2231 language suffix: =?utf-8*de?Q?...?=
        data = _word_bytes(match.group(2), match.group(3), notes)
        if pending and pending[-1][0] == label:
            pending[-1] = (label, pending[-1][1] + data)
        else:
            pending.append((label, data))
        pos = match.end()
    _flush(pending, out, notes)
    out.append(text[pos:])
    return "".join(out), notes


def _word_bytes(encoding: str, payload: str, notes: list[str]) -> bytes:
    if encoding in "qQ":
        raw = payload.replace("_", " ").encode("ascii", "surrogateescape")
        return binascii.a2b_qp(raw)
    data = re.sub(r"\s", "", payload).encode("ascii", "surrogateescape")
    try:
        return base64.b64decode(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        notes.append("malformed base64 encoded word in a header")
        return base64.b64decode(re.sub(rb"[^A-Za-z0-9+/]", b"", data)[: len(data) // 4 * 4] or b"")


def _flush(pending: list[tuple[str | None, bytes]], out: list[str], notes: list[str]) -> None:
    for label, data in pending:
        text, note = decode_bytes(data, label)
        if note:
            notes.append(f"header: {note}")
        out.append(text)
    pending.clear()


# --- HTML ------------------------------------------------------------------------------------

_FAST_HTML_LIMIT = 1_000_000  # characters; above this, html2text (pure Python) gets slow


def html_to_text(html: str) -> str:
    """Readable plain text for an HTML body: no line wrapping, no Markdown, links as `text <url>`."""
    if len(html) > _FAST_HTML_LIMIT:
        return strip_tags(html)
    try:
        text = _plain_text_converter()().handle(html)
    except Exception:  # html2text trips over some broken markup; tag stripping still gives the words
        return strip_tags(html)
    # html2text ends a line at <br> with two spaces (Markdown's line break): invisible, so dropped
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n")) + "\n"


@functools.cache
def _plain_text_converter() -> type[HTML2Text]:
    import html2text

    class PlainText(html2text.HTML2Text):
        """html2text's reading of HTML, written as plain text rather than its Markdown: no escapes, no
        heading, code or strike marks, table cells apart instead of Markdown tables, and links written
        as `text <url>`, as mail clients write them in the text part of a mail."""

        def __init__(self) -> None:
            super().__init__(bodywidth=0)
            self.unicode_snob = True  # the characters themselves, not ASCII look-alikes
            self.ignore_images = True
            self.ignore_emphasis = True
            self.ignore_tables = True
            self.ignore_links = True  # written by _link instead
            self.open_links: list[tuple[str, list[str]]] = []  # each open <a>: its URL, its text so far

        def handle_data(self, data: str, entity_char: bool = False) -> None:
            for _, text in self.open_links:
                text.append(data)
            super().handle_data(data, entity_char=True)  # as for an entity: written as is, unescaped

        def handle_tag(self, tag: str, attrs: dict[str, str | None], start: bool) -> None:
            if tag in ("del", "strike", "s", "code", "kbd", "tt"):
                return
            if html2text.utils.hn(tag):
                tag = "p"
            super().handle_tag(tag, attrs, start)
            if tag in ("td", "th") and not start:
                self.o("  ")
            elif tag == "a":
                self._link(attrs.get("href") or "", start)

        def _link(self, href: str, start: bool) -> None:
            if start:
                self.open_links.append((href, []))
                return
            if not self.open_links:
                return
            url, words = self.open_links.pop()
            text = "".join(words).strip()
            if text and re.match(r"(?i)(https?|ftp)://", url) and text not in (url, url.split("://", 1)[1]):
                self.o(f" <{url}>")

    return PlainText


def strip_tags(html: str) -> str:
    """All text of an HTML document, without scripts or styles; linear time for any size."""
    import html as htmllib

    import nh3

    text = nh3.clean(re.sub(r"(?i)<\s*(br|/p|/div|/tr|/h\d|/li)\b[^>]*>", "\n", html), tags=set())
    return htmllib.unescape(text)


def sanitise_html(html: str) -> str:
    """HTML safe to show: no scripts, styles, event handlers or dangerous links; `cid:` images kept."""
    import nh3

    schemes = set(nh3.ALLOWED_URL_SCHEMES) | {"cid"}
    return nh3.clean(html, url_schemes=schemes, link_rel="noopener noreferrer nofollow")
