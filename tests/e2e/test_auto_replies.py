"""Auto-replies and loops end to end: mail into a real Dovecot mailbox, `ticketctl process` as cron runs
it, and what the real SMTP server (aiosmtpd) received.

The customers' and the admin's mailboxes answer every mail they get automatically, the way real ones
do (`Responder`): Exchange without Auto-Submitted (English, German, Japanese), a Gmail vacation
responder, Dovecot's Sieve vacation (German, Japanese) with it. Each auto-reply is delivered back into
the support mailbox, as the customer's or the admin's mail server would send it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from tests.e2e.conftest import ADMIN, SUPPORT, Desk, Mail, customer_mail
from ticketctl.engine.mail import msgid

# --- mailboxes that answer everything, as real ones write it ---


def exchange(prefix: str, text: str) -> Callable[[str, Mail], EmailMessage]:
    """Exchange / Outlook automatic replies: the localised prefix, X-Auto-Response-Suppress, threaded,
    and no Auto-Submitted."""

    def reply(owner: str, mail: Mail) -> EmailMessage:
        msg = _reply(owner, mail, f"{prefix} {mail.subject}", text)
        msg["X-Auto-Response-Suppress"] = "All"
        msg["Thread-Topic"] = mail.subject
        return msg

    return reply


def gmail(subject: str, text: str) -> Callable[[str, Mail], EmailMessage]:
    """Gmail's vacation responder: the subject its user typed, Auto-Submitted: auto-replied."""

    def reply(owner: str, mail: Mail) -> EmailMessage:
        msg = _reply(owner, mail, subject, text)
        msg["Auto-Submitted"] = "auto-replied"
        return msg

    return reply


def sieve(subject: str | None, text: str) -> Callable[[str, Mail], EmailMessage]:
    """Dovecot Pigeonhole's vacation: its default subject is "Auto: <subject>", sent from <>."""

    def reply(owner: str, mail: Mail) -> EmailMessage:
        msg = _reply(owner, mail, subject or f"Auto: {mail.subject}", text, envelope="<>")
        msg["Auto-Submitted"] = "auto-replied (vacation)"
        msg["Precedence"] = "bulk"
        return msg

    return reply


def _reply(owner: str, mail: Mail, subject: str, text: str, envelope: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["Return-Path"] = envelope or f"<{owner}>"  # what the delivering MTA writes from the envelope
    msg["From"] = owner
    msg["To"] = mail.reply_address
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=owner.split("@")[1])
    msg["In-Reply-To"] = mail.msg["Message-ID"]
    msg["References"] = mail.msg["Message-ID"]
    msg.set_content(text)
    return msg


@dataclass
class Responder:
    """Every mail the SMTP server received for one of `mailboxes` is answered by its auto-reply."""

    desk: Desk
    mailboxes: dict[str, Callable[[str, Mail], EmailMessage]]
    answered: int = 0

    def answer(self, mails: list[Mail]) -> None:
        replies = [
            self.mailboxes[rcpt](rcpt, mail) for mail in mails for rcpt in mail.rcpt_tos if rcpt in self.mailboxes
        ]
        if replies:
            self.desk.deliver(*replies)
        self.answered += len(replies)


CUSTOMERS = {
    "alice@customer.example": gmail("Away until 3 March", "I am on holiday until 3 March.\n"),
    "bob@customer.example": exchange("Automatic reply:", "I am out of the office until Monday.\n"),
    "carla@kunde.example": sieve(None, "Ich bin bis Montag im Urlaub.\n"),
    "taro@kokyaku.example": exchange("自動応答:", "月曜日まで不在にしております。\n"),
    "hanako@kokyaku.example": sieve("不在のお知らせ", "3月3日まで休暇をいただいております。\n"),
}
ADMIN_OOF = exchange("Automatische Antwort:", "Ich bin bis Montag nicht im Büro.\n")
AUTO_PREFIX = re.compile(r"(?i)^\s*(automatic reply|automatische antwort|auto|自動応答|away until|不在)")


def test_mailboxes_that_answer_every_mail_get_one_mail_per_human_message(desk):
    responder = Responder(desk, {**CUSTOMERS, ADMIN: ADMIN_OOF})
    sent: list[list[Mail]] = []
    humans: list[int] = []

    def run(human_messages: int) -> None:
        desk.process()
        mails = desk.postbox.new_mails()
        sent.append(mails)
        humans.append(human_messages)
        responder.answer(mails)

    # run 1: every customer asks a question
    desk.deliver(*[customer_mail(f"Question {n} about my order", "Where is it?\n", frm=("", address))
                   for n, address in enumerate(CUSTOMERS, 1)])  # fmt: skip
    run(len(CUSTOMERS))
    tickets = sorted(t["id"] for t in desk.tickets())
    assert len(tickets) == len(CUSTOMERS)

    # run 2: staff answer every ticket
    for ticket in tickets:
        desk.run("tickets", "reply", str(ticket), "--message", "We are looking into it.")
    run(len(tickets))

    # run 3: the admin answers one ticket by mail, a customer writes again
    notices = {m.tag()[0]: m for m in sent[0] if ADMIN in m.rcpt_tos}
    replies = {m.tag()[0]: m for m in sent[1]}
    desk.deliver(
        customer_mail("Re: " + notices[tickets[0]].subject, "It ships tomorrow.\n", frm=("Lena Lead", ADMIN),
                      to=SUPPORT, answering=notices[tickets[0]]),
        customer_mail("Re: " + replies[tickets[1]].subject, "Thanks, any news?\n",
                      frm=("", replies[tickets[1]].rcpt_tos[0]), to=SUPPORT, answering=replies[tickets[1]]),
    )  # fmt: skip
    run(2)

    # runs 4 and 5: nobody writes
    run(0)
    run(0)

    per_run = [len(mails) for mails in sent]
    assert per_run == humans == [5, 5, 2, 0, 0], (
        f"mails sent per run {per_run}, human messages per run {humans}: "
        + "; ".join(f"{m.rcpt_tos} {m.subject!r}" for run_ in sent for m in run_)
    )
    for mail in (m for run_ in sent for m in run_):
        bare = re.sub(r"^\[Support #\d+-\d+\]\s*", "", mail.subject)
        assert not AUTO_PREFIX.match(bare), f"an auto-reply was passed on: {mail.subject!r} to {mail.rcpt_tos}"
    assert responder.answered == 12
    assert sorted(t["id"] for t in desk.tickets()) == tickets, "an auto-reply must not open a ticket of its own"
    notes = [log for t in tickets for log in _show(desk, t)["logs"] if log["automatic"]]
    assert len(notes) == responder.answered, "every auto-reply is a note on its ticket"
    assert {log["from_email"] for log in notes} == {*CUSTOMERS, ADMIN}


def _show(desk: Desk, ticket: int) -> dict:
    return json.loads(desk.run("tickets", "show", str(ticket), "--json").stdout)


HUMAN_SUBJECTS = [  # the examples: people's mail that begins like an auto-reply's
    "Vacation rental: refund for booking 7731",
    "Absence of the invoice for order 12",
    "Out of office hours support?",
    "On leave next week… who takes my ticket?",
    "Automatic replies stopped working in Outlook",
    "Auto: the spare part you sent does not fit",  # one signal, and nothing else: still a person
]


def test_human_mail_that_begins_like_an_auto_reply_becomes_tickets(desk):
    mails = [customer_mail(subject, "Please help.\n", frm=("Jane", f"jane{n}@customer.example"))
             for n, subject in enumerate(HUMAN_SUBJECTS)]  # fmt: skip
    mails[0]["X-Auto-Response-Suppress"] = "All"  # as Outlook adds to what programs send
    desk.deliver(*mails)
    report = desk.process()

    assert report["mailboxes"][0]["counts"] == {"new_ticket": len(HUMAN_SUBJECTS)}
    shown = sorted(t["subject"] for t in desk.tickets())
    assert shown == sorted(HUMAN_SUBJECTS)
    notices = desk.postbox.new_mails()
    assert sorted(re.sub(r"^\[Support #\d+-\d+\]\s*", "", m.subject) for m in notices) == sorted(HUMAN_SUBJECTS)
    assert all(not log["automatic"] for t in desk.tickets() for log in _show(desk, t["id"])["logs"])


def test_another_installations_mail_is_a_ticket_and_ours_is_refused(desk):
    theirs = msgid.installation_id("the partner installation's own secret")
    handoff = customer_mail("[Helpdesk #7-12] New ticket: printer on fire", "A ticket for you.\n",
                            frm=("Partner Helpdesk", "helpdesk@partner.example"))  # fmt: skip
    handoff["X-Ticketctl-Loop"] = theirs
    handoff["Auto-Submitted"] = "auto-generated"
    handoff["X-Auto-Response-Suppress"] = "All"
    desk.deliver(handoff)
    report = desk.process()
    assert report["mailboxes"][0]["counts"] == {"new_ticket": 1}
    (ticket,) = desk.tickets()
    notice = desk.postbox.new_mail_to(ADMIN)
    assert notice.tag()[0] == ticket["id"]
    assert _show(desk, ticket["id"])["automatic_sender"]["email"] == "helpdesk@partner.example"

    # our own notice comes back unchanged (a forwarder sends it to the support address)
    desk.dovecot.deliver(desk.user.name, [bytes(notice.msg)])
    report = desk.process()
    assert report["mailboxes"][0]["counts"] == {"rejected": 1}
    assert [t["id"] for t in desk.tickets()] == [ticket["id"]]
    assert desk.postbox.new_mails() == []
    assert "helpdesk@partner.example" not in {r for m in desk.postbox.all() for r in m.rcpt_tos}
