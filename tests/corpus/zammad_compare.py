"""Comparing our parse of the Zammad corpus with Zammad's own parser output, field by field.

`python -m tests.corpus.zammad_compare [CORPUS]` prints the agreement per field and every disagreement.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import sys
from dataclasses import dataclass, field
from email.utils import getaddresses
from pathlib import Path

from ticketctl.engine.mail.message import Address, ParsedMessage, parse

# The fields of the Zammad issue (agreement held at 99%), then those held at their floors.
SENDER_FIELDS = ("from", "from_email", "from_display_name", "subject", "body")
FIELDS = (*SENDER_FIELDS, "to", "cc", "attachments")
BODY_CHARS = 200  # Zammad's expectation holds the first 200 characters of its body


@dataclass
class Tally:
    compared: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    matched: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    mismatches: dict[tuple[str, str], str] = field(default_factory=dict)  # (file, field) -> what differs

    def agreement(self, name: str, ours_right: set[tuple[str, str]]) -> float:
        """Share of the compared values that agree, counting those where Zammad is wrong as agreeing."""
        right = sum(1 for key in self.mismatches if key[1] == name and key in ours_right)
        return 100 * (self.matched[name] + right) / self.compared[name] if self.compared[name] else 100.0


def _render(address: Address) -> str:
    """An address written back as Zammad's mail library writes it (quotes only where needed)."""
    if not address.name:
        return address.email
    special = re.search(r'[()<>\[\]:;@\\,."]', address.name) or not address.name.isascii()
    return f'"{address.name}" <{address.email}>' if special else f"{address.name} <{address.email}>"


def normal_address_list(value: str) -> str:
    """An address header with its quoting and spacing normalised the way Zammad writes it back."""
    return ", ".join(_render(Address(n.strip(), e.strip())) for n, e in getaddresses([value]) if n or e)


def address_renderings(parsed: ParsedMessage, name: str) -> tuple[str, str]:
    """The decoded header as written, and the parsed list written back as Zammad's mail library does."""
    as_written = ", ".join(parsed.headers.get(name, []))
    return as_written, ", ".join(_render(a) for a in getattr(parsed, name))


def letters(text: str) -> str:
    """Text without whitespace: the whitespace-normalised form bodies are compared in."""
    return re.sub(r"\s+", "", text)


def html_text(markup: str) -> str:
    """The text of HTML (tags removed, entities decoded), for comparing sanitised HTML by its text."""
    markup = re.sub(r"<[^>]*$", "", markup)  # a tag cut off by Zammad's first 200 characters
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


_HTML_TAG = re.compile(r"(?i)<(p|div|span|b|br|img|table|center|strong|a|html|body)\b")


def body_agrees(parsed: ParsedMessage, exp: dict) -> tuple[bool, str, str]:
    """Zammad's body against ours of the same type: its text/plain against our text, its (sanitised)
    HTML against the text of our sanitised HTML, both the first 200 characters, whitespace-free.
    Zammad's "no visible content" means an empty body. Returns (agrees, ours, Zammad's)."""
    want = exp.get("body_first_200", exp.get("body", ""))
    if want == "no visible content":
        return not parsed.body_text.strip(), letters(parsed.body_text)[:80], ""
    is_html = exp.get("content_type") == "text/html" or (exp.get("content_type") is None and _HTML_TAG.search(want))
    if is_html:  # against our text where we have no HTML (Zammad makes HTML of text with inline images)
        ours = html_text(parsed.body_html) if parsed.body_html is not None else parsed.body_text
        want, got = letters(html_text(want)), letters(ours)
    else:
        want, got = letters(want[:BODY_CHARS]), letters(parsed.body_text)
    return got.startswith(want), got[: len(want) + 20], want


def attachment_keys(parsed: ParsedMessage) -> set[tuple[str, int, str]]:
    return {(a.filename, a.size, hashlib.md5(a.read()).hexdigest()) for a in parsed.attachments}


def expected_attachment_keys(entries: list[dict]) -> set[tuple[str, int, str]]:
    # message.html is Zammad's copy of the HTML alternative, which we keep as body_html instead.
    return {(e["filename"], e["size"], e["md5"]) for e in entries if e["filename"] != "message.html"}


def _compare_one(parsed: ParsedMessage, name: str, exp: dict) -> tuple[bool, object, object] | None:
    """(agrees, ours, Zammad's) for one field of one message; None if Zammad says nothing about it."""
    if name == "body":
        if "body_contains" in exp:
            found = exp["body_contains"] in (parsed.body_html or "") + parsed.body_text
            return found, found, True
        if "body_first_200" not in exp and "body" not in exp:
            return None
        return body_agrees(parsed, exp)
    if name not in exp or exp[name] is None:
        return None
    want = exp[name]
    if name == "from":  # our decoded From header(s), or our sender, written as Zammad writes addresses
        ours = [normal_address_list(v) for v in parsed.headers.get("from", [])]
        ours += [_render(parsed.from_)] if parsed.from_ else []
        return normal_address_list(want) in ours, ours, want
    if name == "from_email":
        got = parsed.from_.email if parsed.from_ else ""
    elif name == "from_display_name":
        got = parsed.from_.name if parsed.from_ else ""
    elif name == "subject":
        got = parsed.subject
    elif name in ("to", "cc"):
        renderings = address_renderings(parsed, name)
        return want in renderings, renderings, want
    else:  # attachments
        got_keys, want_keys = attachment_keys(parsed), expected_attachment_keys(want)
        return got_keys == want_keys, sorted(got_keys - want_keys), sorted(want_keys - got_keys)
    return got == want, got, want


def compare(messages: Path, expected: dict[str, dict]) -> Tally:
    tally = Tally()
    for file_name, exp in sorted(expected.items()):
        parsed = parse((messages / file_name).read_bytes())
        for name in FIELDS:
            outcome = _compare_one(parsed, name, exp)
            if outcome is None:
                continue
            agrees, got, want = outcome
            tally.compared[name] += 1
            if agrees:
                tally.matched[name] += 1
            else:
                tally.mismatches[(file_name, name)] = f"ours {got!r}, Zammad {want!r}"
    return tally


def report(tally: Tally, ours_right: set[tuple[str, str]]) -> str:
    lines = [f"{'field':18} {'agree':>6} {'+ours right':>11} {'of':>4} {'agreement':>9}"]
    for name in FIELDS:
        right = sum(1 for key in tally.mismatches if key[1] == name and key in ours_right)
        lines.append(
            f"{name:18} {tally.matched[name]:6} {right:11} {tally.compared[name]:4}"
            f" {tally.agreement(name, ours_right):8.1f}%"
        )
    total = sum(tally.compared[f] for f in SENDER_FIELDS)
    matched = sum(tally.matched[f] for f in SENDER_FIELDS)
    lines.append(f"{'issue fields':18} {matched:6} {'':11} {total:4} {100 * matched / total:8.1f}% (Zammad's values)")
    lines += [f"  {file} {name}: {what}" for (file, name), what in sorted(tally.mismatches.items())]
    return "\n".join(lines)


if __name__ == "__main__":
    from tests.corpus.test_corpus import CORPUS, ZAMMAD_WRONG

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS
    data = json.loads((root / "zammad" / "expected.json").read_text(encoding="utf-8"))
    print(report(compare(root / "zammad" / "messages", data), set(ZAMMAD_WRONG)))
