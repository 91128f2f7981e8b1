"""A long text body is parsed, stored and passed on from files, as attachments are: the ticket keeps its
beginning and the whole of it as the attachment message.txt; a notice quotes at most NOTICE_TEXT
characters and says where the rest is; a relay carries the whole text attached."""

from __future__ import annotations

import base64
import hashlib
import quopri
import random
import tracemalloc
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.pipeline.helpers import deliver, setup_support
from ticketctl.engine.flows.notices import NOTICE_TEXT
from ticketctl.engine.mail.mailtext import decode_bytes
from ticketctl.engine.mail.message import parse, parse_file
from ticketctl.engine.mail.mimespool import KEEP_TEXT

MB = 1024 * 1024
WORDS = "printer invoice refund naïve café Grüße 東京 login exam".split()


def words(size: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    lines, total = [], 0
    while total < size:
        line = " ".join(rng.choices(WORDS, k=10))
        lines.append(line)
        total += len(line.encode()) + 2
    return "\r\n".join(lines) + "\r\n"


def head(subject: str = "A long text", frm: str = "Jane Customer <jane@customer.example>") -> bytes:
    return (
        f"From: {frm}\r\nTo: support@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{hashlib.sha1(subject.encode()).hexdigest()}@customer.example>\r\nMIME-Version: 1.0\r\n"
    ).encode()


def single(body: bytes, encoding: str, **headers: str) -> bytes:
    return (
        head(**headers)
        + (f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n").encode()
        + body
    )


def alternative(text: bytes, html: bytes, encoding: str) -> bytes:
    part = f"Content-Type: text/{{}}; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
    return (
        head()
        + b'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n--b1\r\n'
        + part.format("plain").encode() + text + b"\r\n--b1\r\n"
        + part.format("html").encode() + html + b"\r\n--b1--\r\n"
    )  # fmt: skip


def encoded(text: str, encoding: str) -> bytes:
    data = text.encode()
    if encoding == "base64":
        return base64.encodebytes(data).replace(b"\n", b"\r\n")
    if encoding == "quoted-printable":
        return quopri.encodestring(data.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")
    return data


TEXT = words(3 * MB)
ONE_LINE = ("x" * 79 + " ") * (3 * MB // 80) + "the end\r\n"
CASES = {
    "8bit lines": single(encoded(TEXT, "8bit"), "8bit"),
    "8bit single line": single(ONE_LINE.encode(), "8bit"),
    "quoted-printable": single(encoded(TEXT, "quoted-printable"), "quoted-printable"),
    "base64": single(encoded(TEXT, "base64"), "base64"),
    "alternative, 8bit": alternative(encoded(TEXT, "8bit"), encoded(f"<p>{TEXT}</p>", "8bit"), "8bit"),
    "alternative, quoted-printable": alternative(
        encoded(TEXT, "quoted-printable"), encoded(f"<p>{TEXT}</p>", "quoted-printable"), "quoted-printable"
    ),
}


@pytest.mark.parametrize("raw", CASES.values(), ids=CASES.keys())
def test_a_long_body_keeps_its_beginning_and_attaches_the_whole(raw, tmp_path):
    path = tmp_path / "message"
    path.write_bytes(raw)
    (tmp_path / "scratch").mkdir()
    whole = parse(raw)  # the in-memory parse holds all of it: what the file must hold
    msg, peak = parsed_with_peak(path, tmp_path / "scratch")
    assert peak < 8 * KEEP_TEXT * (2 if b"multipart/alternative" in raw[:400] else 1)

    assert len(msg.body_text) < KEEP_TEXT + 200 and len(whole.body_text) > 2 * MB
    beginning, note = msg.body_text.rsplit("\n\n[", 1)
    assert whole.body_text.startswith(beginning) and len(beginning) > KEEP_TEXT // 2
    texts = [a for a in msg.attachments if a.whole_text]
    assert [a.filename for a in texts] == ["message.txt"] + (["message.html"] if msg.body_html else [])
    assert note.startswith(f"This is the beginning of a long text: the whole of it ({texts[0].size:,} bytes)")
    assert texts[0].file is not None
    data = texts[0].file.path.read_bytes()
    assert decode_bytes(data, "utf-8")[0].replace("\r\n", "\n") == whole.body_text
    if msg.body_html:
        assert whole.body_html is not None and len(msg.body_html) < KEEP_TEXT + 1000
        assert b"</p>" in texts[1].read()[-10:]


def parsed_with_peak(path: Path, scratch: Path):
    tracemalloc.start()
    try:
        return parse_file(path, scratch), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_memory_of_a_long_body_does_not_grow_with_it(tmp_path):
    peaks = []
    for size in (3 * MB, 12 * MB):
        path, scratch = tmp_path / f"m{size}", tmp_path / f"s{size}"
        path.write_bytes(single(encoded(words(size), "8bit"), "8bit"))
        scratch.mkdir()
        peaks.append(parsed_with_peak(path, scratch)[1])
    assert peaks[1] < peaks[0] + MB, [f"{p / MB:.1f} MB" for p in peaks]


def test_a_small_text_in_a_large_message_parses_as_in_memory(tmp_path):
    """The text sink gives back what the parser would have made: here with an attachment beside it."""
    text = words(200_000).encode()
    attachment = base64.encodebytes(random.Random(2).randbytes(2 * MB)).replace(b"\n", b"\r\n")
    raw = (
        head() + b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n--m\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text
        + b"\r\n--m\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + attachment + b"--m--\r\n"
    )  # fmt: skip
    path = tmp_path / "message"
    path.write_bytes(raw)
    (tmp_path / "scratch").mkdir()
    in_memory, from_file = parse(raw), parse_file(path, tmp_path / "scratch")
    assert from_file.body_text == in_memory.body_text and from_file.body_text.endswith("\n")
    assert [(a.filename, a.sha256) for a in from_file.attachments] == [
        (a.filename, a.sha256) for a in in_memory.attachments
    ]


def test_the_ticket_the_notice_and_a_relay_of_a_long_text(cli, store, workdir):
    maildir = workdir / "mail"
    setup_support(store, maildir)
    raw = single(encoded(TEXT, "8bit"), "8bit")
    deliver(maildir, raw)
    run = cli("process")
    assert run.exit_code == 0, run.stderr
    assert "local: 1 message(s): 1 new_ticket" in run.stdout

    log = store.one("SELECT id, body_text FROM ticket_logs WHERE direction = 'in'")
    assert len(log["body_text"]) < KEEP_TEXT + 200
    whole = store.one("SELECT filename, size, whole_text FROM attachments WHERE log_id = ?", (log["id"],))
    assert (whole["filename"], whole["whole_text"]) == ("message.txt", 1) and whole["size"] == len(TEXT.encode())
    shown = cli("tickets", "show", "1")
    assert "Attachment: message.txt (3.0 MiB, text/plain)" in shown.stdout
    assert "the whole of it (3,145,7" in shown.stdout and "is the attachment message.txt." in shown.stdout
    saved = cli("tickets", "attachment", "1", "message.txt", "--out", "whole.txt")
    assert saved.exit_code == 0 and (workdir / "whole.txt").read_bytes() == TEXT.encode()

    (notice_file,) = sorted((workdir / "ticketctl-data" / "outbox").glob("*.eml"))
    notice = message_from_bytes(notice_file.read_bytes(), policy=policy.default)
    assert notice_file.stat().st_size < 4 * NOTICE_TEXT
    text = notice.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert TEXT.replace("\r\n", "\n")[:1000] in text
    assert "more characters: `ticketctl tickets show 1` shows the whole text.]" in text
    assert [p.get_filename() for p in notice.iter_attachments()] == []

    # the admin answers with a long text: the customer gets its beginning and the whole attached
    answer = words(2 * MB, seed=3)
    deliver(
        maildir, single(encoded(answer, "8bit"), "8bit", subject="Re: [Support #1-2] A long", frm="lead@example.com")
    )
    run = cli("process")
    assert "local: 1 message(s): 1 reply" in run.stdout, run.stdout + run.stderr
    relay_file = max((workdir / "ticketctl-data" / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    relay = message_from_bytes(relay_file.read_bytes(), policy=policy.default)
    assert relay["To"] == "Jane Customer <jane@customer.example>"
    (attached,) = list(relay.iter_attachments())
    assert attached.get_filename() == "message.txt" and attached.get_payload(decode=True) == answer.encode()


def test_a_reassigned_notice_quotes_the_beginning_and_leaves_the_whole_out(cli, store, workdir):
    maildir = workdir / "mail"
    setup_support(store, maildir)
    raw = single(encoded(TEXT, "8bit"), "8bit").replace(b"To: support@example.com", b"To: nobody@example.com")
    deliver(maildir, raw)
    assert "1 invalid_ticket" in cli("process").stdout
    assert cli("tickets", "reassign", "1", "--type", "Support").exit_code == 0
    assert cli("queue", "send").exit_code == 0
    (notice_file,) = sorted((workdir / "ticketctl-data" / "outbox").glob("*.eml"))
    notice = message_from_bytes(notice_file.read_bytes(), policy=policy.default)
    assert notice_file.stat().st_size < 4 * NOTICE_TEXT
    assert "`ticketctl tickets show 1` shows the whole text.]" in notice.get_body(("plain",)).get_content()
    assert list(notice.iter_attachments()) == []
