"""The mails of a support desk as the admin and the customer find them in their mailboxes.

Customer mail arrives in a real Dovecot IMAP mailbox, `ticketctl process` and the staff commands run as
cron and staff run them, and what the real SMTP server (aiosmtpd) received is read the way its recipient
reads it: the subject's tag, the words of the text and HTML parts, who wrote, the attachments. Every mail
is also checked for an empty placeholder when the test ends (tests/e2e/conftest.py).
"""

from __future__ import annotations

import os
import re

from tests.e2e.conftest import (
    ADMIN,
    ADMIN_NAME,
    CUSTOMER,
    CUSTOMER_NAME,
    SUPPORT,
    TYPE,
    Desk,
    Mail,
    customer_mail,
)

SUBJECT = "The invoice PDF will not open"
QUESTION = (
    "Hello,\n\nthe invoice you sent on Monday will not open on my computer. I attach it and my notes.\n\nThanks, J.\n"
)
QUESTION_WORDS = "the invoice you sent on Monday will not open on my computer"


def ask_the_question(desk: Desk, **mail: object) -> int:
    """The customer mails the question; cron runs; returns the ticket's number as `tickets list` shows it."""
    desk.deliver(customer_mail(SUBJECT, QUESTION, **mail))
    desk.process()
    return desk.new_ticket()


def assert_tagged(mail: Mail, ticket: int) -> None:
    tag = mail.tag()
    assert tag is not None and tag[0] == ticket, (
        f"The subject {mail.subject!r} should carry the tag [{TYPE} #{ticket}-<log>] of ticket {ticket}."
    )


def assert_answers_go_to_support(mail: Mail) -> None:
    assert mail.reply_address == SUPPORT, (
        f"Answering this mail would go to {mail.reply_address!r}, not to the type's address {SUPPORT}."
    )


def test_admin_gets_a_new_ticket_notice_naming_ticket_type_and_sender_with_question_and_attachments(desk):
    report_pdf = os.urandom(20_000)
    notes = "What I tried:\n1. opened it in two viewers\n2. downloaded it again \u2013 same error\n".encode()
    ticket = ask_the_question(
        desk, attachments=[("report.pdf", "application/pdf", report_pdf), ("notes.txt", "text/plain", notes)]
    )

    notice = desk.postbox.new_mail_to(ADMIN)
    assert_tagged(notice, ticket)
    assert SUBJECT in notice.subject
    for where, view in notice.views_without_tag().items():
        assert re.search(rf"#{ticket}\b", view), f"The notice's {where} does not name ticket #{ticket}:\n{view}"
        assert TYPE in view, f"The notice's {where} does not name the type {TYPE!r}:\n{view}"
        assert CUSTOMER_NAME in view and CUSTOMER in view, (
            f"The notice's {where} does not name the sender {CUSTOMER_NAME} <{CUSTOMER}>:\n{view}"
        )
        assert QUESTION_WORDS in view, f"The notice's {where} does not carry the question:\n{view}"
    assert notice.attachments == {"report.pdf": report_pdf, "notes.txt": notes}
    assert_answers_go_to_support(notice)


def test_customers_reply_reaches_the_admin_saying_who_wrote_it(desk):
    ticket = ask_the_question(desk)
    desk.postbox.new_mail_to(ADMIN)  # the new-ticket notice
    desk.run("tickets", "reply", str(ticket), "--message", "Which program do you open the file with?")
    desk.run("queue", "send")
    question_to_customer = desk.postbox.new_mail_to(CUSTOMER)

    desk.deliver(
        customer_mail(
            "Re: " + question_to_customer.subject,
            "I open it with Evince 44; it says the file is damaged.\n",
            to=question_to_customer.reply_address,
            answering=question_to_customer,
        )
    )
    desk.process()

    relayed = desk.postbox.new_mail_to(ADMIN)
    assert_tagged(relayed, ticket)
    for where, view in relayed.views.items():
        assert "I open it with Evince 44; it says the file is damaged." in view, (
            f"The relayed reply's {where} does not carry the customer's text:\n{view}"
        )
        assert CUSTOMER_NAME in view and CUSTOMER in view, (
            f"The relayed reply's {where} does not say that {CUSTOMER_NAME} <{CUSTOMER}> wrote it:\n{view}"
        )
    assert_answers_go_to_support(relayed)
    assert [t["id"] for t in desk.tickets()] == [ticket], "the reply should join the ticket, not open another"


def test_admins_answer_by_mail_reaches_the_customer(desk):
    ticket = ask_the_question(desk)
    notice = desk.postbox.new_mail_to(ADMIN)
    answer = "Hello Jane,\n\nwe sent a fresh copy of the invoice just now; it opens in every viewer we tried.\n\nLena\n"

    desk.deliver(
        customer_mail(
            "Re: " + notice.subject, answer, frm=(ADMIN_NAME, ADMIN), to=notice.reply_address, answering=notice
        )
    )
    desk.process()

    relayed = desk.postbox.new_mail_to(CUSTOMER)
    assert_tagged(relayed, ticket)
    assert SUBJECT in relayed.subject
    for where, view in relayed.views.items():
        assert "we sent a fresh copy of the invoice just now; it opens in every viewer we tried." in view, (
            f"The answer's {where}, as the customer gets it, does not carry the admin's text:\n{view}"
        )
    assert_answers_go_to_support(relayed)


def test_reassigned_ticket_sends_the_admin_the_reassigned_mail(desk):
    desk.deliver(customer_mail(SUBJECT, QUESTION, to="billing@example.com"))  # no type has this address
    desk.process()
    ticket = desk.new_ticket("--invalid")
    assert [m.subject for m in desk.postbox.new_mails() if ADMIN in m.rcpt_tos] == [], (
        "nobody should be told about an invalid ticket before it has a type"
    )

    desk.run("tickets", "reassign", str(ticket), "--type", TYPE)
    desk.run("queue", "send")

    mail = desk.postbox.new_mail_to(ADMIN)
    assert "reassigned" in mail.subject.lower(), f"The subject {mail.subject!r} does not say the ticket was reassigned."
    assert_tagged(mail, ticket)
    assert SUBJECT in mail.subject
    for where, view in mail.views_without_tag().items():
        assert "reassigned" in view.lower(), f"The {where} does not say the ticket was reassigned:\n{view}"
        assert re.search(rf"#{ticket}\b", view), f"The {where} does not name ticket #{ticket}:\n{view}"
        assert TYPE in view, f"The {where} does not name the type {TYPE!r}:\n{view}"
        assert CUSTOMER_NAME in view and CUSTOMER in view, (
            f"The {where} does not name the original sender {CUSTOMER_NAME} <{CUSTOMER}>:\n{view}"
        )
        assert QUESTION_WORDS in view, f"The {where} does not carry the original question:\n{view}"
    assert_answers_go_to_support(mail)


def test_staff_reply_reaches_the_customer_with_its_text_and_file(desk, tmp_path):
    ticket = ask_the_question(desk)
    desk.postbox.new_mail_to(ADMIN)
    invoice = tmp_path / "files" / "invoice-2026-11.pdf"
    invoice.parent.mkdir()
    invoice.write_bytes(os.urandom(12_345))
    text = "Hello Jane,\n\nhere is a new copy of the invoice, saved again from our billing program.\n"

    desk.run("tickets", "reply", str(ticket), "--message", text, "--attach", str(invoice))
    desk.run("queue", "send")

    reply = desk.postbox.new_mail_to(CUSTOMER)
    assert_tagged(reply, ticket)
    for where, view in reply.views.items():
        assert "here is a new copy of the invoice, saved again from our billing program." in view, (
            f"The reply's {where} does not carry what staff wrote:\n{view}"
        )
    assert reply.attachments == {"invoice-2026-11.pdf": invoice.read_bytes()}
    assert_answers_go_to_support(reply)


def test_canned_reply_reaches_the_customer_rendered_with_their_name(desk):
    ticket = ask_the_question(desk)
    desk.postbox.new_mail_to(ADMIN)
    desk.run(
        "canned", "add", "resent",
        "--subject", "New copy of your invoice (ticket {{ ticket.id }})",
        "--body", "Hello {{ contact.name }},\n\nthe {{ type.name }} team has sent you a new copy of the invoice.\n",
    )  # fmt: skip

    desk.run("tickets", "reply", str(ticket), "--canned", "resent")
    desk.run("queue", "send")

    reply = desk.postbox.new_mail_to(CUSTOMER)
    assert_tagged(reply, ticket)
    assert f"New copy of your invoice (ticket {ticket})" in reply.subject
    for where, view in reply.views.items():
        assert f"Hello {CUSTOMER_NAME},\n\nthe {TYPE} team has sent you a new copy of the invoice." in view, (
            f"The canned reply's {where} is not the rendered canned text:\n{view}"
        )
    assert_answers_go_to_support(reply)
