"""Parsing mail: headers, charsets, body choice, attachments and broken input."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from ticketctl.engine.mail.message import Address, parse, parse_headers

MAIL = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def fixture(name: str) -> bytes:
    return (MAIL / name).read_bytes()


def test_plain_mail_headers_are_decoded():
    msg = parse(fixture("plain.eml"))
    assert msg.subject == "Grüße aus München"
    assert msg.from_ == Address("Jörg Müller", "joerg@example.com")
    assert msg.to == [
        Address("Support", "support+billing@example.org"),
        Address("Doe, Jane", "jane@example.org"),
    ]
    assert msg.cc == [Address("Åsa", "asa@example.org")]
    assert msg.envelope_to == ["helpdesk@example.org"]
    assert msg.message_id == "plain-1@example.com"
    assert msg.in_reply_to == ["prev@example.org"]
    assert msg.references == ["root@example.org", "prev@example.org"]
    assert msg.body_text == "Hallo, schöne Grüße!\n"
    assert (msg.body_type, msg.body_html, msg.attachments, msg.defects) == ("text/plain", None, [], [])
    assert msg.header("Delivered-To") == "helpdesk@example.org"


def test_html_becomes_plain_text_not_markdown():
    html = (
        "<h2>Order 1.</h2><p>Dear customer,</p><p>see <a href='https://example.com/t?a=1&amp;b=2'>your ticket</a>"
        " or <a href='https://example.com/'>https://example.com/</a>, <a href='#top'>top</a>.</p>"
        "<ul><li>one</li><li>two</li></ul><table><tr><td>Item</td><td>Qty</td></tr><tr><td>Pen</td><td>2</td></tr>"
        "</table><p>1. not a list * no emphasis [not](a link) <s>gone</s> <code>x_y</code></p>"
        "<p>-- <br>Jane<br>Sales</p>"
    )
    msg = parse(b"Content-Type: text/html; charset=utf-8\n\n" + html.encode())
    assert msg.body_text == (
        "Order 1.\n\nDear customer,\n\n"
        "see your ticket <https://example.com/t?a=1&b=2> or https://example.com/, top.\n\n"
        "  * one\n  * two\n\nItem  Qty\nPen  2\n\n1. not a list * no emphasis [not](a link) gone x_y\n\n"
        "--\nJane\nSales\n"
    )


def test_html_only_mail_becomes_text_and_keeps_sanitised_html():
    msg = parse(fixture("html-only.eml"))
    assert msg.body_type == "text/html"
    assert "Hello there" in msg.body_text and "alert" not in msg.body_text
    assert msg.body_html is not None
    for dangerous in ("<script", "onerror", "javascript:", "<style"):
        assert dangerous not in msg.body_html
    assert 'src="cid:logo@x"' in msg.body_html and 'href="https://example.com/"' in msg.body_html


def test_alternative_prefers_plain_text_and_keeps_the_html():
    msg = parse(fixture("alternative.eml"))
    assert msg.body_text == "The plain version."
    assert msg.body_html == "<p>The <i>HTML</i> version.</p>"
    assert msg.attachments == []


def test_attachment_names_are_made_safe():
    msg = parse(fixture("evil-names.eml"))
    assert msg.body_text == "See attached."
    got = [(a.filename, a.content_type, a.payload, a.inline, a.content_id) for a in msg.attachments]
    assert got == [
        ("passwd", "application/octet-stream", b"secret data", False, None),
        ("[31mx.txt", "text/plain", b"red", False, None),
        ("Rechnung März.pdf", "application/pdf", b"%PDF-1.4", False, None),
        ("attachment-4.png", "image/png", b"\x89PNG\r\n\x1a\n", True, "img1@example.com"),
        ("attachment-5.zip", "application/zip", b"PK", False, None),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ("a\u202egnp.exe", "agnp.exe"),
        ("\x00\x07", "attachment-1.bin"),
        ("...", "attachment-1.bin"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_safe_filename(name, expected):
    from ticketctl.engine.mail.filenames import safe_filename

    assert safe_filename(name, "application/octet-stream", 1) == expected


def test_mislabelled_and_unknown_charsets_decode_without_loss_where_possible():
    wrong = parse(fixture("wrong-charset.eml"))
    assert wrong.body_text == "This is UTF-8 labelled latin-1: café €\n"
    assert wrong.subject == "cafénaïve"
    assert any("x-unknown" in d for d in wrong.defects)
    unknown = parse(fixture("unknown-charset.eml"))
    assert unknown.body_text == "Grüße aus Köln – schönes Wochenende!\n"  # cp1252, detected
    assert any("x-made-up" in d and "detected cp1252" in d for d in unknown.defects)


def test_undeclared_8bit_parts_are_detected_per_part():
    msg = parse(fixture("undeclared-8bit.eml"))
    assert msg.body_text.split("\n") == [
        "您好，我们的服务器昨天晚上出现了故障，请尽快联系技术支持部门处理这个问题。谢谢！",
        "Здравствуйте! Наш сервер вчера вечером перестал отвечать, просим помочь как можно скорее.",
        "Información de la revisión: el pedido llegó dañado, ¿podrían enviarlo de nuevo?",
    ]
    assert [d.rsplit(" ", 1)[1] for d in msg.defects] == ["gb18030", "cp1251", "cp1252"]


def test_mostly_utf8_keeps_its_utf8_and_a_7bit_label_over_utf8_gives_way():
    msg = parse(fixture("mixed-8bit.eml"))
    assert msg.subject == "メール通知"  # raw UTF-8, although the body's label is ISO-2022-JP
    assert msg.body_text == "Это сообщение проверено антивирусом.\nSignature: José\nメールボックスがいっぱいです。"


def test_raw_gb2312_headers_under_a_latin1_body_are_detected():
    msg = parse(fixture("gb2312-headers.eml"))
    assert (msg.subject, msg.from_) == ("转发：季度报告", Address("王小明", "wang@example.cn"))
    assert msg.body_text == "Die ursprüngliche Nachricht ist angehängt.\n"
    assert [a.filename for a in msg.attachments] == ["转发：季度报告.eml", "季度报告.xls"]


def test_detection_runs_only_where_a_label_is_missing_or_fails(monkeypatch):
    from ticketctl.engine.mail import mailtext

    def refuse(*args: object) -> None:
        raise AssertionError("detection ran")

    monkeypatch.setattr(mailtext, "detect", refuse)
    for name in ("plain.eml", "alternative.eml", "wrong-charset.eml", "evil-names.eml", "forwarded.eml"):
        assert not any("detected" in d for d in parse(fixture(name)).defects)
    assert parse(b"Content-Type: text/plain; charset=iso-8859-1\n\nGr\xfc\xdfe").body_text == "Grüße"
    assert parse(b"Content-Type: text/plain; charset=gb2312\n\n" + "你好".encode("gb2312")).body_text == "你好"
    assert parse(b"Content-Type: text/plain\n\n" + "Grüße".encode()).body_text == "Grüße"  # valid UTF-8


def test_detection_reads_a_bounded_sample_of_the_8bit_lines(monkeypatch):
    import charset_normalizer

    from ticketctl.engine.mail.mailtext import DETECT_SAMPLE

    seen: list[bytes] = []
    real = charset_normalizer.from_bytes
    monkeypatch.setattr(charset_normalizer, "from_bytes", lambda data, **kw: seen.append(data) or real(data, **kw))
    cyrillic = "Сервер не отвечает, просим помочь.\n".encode("cp1251")
    body = b"plain ASCII line of a long mail body\n" * 40_000 + cyrillic * 5000
    msg = parse(b"Content-Type: text/plain\n\n" + body)
    assert msg.body_text.endswith("Сервер не отвечает, просим помочь.\n")
    assert len(seen) == 1 and len(seen[0]) <= DETECT_SAMPLE and seen[0].startswith(cyrillic)


def test_display_name_comments_are_dropped_and_a_bare_mailer_daemon_is_the_sender():
    msg = parse(fixture("names.eml"))
    assert msg.from_ == Address("Mail Delivery System", "MAILER-DAEMON")
    assert msg.to == [
        Address("Jane Doe", "jane@example.org"),  # "Jane (Sales) Doe": the comment is not the name
        Address("Bob Builder", "bob@example.org"),  # "address (Name)": the comment is the only name
        Address("Smith (ACME)", "s@example.org"),  # in quotes: part of the name
    ]
    with_reply_to = parse(b"From: MAILER-DAEMON\nReply-To: postmaster@example.org\n\nx")
    assert with_reply_to.from_ == Address("", "postmaster@example.org")  # a real address first


def test_nameless_parts_are_named_by_their_description_and_forwards_keep_their_bytes():
    raw = fixture("names.eml")
    msg = parse(raw)
    names = [(a.filename, a.content_type) for a in msg.attachments]
    assert names == [
        ("Delivery report.txt", "message/delivery-status"),
        ("Your ticket.eml", "message/rfc822"),  # a forward is named by its subject first
        ("Otto Bestellung 4500258840.pdf", "application/pdf"),
    ]
    forwarded = msg.attachments[1].payload
    assert forwarded.startswith(b"From: support@example.org\r\n") and forwarded in raw  # CRLF, as sent
    assert b"X-Folded: a long value\r\n folded onto a second line\r\n" in forwarded


def test_raw_8bit_attachment_names_are_decoded():
    latin1 = (
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain; charset=iso-8859-1\n\n'
        b"Gr\xfc\xdfe\n--b\nContent-Type: image/jpeg\n"
        b'Content-Disposition: attachment; filename="Hofj\xe4geralle Wasserschaden.jpg"\n\nJPEG\n--b--\n'
    )
    utf8 = latin1.replace(b"Hofj\xe4geralle", "Hofjägeralle".encode())
    for raw in (latin1, utf8):
        assert [a.filename for a in parse(raw).attachments] == ["Hofjägeralle Wasserschaden.jpg"]


def test_raw_8bit_headers_are_decoded_per_header():
    msg = parse(fixture("8bit-headers.eml"))
    assert msg.from_ == Address("Jörg Müller", "joerg@example.com")  # latin-1, the body's charset
    assert msg.subject == "Café – ouvert"  # UTF-8 bytes despite the latin-1 body
    assert msg.body_text == "Grüße\n"


def test_broken_boundaries_keep_the_text_and_say_so():
    msg = parse(fixture("broken-boundary.eml"))
    assert "Text between boundaries that were never declared." in msg.body_text
    assert any("Boundary" in d for d in msg.defects)


def test_forwarded_messages_are_kept_as_eml_attachments():
    msg = parse(fixture("forwarded.eml"))
    assert msg.body_text == "See the mail below."
    names = [(a.filename, a.content_type) for a in msg.attachments]
    assert names == [
        ("The original question.eml", "message/rfc822"),
        ("forwarded-message.eml", "message/rfc822"),
    ]
    inner = parse(msg.attachments[0].payload)
    assert (inner.subject, inner.message_id, inner.body_text) == (
        "The original question",
        "orig@example.com",
        "Original body.",
    )


def test_bounce_keeps_its_report_parts_for_the_bounce_rules():
    msg = parse(fixture("bounce-dsn.eml"))
    assert msg.from_ == Address("Mail Delivery System", "MAILER-DAEMON@mx.example.org")
    assert msg.header("content-type").startswith("multipart/report")
    types = [a.content_type for a in msg.attachments]
    assert types == ["message/delivery-status", "text/rfc822-headers"]
    assert b"Status: 5.1.1" in msg.attachments[0].payload
    assert b"Message-ID: <sent-1@example.org>" in msg.attachments[1].payload


def test_auto_reply_headers_are_available_to_rules():
    msg = parse(fixture("auto-reply.eml"))
    assert msg.header("auto-submitted") == "auto-replied"
    assert msg.headers["x-autoreply"] == ["yes"]
    assert msg.in_reply_to == ["sent-1@example.org"]


def test_malformed_encoded_words_are_decoded():
    raw = (
        b"From: =?utf-8?B?SsO2cmc=?= <j@example.com>\n"
        b"Subject: =?us-ascii?Q?ABC / 123?= =?utf-8?B?4pyT?= =?utf-8?Q?split_=C3?= =?utf-8?Q?=A4?=\n\nx\n"
    )
    msg = parse(raw)
    assert msg.subject == "ABC / 123✓split ä"
    assert msg.from_ == Address("Jörg", "j@example.com")


def test_folded_header_without_indentation_and_junk_first_line_are_repaired():
    raw = b"---- forwarded ----\nFrom: a@example.com\nX-Long: abc\ndef\nSubject: Still here\n\nbody\n"
    msg = parse(raw)
    assert (msg.subject, msg.from_, msg.body_text) == ("Still here", Address("", "a@example.com"), "body\n")
    assert len(msg.defects) == 2


def test_parse_headers_gives_an_empty_body():
    msg = parse_headers(b"From: a@example.com\r\nSubject: =?utf-8?Q?gro=C3=9F?=\r\nMessage-ID: <big@x>\r\n")
    assert (msg.subject, msg.message_id, msg.body_text, msg.attachments) == ("groß", "big@x", "", [])


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe" * 100,
        b"Content-Type: multipart/mixed\n\n--\n--\n",
        b"From: <<<@@@>>>\nTo: ,,,;;;\nSubject: =?x?B?!!!?=\n\n",
        b"Content-Type: multipart/mixed; boundary=a\n\n" + b"--a\nContent-Type: multipart/mixed; boundary=a\n\n" * 2000,
        b'Content-Type: text/plain; charset="\x81"\nContent-Transfer-Encoding: base64\n\n!!!@@@',
        b"Content-Type: message/rfc822\n\n" * 500,
    ],
)
def test_parse_never_raises(raw):
    msg = parse(raw)
    assert isinstance(msg.body_text, str) and isinstance(msg.subject, str)


def test_random_bytes_never_raise():
    rng = random.Random(4)
    base = fixture("evil-names.eml")
    for _ in range(200):
        data = bytearray(base)
        for _ in range(20):
            data[rng.randrange(len(data))] = rng.randrange(256)
        assert isinstance(parse(bytes(data)).body_text, str)
    assert isinstance(parse(os.urandom(5000)).body_text, str)


def test_huge_bodies_are_parsed_in_linear_time():
    line = b"A quite long line of text in a large body, repeated many times over.\n"
    small = b"Subject: big\nContent-Type: text/plain\n\n" + line * 20_000
    big = b"Subject: big\nContent-Type: text/plain\n\n" + line * 200_000
    start = time.perf_counter()
    parse(small)
    middle = time.perf_counter()
    msg = parse(big)
    end = time.perf_counter()
    assert len(msg.body_text) == len(line) * 200_000
    assert end - middle < 30 * (middle - start) + 1.0  # ten times the size, not a hundred times the time


def test_huge_html_is_converted_quickly():
    html = b"<p>word &amp; word</p>" * 200_000
    start = time.perf_counter()
    msg = parse(b"Content-Type: text/html; charset=utf-8\n\n" + html)
    assert time.perf_counter() - start < 10
    assert msg.body_text.count("word & word") == 200_000
