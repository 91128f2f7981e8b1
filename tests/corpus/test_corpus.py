"""The external corpus (../shared/corpus): every mail parses, and Zammad's expectations are met."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import CORPUS as DEFAULT_CORPUS
from tests.corpus.zammad_compare import SENDER_FIELDS, compare, report
from ticketctl.engine.mail.message import parse

# A git worktree sits elsewhere than the main checkout; it can point at the corpus explicitly.
CORPUS = Path(os.environ.get("TICKETCTL_TEST_CORPUS", DEFAULT_CORPUS))

pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"the shared mail corpus is not at {CORPUS}; these tests need it"
)

# Where Zammad's value is wrong and ours right: counted as agreement (see zammad/MANIFEST.md).
ZAMMAD_WRONG: dict[tuple[str, str], str] = {
    ("mail018.box", "subject"): "MANIFEST: Zammad left a UTF-7 encoded word (+ANw-) undecoded; we decode it",
    ("mail018.box", "body"): "the same UTF-7 text in the body: Zammad shows +APw-, we show ü",
    ("mail046.box", "from"): "raw GB2312 bytes: Zammad's name is mojibake, ours the readable 武兰成",
    ("mail046.box", "from_display_name"): "raw GB2312 bytes: Zammad's name is mojibake, ours the readable 武兰成",
    ("mail054.box", "body"): "Zammad shows no content; the text/plain part is base64 of 'some text', which we read",
    ("mail076.box", "from_email"): "From '\"…\"@example.com>': Zammad keeps the stray '>' in the address",
    ("mail076.box", "from_display_name"): "the same From has no display name; Zammad makes one of the address and '>'",
    ("mail087.box", "from_display_name"): "From 'Test test@example.com' has no angle-addr, so no display name "
    "(the stdlib's RFC 5322 parser agrees); Zammad repeats the whole header as the name",
    ("mail087.box", "body"): "an unclosed last text/plain part without a name is the body (the fax text); "
    "Zammad shows no content and keeps it as an attachment 'file'",
    ("mail087.box", "attachments"): "the same part: our body, so not an attachment 'file'",
    ("mail105.box", "body"): "Zammad shows no content; the text/plain part has no charset and reads as "
    "latin-1 'äöüß ad asd', which we show",
    ("mail014.box", "attachments"): "the forwarded messages are kept as the mail's own bytes (CRLF lines); "
    "Zammad's md5 is of the text with LF line ends",
}

# Real disagreements, accepted: counted against the agreement.
ACCEPTED: dict[tuple[str, str], str] = {
    ("mail062.box", "attachments"): "nameless parts: Zammad invents document.html/video.mov, we attachment-N.ext",
    ("mail102.box", "attachments"): "Zammad renames the second of two same-named images; we keep both names",
}

# Agreement held for the fields of the Zammad issue (from, from_email, display name, subject, body).
THRESHOLD = 99.0
# Matched per field for the others as of this parser; raise these when the parser improves, never lower them.
FLOORS = {"to": 52, "cc": 3, "attachments": 31}

# Texts that look garbled in our reading because they are garbled in the mail itself.
GARBLED_AS_SENT: dict[tuple[str, str], str] = {
    ("zammad/messages/mail021.box", "body"): "spam whose HTML spells random characters as entities "
    "(&#195;&#191; ...) to defeat filters: the junk is the sender's, not a decoding",
    ("zammad/messages/mail022.box", "body"): "the same kind of spam, random characters written as entities",
}


def all_messages() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*/messages/**/*") if p.is_file())


def test_every_message_parses_to_text() -> None:
    files = all_messages()
    assert len(files) >= 800
    problems = []
    for path in files:
        parsed = parse(path.read_bytes())
        texts = [parsed.subject, parsed.body_text, *(v for vs in parsed.headers.values() for v in vs)]
        if not all(isinstance(t, str) for t in texts):
            problems.append(str(path.relative_to(CORPUS)))
    assert problems == []


def test_crlf_and_cr_copies_parse_like_the_original() -> None:
    expected = json.loads((CORPUS / "sisimai" / "expected.json").read_text(encoding="utf-8"))
    messages = CORPUS / "sisimai" / "messages"
    compared = 0
    for rel, exp in expected.items():
        twin = exp.get("same_as")
        if not twin or not (messages / twin).is_file():
            continue
        copy, original = parse((messages / rel).read_bytes()), parse((messages / twin).read_bytes())
        assert (copy.subject, copy.from_, copy.message_id) == (
            original.subject,
            original.from_,
            original.message_id,
        ), rel
        assert [a.filename for a in copy.attachments] == [a.filename for a in original.attachments], rel
        compared += 1
    assert compared >= 60


def test_zammad_parser_output_is_matched() -> None:
    root = CORPUS / "zammad"
    expected = json.loads((root / "expected.json").read_text(encoding="utf-8"))
    tally = compare(root / "messages", expected)
    listed = {**ZAMMAD_WRONG, **ACCEPTED}
    table = report(tally, set(ZAMMAD_WRONG))
    unlisted = sorted(key for key in tally.mismatches if key not in listed)
    stale = sorted(key for key in listed if key not in tally.mismatches)
    assert (unlisted, stale) == ([], []), table
    low = {f: tally.agreement(f, set(ZAMMAD_WRONG)) for f in SENDER_FIELDS}
    assert all(share >= THRESHOLD for share in low.values()), table
    assert all(tally.matched[f] >= FLOORS[f] for f in FLOORS), table


_RUN = re.compile(r"[^\x00-\x7f]{2,}")


def garbled(text: str) -> str | None:
    """Why `text` looks like a wrong decoding, or None: replacement characters, C1 controls (8-bit
    bytes read as latin-1), UTF-8 read as a legacy charset, or a CJK/Cyrillic text read as latin-1
    (a run of Latin-1 letters and symbols no European word has)."""
    if "\ufffd" in text:
        return "replacement characters"
    if re.search("[\x80-\x9f]", text):
        return "C1 control characters"
    for run in _RUN.findall(text):
        for legacy in ("cp1252", "cp932", "gb18030"):
            try:
                redone = run.encode(legacy).decode("utf-8")
            except UnicodeError:
                continue
            if redone != run:
                return f"UTF-8 read as {legacy}: {run[:20]!r}"
    run_of_latin1 = re.search("[\u00a1-\u00ff]{6,}", text)
    return f"latin-1 symbols: {run_of_latin1.group()[:20]!r}" if run_of_latin1 else None


def test_garbled_detects_the_mojibake_of_before() -> None:
    assert garbled("×ª·¢£ºÕûÌåÌáÉýÆóÒµ·þÎñË®Æ½") and garbled("Ã¼ber") and garbled("繝｡繝ｼ繝ｫ")
    assert garbled("Hofj\ufffdgeralle") and garbled("caf\x8e")
    assert not any(map(garbled, ["Grüße aus München", "转发：整体提升企业服务水平", "Недоставленное", "ツール"]))


def test_every_message_reads_as_text() -> None:
    """Subject, names, body and attachment names of every message are a readable decoding."""
    problems: list[tuple[str, str, str]] = []
    for path in all_messages():
        parsed = parse(path.read_bytes())
        names = [a.name for a in (parsed.from_, *parsed.to, *parsed.cc) if a]
        texts = {
            "subject": parsed.subject,
            "names": " ".join(names),
            "body": parsed.body_text,
            "attachment names": " ".join(a.filename for a in parsed.attachments),
        }
        rel = path.relative_to(CORPUS).as_posix()
        problems += [(rel, what, why) for what, text in texts.items() if (why := garbled(text))]
    unexplained = [p for p in problems if p[:2] not in GARBLED_AS_SENT]
    stale = sorted(set(GARBLED_AS_SENT) - {p[:2] for p in problems})
    assert (unexplained, stale) == ([], [])


@pytest.mark.parametrize(
    ("file_name", "check"),
    [
        ("mail078-content_transfer_encoding_x_uuencode.box", "uuencoded attachment"),
        ("mail079.box", "a.jpg"),
        ("mail101.box", "super-seven.jpg"),
        ("mail064.box", "cid link"),
        ("mail072.box", "windows-1258"),
        ("mail085.box", "invalid charsets"),
    ],
)
def test_zammad_behaviour_entries(file_name: str, check: str) -> None:
    parsed = parse((CORPUS / "zammad" / "messages" / file_name).read_bytes())
    names = [a.filename for a in parsed.attachments]
    if check == "uuencoded attachment":
        assert (names[0], parsed.attachments[0].payload) == ("PGP_Cmts_on_12-14-01_Pkg.txt", b"Hello Zammad")
    elif check == "cid link":
        assert "cid:485376C9-2486-4351-B932-E2010998F579@home" in (parsed.body_html or "")
    elif check.endswith(".jpg"):
        assert check in names
    else:
        assert parsed.body_text.strip() and "\ufffd" not in parsed.subject
