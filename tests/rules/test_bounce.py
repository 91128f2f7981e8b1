from tests.rules.conftest import parsed
from ticketctl.engine.intake.rules import bounce
from ticketctl.engine.mail import message

DSN = b"""From: Mail Delivery System <MAILER-DAEMON@mx.example>
To: support@example.com
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn1@mx.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; gone@customer.example
Action: failed
Status: 5.1.1
--b--
"""


def test_dsn_is_a_bounce(view):
    assert bounce.check(message.parse(DSN), view).disposition == "bounce"


def test_mailer_daemon_report_without_dsn(view):
    msg = parsed(frm="MAILER-DAEMON@old.example", subject="failure notice", Return_Path="<>")
    assert bounce.check(msg, view).disposition == "bounce"


def test_customer_mentioning_delivery_is_not(view):
    assert bounce.check(parsed(subject="Delivery failure of my parcel"), view) is None


def test_a_delay_warning_is_a_bounce_that_says_so(view):
    decision = bounce.check(message.parse(DSN.replace(b"Action: failed", b"Action: delayed")), view)
    assert decision.disposition == "bounce" and decision.reason.startswith("a delay warning")


def test_a_delivered_notice_is_ignored(view):
    delivered = DSN.replace(b"Action: failed", b"Action: delivered").replace(b"Status: 5.1.1", b"Status: 2.0.0")
    decision = bounce.check(message.parse(delivered), view)
    assert decision.disposition == "ignored" and "nothing failed" in decision.reason


def test_a_read_receipt_is_no_bounce(view):
    receipt = DSN.replace(b"report-type=delivery-status", b"report-type=disposition-notification")
    assert bounce.check(message.parse(receipt), view) is None


def test_a_bounce_in_german_without_a_report_part(view):
    msg = parsed(frm="Mail Delivery System <postmaster@mx.example.de>", subject="Unzustellbar: Ihre Frage",
                 body="Ihre Nachricht konnte nicht zugestellt werden an: weg@example.de\n")  # fmt: skip
    assert bounce.check(msg, view).disposition == "bounce"
