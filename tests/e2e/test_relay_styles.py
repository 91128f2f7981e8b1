"""Only the new words travel: for each way people's mail clients answer (tests/e2e/reply_styles.py), the
admin answers the new-ticket notice in that style and the customer answers the relayed answer in the
same style; each receives the other's new words and nothing of what was quoted: none of our notice,
no attribution or header block, no signature. The ticket log keeps both mails whole.

Mail goes in through Dovecot, out through aiosmtpd, and is read as its recipient gets it.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e import reply_styles, test_assignments
from tests.e2e.conftest import ADMIN, ADMIN_NAME, CUSTOMER, CUSTOMER_NAME, SUPPORT, Desk, Mail, customer_mail
from tests.e2e.test_assignments import HOMEWORK, SAM, SAM_NAME, TESS, TESS_NAME, only_mail_to

school = test_assignments.school  # the assignment desk of those tests (a fixture)

SUBJECT = "The invoice PDF will not open"
QUESTION = (
    "Hello,\n\nthe invoice you sent on Monday will not open on my computer. I attach it and my notes.\n\nThanks, J.\n"
)
ANSWER = (
    "Hello Jane,\n\nwe sent a fresh copy of the invoice just now; it opens in every viewer we tried.\n"
    "Thanks for your patience.\n\n- check the spam folder first\n- then open the new copy\n\nBest regards,\nLena\n"
    "-- \nLena Lead | Example Support | +49 30 1234567\n"
)
ANSWER_WORDS = [
    "Hello Jane,",
    "we sent a fresh copy of the invoice just now; it opens in every viewer we tried.",
    "Thanks for your patience.",
    "check the spam folder first",
    "then open the new copy",
    "Best regards,",
]
FOLLOW_UP = "Thank you, Lena. The new copy opens fine.\nOne more question: can I get it as CSV as well?\n\nJane\n"
FOLLOW_UP_WORDS = ["Thank you, Lena. The new copy opens fine.", "One more question: can I get it as CSV as well?"]


def _words(text: str) -> str:
    """The text as words only, so rewrapping, markdown escapes and HTML-to-text spacing do not count."""
    return " ".join(re.findall(r"\w+", text.casefold()))


def assert_carries_only(mail: Mail, new: list[str], quoted: Mail, what: str) -> None:
    """Each view of `mail` holds every line of `new` and no line of the mail `quoted` (past our footer)."""
    quoted_lines = [
        line for line in quoted.text.splitlines() if len(re.findall(r"\w+", line)) >= 3 and not line.startswith("--")
    ]
    assert quoted_lines, "the quoted mail should have lines to look for"
    for where, view in mail.views_without_tag().items():
        body = _words(view.split("\n-- \n")[0] if where == "text part" else view)
        for line in new:
            assert _words(line) in body, f"The {where} of the {what} lost {line!r}:\n{view}"
        for line in quoted_lines:
            assert _words(line) not in body, f"The {where} of the {what} carries quoted {line!r}:\n{view}"
        for marker in ("wrote:", "schrieb", "From:", "Von:", "Gesendet:", "Sent:", "Lena Lead | Example Support"):
            assert marker not in view.split("\n-- \n")[0], f"The {where} of the {what} carries {marker!r}:\n{view}"


@pytest.mark.parametrize("mime", reply_styles.MIME)
@pytest.mark.parametrize("style", list(reply_styles.STYLES))
def test_each_side_receives_only_the_other_sides_new_words(desk: Desk, style: str, mime: str) -> None:
    desk.deliver(customer_mail(SUBJECT, QUESTION))
    desk.process()
    ticket = desk.new_ticket()
    notice = desk.postbox.new_mail_to(ADMIN)

    answer = reply_styles.reply_mail(style, notice.msg, ANSWER, (ADMIN_NAME, ADMIN), notice.reply_address, mime)
    desk.deliver(answer)
    desk.process()
    relayed = desk.postbox.new_mail_to(CUSTOMER)
    assert relayed.tag() is not None and relayed.tag()[0] == ticket
    assert_carries_only(relayed, ANSWER_WORDS, notice, f"admin's {style} answer as the customer gets it")
    assert "A new Support ticket" not in relayed.text and "Reply to this mail" not in relayed.text

    follow_up = reply_styles.reply_mail(
        style, relayed.msg, FOLLOW_UP, (CUSTOMER_NAME, CUSTOMER), relayed.reply_address, mime
    )
    desk.deliver(follow_up)
    desk.process()
    to_admin = desk.postbox.new_mail_to(ADMIN)
    assert to_admin.tag() is not None and to_admin.tag()[0] == ticket
    assert_carries_only(to_admin, FOLLOW_UP_WORDS, relayed, f"customer's {style} reply as the admin gets it")
    assert "we sent a fresh copy of the invoice" not in to_admin.text

    shown = json.loads(desk.run("tickets", "show", str(ticket), "--json").stdout)
    received = [log["text"] for log in shown["logs"] if log["direction"] == "in"]
    assert len(received) == 3, shown["logs"]
    assert "the invoice you sent on Monday" in _plain(received[1]) and "Lena Lead" in received[1], (
        f"the ticket log should keep the admin's {style} mail whole, quote and signature included:\n{received[1]}"
    )
    assert "we sent a fresh copy of the invoice" in _plain(received[2]), (
        f"the ticket log should keep the customer's {style} mail whole, quote included:\n{received[2]}"
    )
    assert [t["id"] for t in desk.tickets()] == [ticket]
    assert SUPPORT not in relayed.rcpt_tos


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace(">", " "))


def test_an_assignments_feedback_and_resubmission_travel_without_what_they_quote(school: Desk) -> None:
    """The assignment flow passes mail on too: the tutor's feedback reaches the student without the
    submission mail it quotes, and the student's resubmission reaches the tutor without the feedback."""
    desk = school
    desk.deliver(customer_mail(SUBJECT, "Hello Tess,\n\nhere is my essay for WEB101.\n", frm=(SAM_NAME, SAM),
                               to=HOMEWORK))  # fmt: skip
    desk.process()
    submitted = only_mail_to(desk.postbox.new_mails(), TESS)

    feedback_words = "Good start; see my notes on the grid section."
    desk.deliver(reply_styles.reply_mail("outlook-desktop-en", submitted.msg, feedback_words, (TESS_NAME, TESS),
                                         submitted.reply_address))  # fmt: skip
    desk.process()
    feedback = only_mail_to(desk.postbox.new_mails(), SAM)
    assert_carries_only(feedback, [feedback_words], submitted, "tutor's feedback as the student gets it")

    desk.deliver(reply_styles.reply_mail("gmail-en", feedback.msg, "Revised as you suggested.", (SAM_NAME, SAM),
                                         feedback.reply_address))  # fmt: skip
    desk.process()
    resubmitted = only_mail_to(desk.postbox.new_mails(), TESS)
    assert_carries_only(resubmitted, ["Revised as you suggested."], feedback, "resubmission as the tutor gets it")
