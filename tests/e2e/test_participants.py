"""Who takes part in a ticket, as the people involved find it in their mailboxes: the Reply-To of a
web-form mail is the customer (the answer reaches them, their reply joins the ticket); a colleague the
customer Cc'd gets the answers in Cc and may reply into the ticket, unless the type turns that off.

Mail goes in through Dovecot, out through aiosmtpd, and is read as each recipient gets it.
"""

from __future__ import annotations

import json
from email.utils import getaddresses

from tests.e2e import reply_styles
from tests.e2e.conftest import ADMIN, ADMIN_NAME, CUSTOMER, CUSTOMER_NAME, SUPPORT, TYPE, Desk, Mail, customer_mail

PAULA = ("Paula Customer", "paula@customer.example")
FORM = ("Shop contact form", "noreply@shop.example")
CARL = ("Carl Colleague", "carl@customer.example")
SUBJECT = "The invoice PDF will not open"
QUESTION = "Hello,\n\nthe invoice you sent on Monday will not open on my computer.\n\nThanks, J.\n"


def addresses(mail: Mail, header: str) -> list[str]:
    return [email for _, email in getaddresses([str(mail.msg[header] or "")])]


def admin_answers(desk: Desk, notice: Mail, text: str, style: str = "gmail-en") -> None:
    desk.deliver(reply_styles.reply_mail(style, notice.msg, text, (ADMIN_NAME, ADMIN), notice.reply_address))
    desk.process()


def test_a_web_form_mails_answer_reaches_its_reply_to_whose_reply_joins_the_ticket(desk: Desk) -> None:
    form = customer_mail("Refund for order 1234", "Name: Paula Customer\nMessage: I want my money back.\n", frm=FORM)
    form["Reply-To"] = f"{PAULA[0]} <{PAULA[1]}>"
    desk.deliver(form)
    desk.process()
    ticket = desk.new_ticket()
    notice = desk.postbox.new_mail_to(ADMIN)
    assert PAULA[1] in notice.text, f"the notice should say the ticket is Paula's:\n{notice.text}"

    admin_answers(desk, notice, "Hello Paula,\n\nthe refund is on its way.\n")
    answer = desk.postbox.new_mail_to(PAULA[1])
    assert FORM[1] not in answer.rcpt_tos and addresses(answer, "To") == [PAULA[1]]
    assert "the refund is on its way." in answer.text
    assert not [m for m in desk.postbox.new_mails() if FORM[1] in m.rcpt_tos], "nothing may go to the no-reply sender"

    desk.deliver(
        reply_styles.reply_mail("apple-mail-en", answer.msg, "Thank you! When will it arrive?\n", PAULA, SUPPORT)
    )
    desk.process()
    relayed = desk.postbox.new_mail_to(ADMIN)
    assert relayed.tag() is not None and relayed.tag()[0] == ticket
    assert "When will it arrive?" in relayed.text and PAULA[1] in relayed.text
    assert [t["id"] for t in desk.tickets()] == [ticket], "Paula's reply should join her ticket"
    shown = json.loads(desk.run("tickets", "show", str(ticket), "--json").stdout)
    assert shown["from_email"] == PAULA[1]
    assert {(p["email"], p["role"]) for p in shown["participants"]} == {(PAULA[1], "customer"), (FORM[1], "from")}


def cc_question() -> object:
    question = customer_mail(SUBJECT, QUESTION)
    question["Cc"] = f"{CARL[0]} <{CARL[1]}>"
    return question


def test_a_colleague_the_customer_cc_d_gets_the_answers_in_cc_and_can_reply_into_the_ticket(desk: Desk) -> None:
    desk.deliver(cc_question())
    desk.process()
    ticket = desk.new_ticket()
    notice = desk.postbox.new_mail_to(ADMIN)

    admin_answers(desk, notice, "Hello Jane,\n\nwe sent a new copy.\n", style="outlook-web-en")
    answer = desk.postbox.new_mail_to(CUSTOMER)
    assert CARL[1] in answer.rcpt_tos, f"Carl should receive the answer too: {answer.rcpt_tos}"
    assert addresses(answer, "To") == [CUSTOMER] and addresses(answer, "Cc") == [CARL[1]]
    assert "we sent a new copy." in answer.text

    carl_writes = reply_styles.reply_mail(
        "thunderbird-en", answer.msg, "It still fails on my machine, too.\n", CARL, SUPPORT, cc=CUSTOMER
    )
    desk.deliver(carl_writes)
    desk.process()
    relayed = desk.postbox.new_mail_to(ADMIN)
    assert relayed.tag() is not None and relayed.tag()[0] == ticket
    assert "It still fails on my machine, too." in relayed.text and CARL[1] in relayed.text
    assert [t["id"] for t in desk.tickets()] == [ticket]

    admin_answers(desk, relayed, "Carl, Jane: please try the copy attached to this mail.\n")
    second = desk.postbox.new_mail_to(CUSTOMER)
    assert addresses(second, "Cc") == [CARL[1]] and CARL[1] in second.rcpt_tos

    desk.run("tickets", "reply", str(ticket), "--message", "Did the new copy work?")
    desk.run("queue", "send")
    staff_reply = desk.postbox.new_mail_to(CUSTOMER)
    assert addresses(staff_reply, "Cc") == [CARL[1]], "a reply staff type in goes to the people copied too"


def test_with_the_type_setting_off_a_cc_d_colleague_neither_gets_answers_nor_can_reply(desk: Desk) -> None:
    desk.run("type", "edit", TYPE, "--no-cc-participants")
    question = cc_question()
    desk.deliver(question)
    desk.process()
    ticket = desk.new_ticket()
    notice = desk.postbox.new_mail_to(ADMIN)

    admin_answers(desk, notice, "Hello Jane,\n\nwe sent a new copy.\n")
    answer = desk.postbox.new_mail_to(CUSTOMER)
    assert answer.rcpt_tos == [CUSTOMER] and answer.msg["Cc"] is None

    carl_writes = customer_mail(  # Carl has only Jane's mail to answer: he answers it to all
        "Re: " + SUBJECT, "It fails on my machine, too.\n", frm=CARL, to=f"{CUSTOMER_NAME} <{CUSTOMER}>, {SUPPORT}"
    )
    carl_writes["In-Reply-To"] = carl_writes["References"] = question["Message-ID"]
    desk.deliver(carl_writes)
    desk.process()
    assert [m.rcpt_tos for m in desk.postbox.new_mails()] == [], "Carl's mail should not be passed on"
    assert [t["id"] for t in desk.tickets()] == [ticket]
    rejected = json.loads(desk.run("mail", "list", "--disposition", "rejected", "--json").stdout)["mails"]
    assert [m["from_email"] for m in rejected] == [CARL[1]]
    assert "not a participant" in rejected[0]["reason"]
