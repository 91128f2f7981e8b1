"""Comparing our parse of the Zammad corpus with Zammad's own parser output, field by field."""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from ticketctl.engine.mail.message import Address, ParsedMessage, parse

FIELDS = ("from_email", "from_display_name", "subject", "to", "cc", "body", "attachments")


@dataclass
class Tally:
    matched: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    mismatches: dict[str, list[str]] = field(default_factory=lambda: {f: [] for f in FIELDS})


def ours(parsed: ParsedMessage, name: str) -> object:
    if name == "from_email":
        return parsed.from_.email if parsed.from_ else ""
    if name == "from_display_name":
        return parsed.from_.name if parsed.from_ else ""
    if name == "subject":
        return parsed.subject
    raise KeyError(name)


def address_renderings(parsed: ParsedMessage, name: str) -> tuple[str, str]:
    """The decoded header as written, and the parsed list written back as Zammad's mail library does."""
    as_written = ", ".join(parsed.headers.get(name, []))
    return as_written, ", ".join(_render(a) for a in getattr(parsed, name))


def _render(address: Address) -> str:
    if not address.name:
        return address.email
    special = re.search(r'[()<>\[\]:;@\\,."]', address.name) or not address.name.isascii()
    return f'"{address.name}" <{address.email}>' if special else f"{address.name} <{address.email}>"


def words(text: str) -> str:
    """Only the letters and digits of a text with tags and entities removed: for loose body compares."""
    text = html.unescape(re.sub(r"<title>.*?</title>|<[^>]*>", " ", text))
    return "".join(ch for ch in text.lower() if ch.isalnum())


def body_matches(parsed: ParsedMessage, expected_first_200: str) -> bool:
    """Zammad's body (often its sanitised HTML, which can start with the <title>) shares its first or
    last 30 letters with ours; Zammad's "no visible content" means an empty body."""
    if expected_first_200 == "no visible content":
        return not parsed.body_text.strip()
    want = words(re.sub(r"<[^>]*$", "", expected_first_200))
    ours = words(parsed.body_text)
    return want[:30] in ours or want[-30:] in ours


def attachment_keys(parsed: ParsedMessage) -> set[tuple[str, int, str]]:
    return {(a.filename, a.size, hashlib.md5(a.payload).hexdigest()) for a in parsed.attachments}


def expected_attachment_keys(entries: list[dict]) -> set[tuple[str, int, str]]:
    # message.html is Zammad's copy of the HTML alternative, which we keep as body_html instead.
    return {(e["filename"], e["size"], e["md5"]) for e in entries if e["filename"] != "message.html"}


def compare(messages: Path, expected: dict[str, dict], skips: dict[tuple[str, str], str]) -> Tally:
    tally = Tally()
    for file_name, exp in sorted(expected.items()):
        parsed = parse((messages / file_name).read_bytes())
        for name in FIELDS:
            if (file_name, name) in skips:
                continue
            if name == "body":
                if "body_first_200" not in exp:
                    continue
                ok = body_matches(parsed, exp["body_first_200"])
                got, want = parsed.body_text[:80], exp["body_first_200"][:80]
            elif name == "attachments":
                if "attachments" not in exp:
                    continue
                got, want = attachment_keys(parsed), expected_attachment_keys(exp["attachments"])
                ok = got == want
            elif name in ("to", "cc"):
                if name not in exp:
                    continue
                got, want = address_renderings(parsed, name), exp[name]
                ok = want in got
            else:
                if name not in exp or exp[name] is None:
                    continue
                got, want = ours(parsed, name), exp[name]
                ok = got == want
            if ok:
                tally.matched[name] += 1
            else:
                tally.mismatches[name].append(f"{file_name}: got {got!r}, Zammad {want!r}")
    return tally
