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

# Labels that mail clients write but mean a larger charset (as browsers decode them, WHATWG-style).
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cn-gb": "gb18030",
    "euc-cn": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "tis-620": "cp874",
    "iso-8859-11": "cp874",
    "unicode-1-1-utf-7": "utf-7",
}


@functools.lru_cache(maxsize=256)
def codec_for(label: str | None) -> str | None:
    """The Python codec for a charset label as written in mail, or None when we do not know it."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
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


def decode_bytes(data: bytes, label: str | None = None) -> tuple[str, str | None]:
    """Decode with the declared charset, then UTF-8, then cp1252/latin-1; return (text, note or None).

    8-bit labels (latin-1, cp125x) are tried after UTF-8: they never fail, and valid UTF-8 under a
    latin-1 label is far more often a mislabel than real latin-1 text.
    """
    codec = codec_for(label)
    note = None if codec or not label else f"unknown charset {label!r}"
    if data.isascii() and (codec is None or _single_byte(codec) or codec == "utf-8"):
        return data.decode("ascii"), note
    order: list[str] = []
    if codec and not _single_byte(codec):
        order.append(codec)
        order.extend(_SIBLINGS.get(codec, ()))
    if not (codec and codec.startswith("iso2022")):  # 7-bit: "valid UTF-8" would mean raw escapes
        order.append("utf-8")
    if codec and _single_byte(codec):
        order.append(codec)
    for candidate in order:
        try:
            text = _jis_via_cp932(data) if candidate == "jis-cp932" else data.decode(candidate)
        except (UnicodeDecodeError, LookupError, ValueError):
            continue
        if codec and candidate != codec and codec != "cp1252":
            note = f"text labelled {label!r} is not valid {codec}; decoded as {candidate}"
        return text, note
    if codec and codec not in ("utf-8", "utf-7"):
        text = data.decode(codec, "replace")
        return text, f"text labelled {label!r} has bytes invalid in {codec}; replaced"
    return _cp1252(data), note or f"text labelled {label!r} is not valid; decoded as cp1252"


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


def raw_header_text(value: str, hint: str | None = None) -> str:
    """A raw header value as the parser stored it (8-bit bytes as surrogates) turned into text."""
    if value.isascii():
        return value
    return decode_bytes(value.encode("utf-8", "surrogateescape"), hint)[0]


def decode_header(value: str, hint: str | None = None) -> tuple[str, list[str]]:
    """Unfold and decode a raw header value, tolerating malformed RFC 2047 words and raw 8-bit bytes.

    Adjacent encoded words are joined before decoding (mailers split multi-byte characters across
    words) and encoded words are decoded wherever they appear, even inside quotes or words.
    """
    notes: list[str] = []
    text = _FOLD.sub("", raw_header_text(value.rstrip(), hint))
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
    """Readable plain text for an HTML body (links kept, no line wrapping)."""
    if len(html) > _FAST_HTML_LIMIT:
        return strip_tags(html)
    import html2text

    converter = html2text.HTML2Text(bodywidth=0)
    converter.unicode_snob = True
    converter.ignore_images = True
    converter.ignore_emphasis = True
    try:
        return converter.handle(html).strip("\n") + "\n"
    except Exception:  # html2text trips over some broken markup; tag stripping still gives the words
        return strip_tags(html)


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
