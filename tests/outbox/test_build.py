"""The mail built for a queue row: what a mail client shows must be what the row says, whatever the text."""

from __future__ import annotations

from email import message_from_bytes, policy

from ticketctl.engine.outbound.mailbuild import FileAttachment, build_message
from ticketctl.engine.outbound.outbox import QueueRow


def row(**changes: object) -> QueueRow:
    values: dict[str, object] = dict(
        id=7,
        ticket_id=1,
        log_id=2,
        purpose="reply",
        from_email="support@example.com",
        from_name="Support",
        to_email="carla@example.org",
        to_name="Carla Customer",
        cc="",
        reply_to=None,
        subject="Re: printer [Support #1-2]",
        body_text="Unplug it, please.\n",
        body_html=None,
        message_id="t1.l2.n.s@example.com",
        in_reply_to=None,
        references="",
        envelope_from="",
        attachments=(),
        auto_submitted=False,
        status="pending",
        attempts=0,
        next_attempt_at="2026-11-26T10:00:00Z",
        last_error=None,
        created_at="2026-11-26T10:00:00Z",
        sent_at=None,
    )
    values.update(changes)
    return QueueRow(**values)  # type: ignore[arg-type]


def read(data: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(data, policy=policy.default)


def test_non_ascii_names_subject_body_and_file_names_arrive_intact():
    data = build_message(
        row(
            from_name="Süpport, Team",
            to_name='Zoë "Z" Ødegård',
            cc="José <jose@example.org>, plain@example.org",
            subject="Re: Grüße aus Köln [Support #1-2]",
            body_text="Hällo,\nline two " + "x" * 1200 + "\n",
            body_html="<p>Hällo</p>",
        ),
        [FileAttachment("bérichte.pdf", "application/pdf", bytes(range(256)))],
        "inst",
    )
    assert data.isascii(), "the wire form is 7-bit: encoded words, quoted-printable, base64"
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")
    mail = read(data)
    assert mail["From"].addresses[0].display_name == "Süpport, Team"
    assert mail["To"].addresses[0].display_name == 'Zoë "Z" Ødegård'
    assert [a.addr_spec for a in mail["Cc"].addresses] == ["jose@example.org", "plain@example.org"]
    assert mail["Cc"].addresses[0].display_name == "José"
    assert mail["Subject"] == "Re: Grüße aus Köln [Support #1-2]"
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")  # the wire form has CRLF line ends
    assert text == "Hällo,\nline two " + "x" * 1200 + "\n"
    assert mail.get_body(("html",)).get_content().strip() == "<p>Hällo</p>"
    (part,) = mail.iter_attachments()
    assert part.get_filename() == "bérichte.pdf"
    assert part.get_payload(decode=True) == bytes(range(256))
    assert mail["MIME-Version"] == "1.0"


def test_a_line_break_in_a_stored_subject_cannot_add_a_header():
    mail = read(build_message(row(subject="Hello\r\nBcc: victim@example.net", to_name="A\nB"), [], "inst"))
    assert mail["Bcc"] is None
    assert mail["Subject"] == "Hello Bcc: victim@example.net"
    assert mail["To"].addresses[0].display_name == "A B"


def test_engine_notices_carry_the_loop_and_auto_submitted_headers():
    mail = read(build_message(row(auto_submitted=True, in_reply_to="a@b", references="<a@b>"), [], "inst-id"))
    assert mail["X-Ticketctl-Loop"] == "inst-id"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["In-Reply-To"] == "<a@b>"
    assert mail["Message-ID"] == "<t1.l2.n.s@example.com>"
    plain = read(build_message(row(), [], "inst-id"))
    assert plain["Auto-Submitted"] is None


def test_attachments_from_files_are_encoded_as_the_mail_is_written(tmp_path):
    import re

    from ticketctl.engine.outbound.mailbuild import build_mail

    content = bytes(range(256)) * 2000 + b"tail"
    (tmp_path / "big.bin").write_bytes(content)
    (tmp_path / "empty.bin").write_bytes(b"")
    from_files = build_mail(
        row(body_text=".starts with a dot\n"),
        [
            FileAttachment("big.bin", "application/octet-stream", path=tmp_path / "big.bin", size=len(content)),
            FileAttachment("empty.bin", "application/octet-stream", path=tmp_path / "empty.bin", size=0),
        ],
        "inst",
    )
    in_memory = build_message(
        row(body_text=".starts with a dot\n"),
        [FileAttachment("big.bin", "application/octet-stream", content), FileAttachment("empty.bin", "x/y", b"")],
        "inst",
    )
    data = bytes(from_files)
    assert len(from_files) == len(data)
    assert max(len(c) for c in from_files.chunks()) < 2 * 1024 * 1024
    parts = {p.get_filename(): p.get_payload(decode=True) for p in read(data).iter_attachments()}
    assert parts == {"big.bin": content, "empty.bin": b""}
    same_boundary = re.compile(rb"=_[0-9a-f]+\.\d+")  # a fresh boundary per mail
    expected = same_boundary.sub(b"B", in_memory).replace(b"x/y", b"application/octet-stream")
    assert same_boundary.sub(b"B", data) == expected


def test_long_subjects_in_any_script_arrive_whole_on_lines_of_at_most_78_characters():
    subjects = [
        "Re: Drucker funktioniert nicht über Grüße, réunion déjà reçu, contraseña del año [Support #12-345]",
        "Re: 日本語のテキストです、長いタイトルの場合はどうなるでしょうか、確認します [Support #1-2]",
        "😀 " * 40 + "[Support #1-2]",
        "é",
    ]
    for subject in subjects:
        data = build_message(row(subject=subject), [], "inst")
        head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
        assert read(data)["Subject"] == subject
        lines = [line for line in head.split("\r\n") if line.startswith(("Subject:", " ")) and "=?utf-8?" in line]
        assert lines and max(len(line) for line in lines) <= 78, head


def test_every_kind_of_line_end_in_a_stored_text_goes_out_as_crlf():
    """Templates give LF; a canned response pasted from Windows, or an old row, may hold CRLF or a lone
    CR. The wire form has CRLF alone, in a 7-bit body and in a quoted-printable one."""
    for body in ("one\ntwo\r\nthree\rfour\n", "öne\ntwo\r\nthree\rfour\n", "one\ntwo\n", "öne\ntwo\n"):
        data = build_message(row(body_text=body, body_html=body.replace("\n", "<br>\n")), [], "inst")
        assert b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b""), body
        text = read(data).get_body(("plain",)).get_content()
        assert text.replace("\r\n", "\n").split("\n")[:2] == [body[:3], "two"], body
