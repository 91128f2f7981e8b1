"""Parsing a large message from its spool file (`message.parse_file`): the same ParsedMessage as the
in-memory `parse`, with base64 attachments decoded into files instead of memory."""

from __future__ import annotations

import base64
import random
import tracemalloc
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import CORPUS
from ticketctl.engine.mail.message import ParsedMessage, parse, parse_file

MAIL = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def comparable(msg: ParsedMessage) -> dict[str, object]:
    """Every field, with attachments by content (bytes in memory or a decoded file alike)."""
    fields = dict(vars(msg))
    fields["attachments"] = [
        (a.filename, a.content_type, a.sha256, a.size, a.content_id, a.inline) for a in msg.attachments
    ]
    return fields


def both(raw: bytes, tmp_path: Path) -> tuple[ParsedMessage, ParsedMessage]:
    path = tmp_path / "message"
    path.write_bytes(raw)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return parse(raw), parse_file(path, scratch)


def differences(paths: list[Path], tmp_path: Path) -> tuple[list[str], int]:
    differ, diverted = [], 0
    for path in paths:
        in_memory, from_file = both(path.read_bytes(), tmp_path)
        diverted += sum(1 for a in from_file.attachments if a.file is not None)
        if comparable(in_memory) != comparable(from_file):
            differ.append(path.name)
    return differ, diverted


def test_fixtures_parse_the_same_from_a_file(tmp_path):
    differ, diverted = differences(sorted(MAIL.iterdir()), tmp_path)
    assert differ == []
    assert diverted >= 2


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared mail corpus is not at {CORPUS}")
def test_the_corpus_parses_the_same_from_a_file(tmp_path):
    paths = sorted(p for p in CORPUS.glob("*/messages/**/*") if p.is_file())
    differ, diverted = differences(paths, tmp_path)
    assert len(paths) > 800
    assert differ == []
    assert diverted >= 50  # the corpus's base64 attachments went to files


def with_part(body: bytes, ctype: str = "application/octet-stream", name: str = "data.bin") -> bytes:
    """A mail with a text body and one base64 part whose encoded lines are `body` as given."""
    boundary = b"==b=="
    return (
        b"From: a@example.com\r\nTo: support@example.com\r\nSubject: part\r\nMessage-ID: <p@example.com>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n'
        b"--" + boundary + b"\r\nContent-Type: text/plain\r\n\r\nSee the file.\r\n"
        b"--" + boundary + b"\r\nContent-Type: " + ctype.encode() + b'; name="' + name.encode() + b'"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"\r\n--" + boundary + b"--\r\n"
    )


GOOD = base64.encodebytes(bytes(range(256)) * 7).replace(b"\n", b"\r\n").rstrip()


@pytest.mark.parametrize(
    "body",
    [
        GOOD,
        GOOD.rstrip(b"="),  # missing padding
        GOOD.replace(b"\r\n", b" \r\n"),  # trailing spaces
        GOOD.replace(b"\r\n", b"\r"),  # old Mac line ends
        GOOD.replace(b"A", b"A!\xff", 3),  # characters outside the alphabet
        GOOD[:40] + b"==" + GOOD[40:],  # padding in the middle: decoding stops there
        GOOD[:41] + b"=" + GOOD[41:],  # a lone '=' after 1 character of a quad is skipped
        GOOD[:42] + b"=\r\n=" + GOOD[42:],  # padding split across lines
        GOOD + b"\r\n\r\nsignature -- not base64",  # text after the data
        b"QUJD\r\nRA",  # a last quad of 2 characters
        b"QUJD\r\nR",  # a last quad of 1 character: the stdlib keeps the text; so does the fallback
        b"",
    ],
)
def test_base64_parts_decode_as_the_standard_library_decodes_them(body, tmp_path):
    in_memory, from_file = both(with_part(body), tmp_path)
    assert comparable(from_file) == comparable(in_memory)
    [attachment] = from_file.attachments
    assert attachment.read() == in_memory.attachments[0].payload


def test_only_attachments_go_to_files_and_text_stays_in_memory(tmp_path):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.com", "support@example.com", "files"
    msg.set_content("The body.\n")
    msg.add_alternative("<p>The body.</p>", subtype="html")
    msg.add_attachment(b"%PDF" * 1000, maintype="application", subtype="pdf", filename="a.pdf")
    msg.add_attachment("notes\n" * 100, subtype="plain", filename="notes.txt", cte="base64")
    inner = EmailMessage()
    inner["Subject"] = "forwarded"
    inner.set_content("inner")
    inner.add_attachment(b"\x00" * 500, maintype="image", subtype="png", filename="in.png")
    msg.add_attachment(inner)
    in_memory, from_file = both(bytes(msg), tmp_path)
    assert comparable(from_file) == comparable(in_memory)
    assert from_file.body_text == "The body.\n" and from_file.body_html
    files = [(a.filename, a.file is not None) for a in from_file.attachments]
    # a forwarded message is stored flattened whole, so nothing inside it is diverted
    assert files == [("a.pdf", True), ("notes.txt", True), ("forwarded.eml", False)]
    assert [a.read() for a in from_file.attachments[:2]] == [b"%PDF" * 1000, b"notes\n" * 100]


def test_a_large_attachment_is_never_in_memory(tmp_path):
    payload = random.Random(3).randbytes(8 * 1024 * 1024)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.com", "support@example.com", "big"
    msg.set_content("See attached.\n")
    msg.add_attachment(payload, maintype="application", subtype="zip", filename="big.zip")
    path = tmp_path / "message"
    path.write_bytes(bytes(msg))
    del msg
    tracemalloc.start()
    try:
        parsed = parse_file(path, tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [attachment] = parsed.attachments
    assert attachment.file is not None and attachment.read() == payload
    assert peak < 4 * 1024 * 1024, f"parsing an 11 MB message took {peak / 2**20:.1f} MB"
