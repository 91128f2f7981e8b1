"""Safe attachment file names: one path component, printable, bounded, never empty."""

from __future__ import annotations

import re
import unicodedata

MAX_BYTES = 200  # well under the 255-byte limit of common file systems, leaving room for suffixes
_EXTENSIONS = {
    "text/plain": ".txt",
    "text/html": ".html",
    "message/rfc822": ".eml",
    "message/delivery-status": ".txt",
    "text/rfc822-headers": ".txt",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "application/octet-stream": ".bin",
}


def safe_filename(name: str | None, content_type: str, index: int) -> str:
    """`name` reduced to a harmless file name, or `attachment-<index><ext>` when nothing is left."""
    cleaned = _clean(name or "")
    return cleaned or f"attachment-{index}{extension_for(content_type)}"


def extension_for(content_type: str) -> str:
    if content_type in _EXTENSIONS:
        return _EXTENSIONS[content_type]
    import mimetypes

    return mimetypes.guess_extension(content_type, strict=False) or ".bin"


def _clean(name: str) -> str:
    name = unicodedata.normalize("NFC", name)
    # Control and format characters (escape sequences, bidi overrides that disguise "exe.txt").
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    name = re.split(r"[/\\]", name)[-1]  # keep the last path component, as browsers do
    name = name.strip().strip(".").strip()
    if not name or set(name) <= {"."}:
        return ""
    return _shorten(name)


def _shorten(name: str) -> str:
    if len(name.encode("utf-8")) <= MAX_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 16 or not stem:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = MAX_BYTES - len(suffix.encode("utf-8"))
    short = stem.encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip(" .")
    return short + suffix
