"""Reading delivery reports (mail/bouncereport.py) where the corpus does not look: per-recipient fields
wherever they sit, the returned copy kept apart, line endings, other languages, what is no bounce."""

from __future__ import annotations

import logging

from ticketctl.engine.mail import bouncereport
from ticketctl.engine.mail.message import parse

FIELDS = (
    "Reporting-MTA: dns; mx.example.net\nX-Postfix-Sender: rfc822; bounces+q7-abc@example.org\n\n"
    "Final-Recipient: rfc822; gone@example.com\nOriginal-Recipient: rfc822;gone@example.com\nAction: failed\n"
    "Status: 5.1.1\nRemote-MTA: dns; mx.example.com\nDiagnostic-Code: smtp; 550 5.1.1 <gone@example.com>:\n"
    "    no such user\n\n"
    "Final-Recipient: rfc822; full@example.com\nAction: failed\nStatus: 4.2.2\n\n"
    "Final-Recipient: rfc822; slow@example.com\nAction: delayed\nStatus: 4.4.1\n"
)


def report(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def nested_dsn(returned: str = "Message-ID: <ours-1@example.org>\nTo: gone@example.com\n") -> bytes:
    """A DSN inside a multipart/mixed (as some gateways wrap them), its returned copy's headers after."""
    return report(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nTo: bounces+q7-abc@example.org\n"
        'Subject: Undelivered Mail Returned to Sender\nContent-Type: multipart/mixed; boundary="outer"\n\n'
        '--outer\nContent-Type: multipart/report; report-type=delivery-status; boundary="inner"\n\n'
        "--inner\nContent-Type: text/plain\n\nYour message could not be delivered.\n"
        f"--inner\nContent-Type: message/delivery-status\n\n{FIELDS}\n"
        f"--inner\nContent-Type: text/rfc822-headers\n\n{returned}\n--inner--\n--outer--\n"
    )


def test_each_recipient_has_its_own_fields_wherever_the_part_sits():
    found = bouncereport.read(parse(nested_dsn()))
    assert found.kind == bouncereport.FAILURE and found.how == "a delivery status notification (RFC 3464)"
    gone, full, slow = found.recipients
    assert (gone.address, gone.kind, gone.status, gone.action) == ("gone@example.com", "permanent", "5.1.1", "failed")
    assert gone.diagnostic == "smtp; 550 5.1.1 <gone@example.com>: no such user"  # folded lines joined
    assert gone.remote_mta == "mx.example.com" and gone.original is None
    assert (full.kind, full.status) == ("temporary", "4.2.2")
    assert (slow.kind, slow.status) == ("delayed", "4.4.1")
    assert found.returned_ids == ("ours-1@example.org",)
    assert found.envelope_senders == ("bounces+q7-abc@example.org",)


def test_only_delays_make_a_delay_and_only_deliveries_a_success():
    delayed = nested_dsn().replace(b"Action: failed", b"Action: delayed")
    assert bouncereport.read(parse(delayed)).kind == bouncereport.DELAY
    delivered = (
        nested_dsn().replace(b"Action: failed", b"Action: relayed").replace(b"Action: delayed", b"Action: delivered")
    )
    delivered = delivered.replace(b"Status: 4.2.2", b"Status: 2.0.0").replace(b"Status: 5.1.1", b"Status: 2.0.0")
    assert bouncereport.read(parse(delivered)).kind == bouncereport.SUCCESS


def test_the_returned_copy_and_a_report_inside_it_are_never_read_as_failures():
    """A bounce of a bounce: the returned copy is itself a report, about someone else."""
    inner = "Final-Recipient: rfc822; other@example.net\nAction: failed\nStatus: 5.1.1\n"
    returned = f"Message-ID: <ours-2@example.org>\nFrom: someone@example.net\nTo: other@example.net\n\n{inner}"
    found = bouncereport.read(parse(nested_dsn(returned)))
    assert [r.address for r in found.recipients] == ["gone@example.com", "full@example.com", "slow@example.com"]


def text_bounce(newline: str = "\n") -> bytes:
    text = (
        "From: MAILER-DAEMON@mail.example.net\nTo: support@example.org\nSubject: failure notice\n\n"
        "Hi. This is the qmail-send program at mail.example.net.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<gone@example.com>:\nRemote host said: 550 5.1.1 unknown user\n\n"
        "For help, please contact <postmaster@mail.example.net>.\n\n"
        "--- Below this line is a copy of the message.\n\n"
        "Return-Path: <support@example.org>\nMessage-ID: <ours-3@example.org>\nFrom: support@example.org\n"
        "To: gone@example.com\nCc: boss@example.com\nSubject: [Support #4-9] Your question\n\nHello.\n"
    )
    return text.replace("\n", newline).encode()


def test_a_text_report_names_the_failed_address_not_the_copy_or_whom_to_contact():
    found = bouncereport.read(parse(text_bounce()), text_bounce())
    assert [(r.address, r.kind, r.status) for r in found.recipients] == [("gone@example.com", "permanent", "5.1.1")]
    assert found.returned_ids == ("ours-3@example.org",)
    assert found.returned_subject == "[Support #4-9] Your question"


def test_line_endings_do_not_change_the_reading():
    readings = set()
    for newline in ("\n", "\r\n", "\r"):
        raw = text_bounce(newline)
        found = bouncereport.read(parse(raw), raw)
        readings.add((found.kind, tuple(r.address for r in found.recipients), found.returned_ids))
    assert readings == {("failure", ("gone@example.com",), ("ours-3@example.org",))}


def test_x_failed_recipients():
    raw = (
        b"From: Mail Delivery System <Mailer-Daemon@exim.example.net>\nTo: support@example.org\n"
        b"Subject: Mail delivery failed: returning message to sender\nX-Failed-Recipients: Gone@Example.com\n\n"
        b"This message was created automatically by mail delivery software.\n\n"
        b"  gone@example.com\n    SMTP error from remote mail server after RCPT TO:<gone@example.com>:\n"
        b"    550 5.1.1 no such user\n"
    )
    found = bouncereport.read(parse(raw), raw)
    assert found.how == "a delivery failure report (X-Failed-Recipients)"
    assert [(r.address, r.kind, r.status) for r in found.recipients] == [("gone@example.com", "permanent", "5.1.1")]


def test_reports_in_other_languages():
    for subject, body in (
        ("Unzustellbar: Ihre Anfrage", "Ihre Nachricht konnte nicht zugestellt werden an: weg@example.de"),
        ("Non remis : votre question", "Votre message n'a pas pu être remis à parti@example.fr"),
        ("メールエラー通知", "以下のアドレスへの送信に失敗しました。\nkieta@example.jp"),
    ):
        raw = f"From: postmaster@example.net\nSubject: {subject}\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
        found = bouncereport.read(parse(raw.encode()))
        assert found is not None and found.kind == bouncereport.FAILURE, subject
        assert len(found.recipients) == 1 and found.recipients[0].address.startswith(("weg", "parti", "kieta"))


def test_what_is_no_delivery_failure():
    person = b"From: Jane <jane@example.com>\nSubject: Delivery failure of my parcel\n\nIt could not be delivered.\n"
    forwarded = (
        b"From: Jane <jane@example.com>\nSubject: Fwd: Undelivered Mail Returned to Sender\n\n"
        b"Why did this happen?\n\n> I'm sorry to have to inform you that your message could not be delivered.\n"
    )
    feedback = (
        b"From: staff@hotmail.example\nSubject: complaint\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\n\n'
        b"--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n--b--\n"
    )
    vacation = b"From: jane@example.com\nReturn-Path: <>\nSubject: Out of office\n\nI am away until Monday.\n"
    for raw in (person, forwarded, feedback, vacation):
        assert bouncereport.read(parse(raw), raw) is None, raw[:60]


def test_flufl_detectors_that_raise_stay_quiet(caplog, capsys):
    """flufl.bounce's Yale detector raises on a report whose From has no address; it must neither stop
    the other detectors nor log a traceback (it did, through logging, into cron's mail)."""
    raw = (
        b"From: <>\nTo: support@example.org\nSubject: Returned mail: User unknown\n\n"
        b"   ----- The following addresses had permanent fatal errors -----\n<gone@example.com>\n"
        b"    (reason: 550 5.1.1 User unknown)\n"
    )
    with caplog.at_level(logging.DEBUG):
        found = bouncereport.read(parse(raw), raw)
    assert [r.address for r in found.recipients] == ["gone@example.com"]
    assert caplog.records == [] and capsys.readouterr() == ("", "")
