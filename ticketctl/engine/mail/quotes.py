"""What a reply adds: the words just written, without the quoted history, the client's attribution or
header block, the signature, and never a copy of a mail we wrote ourselves.

- `ours` are the texts of the mails we sent on the ticket. Where a copy of one of them starts (its
  first words, quoted or not, rewrapped or not), the text is cut, with the attribution or header block
  above it; a copy at the very top (an answer written under it) is skipped instead. This does not
  depend on recognising the quoting client, so our notices never travel on.
- mail-parser-reply finds where quoted history begins: "On … wrote:", "Am … schrieb …:" and their
  kin, and the From:/Sent: blocks of Outlook, in the languages of LANGUAGES. A block of "Key: value"
  lines without a From line is not taken for one ("Date: …" and "Subject: …" in a customer's own
  text stay).
- `>`-quoted lines are dropped wherever they are, so an answer written below or between quotes keeps
  its words; history under a header block that is not `>`-quoted (Outlook) is cut to the end.
- The first `-- ` line starts the signature: it and all after it go.

When in doubt text is kept: if all this leaves nothing of a reply that had words outside quotes and
our mails, those words are kept as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

# mail-parser-reply's languages whose patterns are safe on text in other languages: its Polish header
# pattern takes one "Do:" or "Data:" line for an Outlook block; CJK and vendor patterns are left out.
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "sv", "da")
MAX_CHARS = 100_000  # longer texts skip the library (~10 µs a character on some inputs); ours are still cut
START_WORDS = 8  # this many first words of one of our mails mark where a copy of it starts
MIN_WORDS = 4  # a mail of ours with fewer words cannot be told from someone's own words
OURS_CHARS = 200_000  # the part of each mail of ours that is compared

_WORD = re.compile(r"\w+")
_QUOTED = re.compile(r"^\s*>")
_SIGNATURE = re.compile(r"^\\?--\s*$")  # "-- ", which html2text writes as "\--"
_KEY_LINE = re.compile(r"^\W{0,3}[^\W\d][\w .'-]{0,30}:(\s|$)")
_FROM_KEY = re.compile(r"^\W{0,3}(from|von|de|da|van|från|fra|od)\W{0,3}\s*:", re.IGNORECASE)
_RULE = re.compile(r"^[\s\W_]{3,}$|^-{3,}.*-{3,}$")


def new_text(text: str, ours: Iterable[str] = (), history: list[str] | None = None) -> str:
    """The new words of reply `text`, given the texts of the mails we sent on its ticket (and its
    `history_of`, when that was read ahead)."""
    lines = _normalise(text)
    mails = [mail for mail in (_Ours(t) for t in ours if t) if mail.usable()]
    cut = _tidy(_cut_signature(_without_ours(_without_history(lines) if history is None else history, mails)))
    if cut:
        return cut
    return _tidy(_without_ours([line for line in lines if not _quoted(line)], mails))


def history_of(text: str) -> list[str]:
    """The lines of `text` without its quoted history: what `new_text` cuts first, whatever we sent
    on the ticket (the costly part: a parse worker reads it ahead for a mail that looks like a reply)."""
    return _without_history(_normalise(text))


_REPLY_SUBJECT = re.compile(r"^\s*(re|aw|sv|vs|antw|odp|rif|res|ynt|atb)\s*(\[\d+\])?\s*:", re.IGNORECASE)


def looks_like_reply(in_reply_to: list[str], references: list[str], subject: str) -> bool:
    """A mail that names one before it, or whose subject says it answers one."""
    return bool(in_reply_to or references or _REPLY_SUBJECT.match(subject))


def _normalise(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [line.rstrip() for line in text.split("\n")]


def _tidy(lines: Sequence[str]) -> str:
    """The lines as text: no blank lines at either end, no run of more than one."""
    out: list[str] = []
    for line in lines:
        if line.strip() or (out and out[-1].strip()):
            out.append(line if line.strip() else "")
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _quoted(line: str) -> bool:
    return bool(_QUOTED.match(line))


def _cut_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if _SIGNATURE.match(line):
            return lines[:i]
    return lines


# --- our own mails -------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


class _Ours:
    """One mail we sent: its first words and all its words, to find a copy of it in a reply."""

    def __init__(self, text: str) -> None:
        words = _words(text[:OURS_CHARS])
        self.start = tuple(words[:START_WORDS])
        self._joined = f" {' '.join(words)} "

    def usable(self) -> bool:
        return len(self.start) >= MIN_WORDS

    def holds(self, line_words: list[str]) -> bool:
        """Whether these words, in this order, are a run of this mail's words."""
        return f" {' '.join(line_words)} " in self._joined


def _without_ours(lines: list[str], ours: list[_Ours]) -> list[str]:
    if not ours:
        return lines
    while True:
        found = _first_copy(lines, ours)
        if found is None:
            return lines
        start, mail = found
        above = _trim_attribution(lines[:start])
        if any(line.strip() and not _quoted(line) for line in above):
            return above  # an answer on top of the copy: the copy and all after it is history
        end = start
        while end < len(lines) and (not _words(lines[end]) or mail.holds(_words(lines[end]))):
            end += 1
        end = max(end, start + 1)
        lines = above + lines[end:]  # an answer under the copy: skip the copy, look on


def _first_copy(lines: list[str], ours: list[_Ours]) -> tuple[int, _Ours] | None:
    """The first line at which one of our mails starts again (its first words, across line breaks)."""
    words: list[str] = []
    line_of: list[int] = []
    starts: list[int] = []  # index into words of each line's first word
    for i, line in enumerate(lines):
        found = _words(line)
        if found:
            starts.append(len(words))
            words.extend(found)
            line_of.extend([i] * len(found))
    by_length: dict[int, dict[tuple[str, ...], _Ours]] = {}
    for mail in ours:
        by_length.setdefault(len(mail.start), {}).setdefault(mail.start, mail)
    for position in starts:
        for length, table in by_length.items():
            found_mail = table.get(tuple(words[position : position + length]))
            if found_mail is not None:
                return line_of[position], found_mail
    return None


def _trim_attribution(lines: list[str]) -> list[str]:
    """`lines` without the attribution or header block at their end ("On … wrote:", "From: …",
    a rule of underscores), which introduced what followed."""
    end = len(lines)
    taken = 0
    while end > 0 and taken < 12:
        line = lines[end - 1].strip()
        if line and not (line.endswith(":") or _KEY_LINE.match(line) or _RULE.match(line) or _quoted(line)):
            break
        end -= 1
        taken += 1 if line else 0
    return lines[:end]


# --- quoted history (mail-parser-reply) ----------------------------------------------------------


def _without_history(lines: list[str]) -> list[str]:
    # `>`-quoted lines go whatever the library says, so it is shown only the first two of each run
    # (where an attribution may sit, as Apple Mail puts it), and no long runs of blank lines (its
    # regexes slow down badly on those): most replies are mostly quote, and it costs by the character.
    shown = [line for i, line in enumerate(lines) if not (_quoted(line) and i > 1 and _quoted(lines[i - 2]))]
    text = re.sub(r"\n(?:[ \t]*\n){2,}", "\n\n", "\n".join(shown))
    if len(text) > MAX_CHARS or not text.strip():
        return [line for line in lines if not _quoted(line)]
    from mailparser_reply import EmailReplyParser

    replies = EmailReplyParser(languages=list(LANGUAGES)).read(text).replies
    kept: list[str] = []
    for header, body in _fragments(replies):
        body_lines = body.split("\n")
        if header:
            first = next((line for line in body_lines if line.strip()), None)
            if first is None:
                continue
            if not _quoted(first):
                break  # an original under a header block, not `>`-quoted: all the rest is history
        kept.extend(line for line in body_lines if not _quoted(line))
        kept.append("")
    return kept


def _fragments(replies: list[Any]) -> list[tuple[str, str]]:
    """(header, text under it) of each piece the library split the text into, in order; a "header"
    that is a block of Key: value lines with no From line is joined back to the text it cut."""
    out: list[tuple[str, str]] = []
    for reply in replies:
        header = reply.headers or ""
        if header and not _real_header(header):
            text = reply.content
            if out:
                out[-1] = (out[-1][0], f"{out[-1][1]}\n{text}")
            else:
                out.append(("", text))
            continue
        out.append((header, reply.full_body if header else reply.content))
    return out


def _real_header(header: str) -> bool:
    rows = [line for line in header.split("\n") if line.strip()]
    keyed = [line for line in rows if _KEY_LINE.match(line.lstrip("> "))]
    if len(keyed) < 2:
        return True  # an attribution line ("On … wrote:") or a rule ("-----Original Message-----")
    return any(_FROM_KEY.match(line.lstrip("> ")) for line in keyed)
