"""The assignment workflow by email, as the student, the tutor and the admin find it in their mailboxes.

A training organisation on the desk of tests/e2e/conftest.py (a real Dovecot IMAP mailbox, a real SMTP
server): an assignment type `Homework` on the same mailbox, a course WEB101 using it, Sam enrolled with
Tess as tutor — all set up through the CLI. Mail is written as a mail client writes it, answers are
written to the address and thread of the mail that person received, and every mail the SMTP server got
is read as its recipient reads it: the tag, the words, the attachments byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from contextlib import closing
from email.utils import getaddresses

import pytest

from tests.e2e.conftest import Desk, Mail, customer_mail

HOMEWORK = "homework@example.com"
OFFICE = "office@example.com"
SAM, SAM_NAME = "sam@students.example", "Sam Student"
TESS, TESS_NAME = "tess@tutors.example", "Tess Tutor"
TOM, TOM_NAME = "tom@tutors.example", "Tom Tutor"
SUBJECT = "Essay on responsive layouts"


@pytest.fixture
def school(desk: Desk) -> Desk:
    desk.run("type", "add", "Homework", "--task", "assignment", "--email-to", HOMEWORK, "--tag", "Hw",
             "--mailbox", "support", "--admin-email", OFFICE)  # fmt: skip
    desk.run("courses", "add", "WEB101", "--name", "Web Design", "--assignments", "Homework")
    desk.run("courses", "enrol", "WEB101", SAM, "--tutor", TESS, "--student-name", SAM_NAME, "--tutor-name", TESS_NAME)
    return desk


def hw_tag(mail: Mail) -> tuple[int, int] | None:
    found = re.search(r"\[Hw #(\d+)-(\d+)\]", mail.subject)
    return (int(found[1]), int(found[2])) if found else None


def arrived(desk: Desk) -> list[Mail]:
    """Every mail that arrived since the last look; each must carry the Homework tag."""
    fresh = desk.postbox.new_mails()
    for mail in fresh:
        assert hw_tag(mail) is not None, f"The {mail.describe()}\n...carries no [Hw #T-L] tag."
    return fresh


def only_mail_to(mails: list[Mail], address: str) -> Mail:
    mine = [m for m in mails if address in m.rcpt_tos]
    assert len(mine) == 1, f"expected one mail to {address}, got {[(m.rcpt_tos, m.subject) for m in mails]}"
    return mine[0]


def copied_to(mail: Mail) -> set[str]:
    return {address for _, address in getaddresses([str(mail.msg["Cc"] or "")])}


def answer(desk: Desk, mail: Mail, frm: tuple[str, str], text: str, files: list[tuple[str, str, bytes]]) -> None:
    """`frm` answers `mail` from their mail client (to its Reply-To, threaded to it), and cron runs."""
    desk.deliver(customer_mail("Re: " + mail.subject, text, frm=frm, to=mail.reply_address, attachments=files,
                               answering=mail))  # fmt: skip
    desk.process()


def assert_reads(mail: Mail, *phrases: str) -> None:
    for where, view in mail.views.items():
        for phrase in phrases:
            assert phrase in view, f"The {where} of the {mail.describe()}\n...does not say {phrase!r}:\n{view}"


def ledger(desk: Desk) -> list[tuple[str, str, str]]:
    """(disposition, rule, reason) of every mail taken in, in order (`mail list` is issue 13's)."""
    with closing(sqlite3.connect("ticketctl.db")) as db:  # the tests run in the desk's folder
        return db.execute("SELECT disposition, rule, reason FROM ledger ORDER BY id").fetchall()


def test_submit_feedback_resubmit_feedback(school):
    desk = school
    essay, notes = os.urandom(30_000), "Sources:\n- MDN\n- \u201cResponsive Web Design\u201d\n".encode()
    desk.deliver(customer_mail(SUBJECT, "Hello Tess,\n\nhere is my essay for WEB101.\n", frm=(SAM_NAME, SAM),
                               to=HOMEWORK, attachments=[("essay.pdf", "application/pdf", essay),
                                                         ("notes.txt", "text/plain", notes)]))  # fmt: skip
    desk.process()
    ticket = desk.new_ticket("--type", "Homework")

    # 1. the tutor gets the submission with the student's files; the admin is in copy
    submitted = only_mail_to(arrived(desk), TESS)
    assert hw_tag(submitted)[0] == ticket
    assert submitted.attachments == {"essay.pdf": essay, "notes.txt": notes}
    assert OFFICE in submitted.rcpt_tos and copied_to(submitted) == {OFFICE}
    assert "WEB101" in submitted.subject and "attempt 1" in submitted.subject and SUBJECT in submitted.subject
    assert_reads(submitted, f"{SAM_NAME} <{SAM}> has submitted an assignment for Web Design (WEB101): attempt 1",
                 f"#{ticket}", "here is my essay for WEB101.")  # fmt: skip
    assert submitted.reply_address == HOMEWORK

    # 2. the tutor's feedback reaches the student with the tutor's files, the admin in copy
    marked = os.urandom(12_000)
    answer(desk, submitted, (TESS_NAME, TESS), "Good start; see my notes on the grid section.\n",
           [("essay-marked.pdf", "application/pdf", marked)])  # fmt: skip
    feedback = only_mail_to(arrived(desk), SAM)
    assert hw_tag(feedback)[0] == ticket
    assert feedback.attachments == {"essay-marked.pdf": marked}
    assert OFFICE in feedback.rcpt_tos and copied_to(feedback) == {OFFICE}
    assert_reads(feedback, f"Hello {SAM_NAME}", f"{TESS_NAME}, your tutor for Web Design (WEB101), has returned "
                 "feedback on attempt 1", "Good start; see my notes on the grid section.")  # fmt: skip
    assert "essay.pdf" not in feedback.attachments, "the student's own files must not come back"

    # 3. the student resubmits: attempt 2, to the tutor, with only the new files
    essay2 = os.urandom(31_000)
    answer(
        desk, feedback, (SAM_NAME, SAM), "Revised as you suggested.\n", [("essay-v2.pdf", "application/pdf", essay2)]
    )
    resubmitted = only_mail_to(arrived(desk), TESS)
    assert hw_tag(resubmitted)[0] == ticket
    assert resubmitted.attachments == {"essay-v2.pdf": essay2}
    assert copied_to(resubmitted) == {OFFICE}
    assert "attempt 2" in resubmitted.subject
    assert_reads(resubmitted, f"{SAM_NAME} <{SAM}> has resubmitted their assignment for Web Design (WEB101): "
                 "attempt 2", "Revised as you suggested.")  # fmt: skip

    # 4. feedback on attempt 2
    marked2 = os.urandom(9_000)
    answer(desk, resubmitted, (TESS_NAME, TESS), "Competent. Well done.\n",
           [("essay-v2-marked.pdf", "application/pdf", marked2)])  # fmt: skip
    feedback2 = only_mail_to(arrived(desk), SAM)
    assert feedback2.attachments == {"essay-v2-marked.pdf": marked2}
    assert_reads(feedback2, "has returned feedback on attempt 2", "Competent. Well done.")

    assert [t["id"] for t in desk.tickets("--type", "Homework")] == [ticket], "every step joins the one ticket"
    listed = json.loads(desk.run("assignments", "list", "--json").stdout)["assignments"]
    assert [(a["ticket_id"], a["course"], a["status"], a["submissions"]) for a in listed] == [
        (ticket, "WEB101", "feedback_returned", 2)
    ]
    number = listed[0]["id"]
    shown = json.loads(desk.run("assignments", "show", str(number), "--json").stdout)
    steps = [(s["kind"], s["attempt"], s["author"], [f["filename"] for f in s["attachments"]]) for s in shown["steps"]]
    assert steps == [
        ("submitted", 1, SAM, ["essay.pdf", "notes.txt"]),
        ("feedback", 1, TESS, ["essay-marked.pdf"]),
        ("resubmitted", 2, SAM, ["essay-v2.pdf"]),
        ("feedback", 2, TESS, ["essay-v2-marked.pdf"]),
    ]
    screen = desk.run("assignments", "show", str(number)).stdout
    for line in ("Attempt 1 (submitted) by Sam Student <sam@students.example>", "Feedback on attempt 1 (feedback)",
                 "Attempt 2 (resubmitted)", "Feedback on attempt 2", "Attachment: essay-v2-marked.pdf",
                 "Competent. Well done."):  # fmt: skip
        assert line in screen, f"`assignments show` does not show {line!r}:\n{screen}"

    desk.run("assignments", "close", str(number), "--result", "competent")
    closed = json.loads(desk.run("assignments", "show", str(number), "--json").stdout)["assignment"]
    assert (closed["status"], closed["result"]) == ("completed", "competent")
    assert desk.tickets("--type", "Homework")[0]["status"] == "resolved"


def test_a_sender_who_is_not_a_student_makes_an_invalid_ticket_that_staff_can_reassign(school):
    desk = school
    work = os.urandom(5_000)
    desk.deliver(customer_mail(SUBJECT, "My assignment.\n", frm=("Jo Newcomer", "jo@elsewhere.example"), to=HOMEWORK,
                               attachments=[("work.pdf", "application/pdf", work)]))  # fmt: skip
    desk.process()
    ticket = desk.new_ticket("--invalid")
    assert desk.postbox.new_mails() == [], "nobody is sent anything about an invalid ticket"
    assert ledger(desk)[-1][:2] == ("invalid_ticket", "not-a-student")

    desk.run("courses", "enrol", "WEB101", "jo@elsewhere.example", "--tutor", TESS)
    desk.run("tickets", "reassign", str(ticket), "--type", "Homework")
    desk.run("queue", "send")
    submitted = only_mail_to(arrived(desk), TESS)
    assert hw_tag(submitted)[0] == ticket and submitted.attachments == {"work.pdf": work}
    assert_reads(submitted, "Jo Newcomer <jo@elsewhere.example> has submitted an assignment for Web Design (WEB101)")


def test_a_student_of_two_courses_of_the_type_names_the_course_in_the_subject_or_the_admin_is_told(school):
    desk = school
    desk.run("courses", "add", "WEB102", "--name", "Web Accessibility", "--assignments", "Homework")
    desk.run("courses", "enrol", "WEB102", SAM, "--tutor", TOM, "--tutor-name", TOM_NAME)
    draft = os.urandom(4_000)

    desk.deliver(customer_mail(SUBJECT, "Here it is.\n", frm=(SAM_NAME, SAM), to=HOMEWORK,
                               attachments=[("draft.pdf", "application/pdf", draft)]))  # fmt: skip
    desk.process()
    unclear_ticket = desk.new_ticket("--type", "Homework")
    told = only_mail_to(arrived(desk), OFFICE)
    assert told.rcpt_tos == [OFFICE], "no tutor gets a mail whose course is not known"
    assert told.attachments == {"draft.pdf": draft}
    assert told.reply_address == SAM
    assert_reads(told, "which course it is for cannot be told", "Web Design (WEB101)", "Web Accessibility (WEB102)",
                 "the subject does not name any of them")  # fmt: skip
    assert_reads(told, f"ticketctl assignments submit {unclear_ticket} --course CODE")
    assert json.loads(desk.run("assignments", "list", "--json").stdout)["assignments"] == []

    desk.deliver(customer_mail("WEB102: " + SUBJECT, "For accessibility.\n", frm=(SAM_NAME, SAM), to=HOMEWORK,
                               attachments=[("a11y.pdf", "application/pdf", b"%PDF a11y")]))  # fmt: skip
    desk.process()
    desk.new_ticket("--type", "Homework")
    to_tom = only_mail_to(arrived(desk), TOM)
    assert to_tom.attachments == {"a11y.pdf": b"%PDF a11y"}
    assert_reads(to_tom, "for Web Accessibility (WEB102): attempt 1")

    desk.run("assignments", "submit", str(unclear_ticket), "--course", "web101")
    desk.run("queue", "send")
    to_tess = only_mail_to(arrived(desk), TESS)
    assert hw_tag(to_tess)[0] == unclear_ticket and to_tess.attachments == {"draft.pdf": draft}


def test_a_stranger_and_the_admin_writing_into_an_assignment_are_refused_and_the_ticket_is_untouched(school):
    desk = school
    desk.deliver(customer_mail(SUBJECT, "My essay.\n", frm=(SAM_NAME, SAM), to=HOMEWORK))
    desk.process()
    ticket = desk.new_ticket("--type", "Homework")
    submitted = only_mail_to(arrived(desk), TESS)
    before = json.loads(desk.run("tickets", "show", str(ticket), "--json").stdout)

    answer(desk, submitted, ("Eve", "eve@evil.example"), "Let me in.\n", [])
    answer(desk, submitted, ("Office", OFFICE), "Looks fine to me.\n", [])  # the admin answers the copy
    desk.deliver(customer_mail("Note to self", "Check WEB101 marks.\n", frm=("Office", OFFICE), to=HOMEWORK))
    desk.process()

    assert arrived(desk) == []
    assert json.loads(desk.run("tickets", "show", str(ticket), "--json").stdout) == before
    refusals = ledger(desk)[-3:]
    assert [r[:2] for r in refusals] == [
        ("rejected", "assignment-writer"), ("rejected", "assignment-writer"), ("rejected", "admin-to-self"),
    ]  # fmt: skip
    assert "the sender eve@evil.example is neither the student" in refusals[0][2]
    assert f"the admin {OFFICE} of type 'Homework' is neither the student {SAM} nor the tutor {TESS}" in refusals[1][2]
    assert [t["id"] for t in desk.tickets()] == [ticket]
