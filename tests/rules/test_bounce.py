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
