"""Nothing taken in is out of staff's sight: damaged mail still becomes a ticket whose damage
`tickets show` names and `tickets list` marks; mail the rules ignored or rejected is listed by
`mail list`, shown whole by `mail show --raw`, and `mail release` takes it in as a ticket with the
usual notice (or as a reply into a ticket staff name).

Mail goes in through Dovecot, out through aiosmtpd, and the screens are read as staff see them.
"""

from __future__ import annotations

import base64
import json
import os
import re

import pytest

from tests.e2e.conftest import ADMIN, CUSTOMER, CUSTOMER_NAME, SUPPORT, Desk, customer_mail

BOUNCES = "bounces@example.com"
HEAD = f"From: {CUSTOMER_NAME} <{CUSTOMER}>\r\nTo: {SUPPORT}\r\nMessage-ID: <{{id}}@customer.example>\r\n"


def broken_boundary() -> bytes:
    return (
        HEAD.format(id="broken-boundary") + "Subject: Broken boundary\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="declared"\r\n\r\n'
        "--other\r\nContent-Type: text/plain\r\n\r\nMy order 1234 never arrived.\r\n--other--\r\n"
    ).encode()


def truncated_base64() -> bytes:
    data = base64.encodebytes(os.urandom(3000)).decode().replace("\n", "\r\n")
    cut = data[: len(data) // 2 - 3]  # the transfer stopped in the middle of a line
    return (
        HEAD.format(id="truncated") + "Subject: The report\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nThe report is attached.\r\n"
        '--b1\r\nContent-Type: application/pdf; name="report.pdf"\r\n'
        'Content-Disposition: attachment; filename="report.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        f"{cut}\r\n--b1--\r\n"
    ).encode()


def unknown_charset() -> bytes:
    return (
        HEAD.format(id="unknown-charset").encode() + b"Subject: Gruesse\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=x-made-up\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"Gr\xfc\xdfe aus M\xfcnchen\r\n"
    )


DAMAGED = {
    "broken boundary": (broken_boundary, r"boundary.*missing.*raw MIME lines"),
    "truncated base64": (truncated_base64, r"base64 data stops in the middle.*cut short"),
    "unknown charset": (unknown_charset, r"text labelled 'x-made-up'"),
}


@pytest.mark.parametrize("case", list(DAMAGED))
def test_damaged_mail_is_a_ticket_whose_damage_staff_are_shown(desk: Desk, case: str) -> None:
    build, damage = DAMAGED[case]
    desk.dovecot.deliver(desk.user.name, [build()])
    desk.process()
    ticket = desk.new_ticket()
    notice = desk.postbox.new_mail_to(ADMIN)  # the ticket is made and announced as usual
    assert notice.tag() is not None and notice.tag()[0] == ticket

    shown = desk.run("tickets", "show", str(ticket)).stdout
    assert re.search(rf"Damaged: .*{damage}", shown), f"`tickets show` should name the damage ({case}):\n{shown}"
    listed = desk.run("tickets", "list").stdout
    row = next(line for line in listed.splitlines() if re.match(rf"\W*{ticket}\W", line))
    assert "!" in row and "arrived damaged" in listed, f"`tickets list` should mark ticket {ticket}:\n{listed}"
    assert [t["id"] for t in desk.tickets("--damaged")] == [ticket]


def test_sound_mail_is_not_marked_damaged(desk: Desk) -> None:
    desk.deliver(customer_mail("A question", "Is the shop open on Sunday?\n"))
    desk.process()
    ticket = desk.new_ticket()
    assert "Damaged" not in desk.run("tickets", "show", str(ticket)).stdout
    assert desk.tickets("--damaged") == [] and desk.tickets()[0]["damaged"] is False


def test_ignored_and_rejected_mail_is_listed_shown_and_released_into_tickets(desk: Desk) -> None:
    desk.run("type", "add", "Bounces", "--task", "bounce_back", "--email-to", BOUNCES, "--tag", "Bounce",
             "--mailbox", "support")  # fmt: skip
    desk.deliver(customer_mail("The printer is broken", "Hello, the printer on floor 2 is broken.\n"))
    desk.process()
    ticket = desk.new_ticket()
    notice = desk.postbox.new_mail_to(ADMIN)
    # a customer who took the address from a bounce they got: the bounce mailbox ignores anything else
    misdirected = customer_mail("Missing invoice in order 1234", "Hello, my order came without invoice.\n", to=BOUNCES)
    stranger = customer_mail(
        "Re: " + notice.subject, "I have the same problem on floor 3.\n", frm=("Mallory", "mallory@elsewhere.example")
    )
    desk.deliver(misdirected, stranger)
    desk.process()
    assert desk.postbox.new_mails() == [], "neither mail should be passed on by the rules"

    listed = json.loads(desk.run("mail", "list", "--json").stdout)["mails"]
    ignored, rejected = (next(m for m in listed if m["disposition"] == d) for d in ("ignored", "rejected"))
    assert (ignored["from_email"], ignored["subject"], ignored["rule"]) == (
        CUSTOMER,
        "Missing invoice in order 1234",
        "bounce-mailbox",
    )
    assert rejected["from_email"] == "mallory@elsewhere.example" and "not a participant" in rejected["reason"]
    table = desk.run("mail", "list").stdout
    assert "Missing invoice" in table and "bounce-mailbox" in table and "mallory@elsewhere.example" in table

    raw = desk.run("mail", "show", str(ignored["id"]), "--raw").stdout
    assert raw.replace("\r\n", "\n") == bytes(misdirected).decode().replace("\r\n", "\n")
    shown = desk.run("mail", "show", str(rejected["id"])).stdout
    assert "I have the same problem on floor 3." in shown and "not a participant" in shown

    released = desk.run("mail", "release", str(ignored["id"]), "--type", "Support").stdout
    new_ticket = desk.new_ticket()
    assert f"is now ticket {new_ticket}" in released
    desk.run("queue", "send")
    notice = desk.postbox.new_mail_to(ADMIN)
    assert notice.tag() is not None and notice.tag()[0] == new_ticket
    assert "my order came without invoice" in notice.text and CUSTOMER in notice.text

    desk.run("mail", "release", str(rejected["id"]), "--ticket", str(ticket))
    desk.run("queue", "send")
    relayed = desk.postbox.new_mail_to(ADMIN)
    assert relayed.tag() is not None and relayed.tag()[0] == ticket
    assert "I have the same problem on floor 3." in relayed.text
    assert "Released by" in desk.run("tickets", "show", str(ticket)).stdout

    after = {m["id"]: m for m in json.loads(desk.run("mail", "list", "--json").stdout)["mails"]}
    assert (after[ignored["id"]]["disposition"], after[ignored["id"]]["released_as"]) == ("ignored", "new_ticket")
    assert after[ignored["id"]]["ticket_id"] == new_ticket and after[ignored["id"]]["released_by"]
    assert (after[rejected["id"]]["disposition"], after[rejected["id"]]["released_as"]) == ("rejected", "reply")
    again = desk.cli("mail", "release", str(ignored["id"]))
    assert again.exit_code == 1 and "released already" in again.stderr
