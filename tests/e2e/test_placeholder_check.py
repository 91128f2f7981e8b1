"""The empty-placeholder check that every end-to-end mail goes through: it must catch what a template
leaves when a value was missing, and leave a properly filled mail alone."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from tests.e2e.conftest import Mail, empty_placeholders


def mail(text: str, subject: str = "[Support #12-34] Printer", html: str | None = None) -> Mail:
    msg = EmailMessage()
    msg["From"] = "ticketctl@example.net"
    msg["To"] = "lead@example.com"
    msg["Subject"] = subject
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    parsed = message_from_bytes(bytes(msg), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return Mail(parsed, ["lead@example.com"])


def test_a_filled_mail_passes():
    text = "A new Support ticket #12 has arrived.\nFrom: Jane Customer <jane@customer.example>\n\n-- \nReply.\n"
    html = '<p>A new Support ticket #12 has arrived.</p>\n<p style="color: #666">Reply to this mail.</p>\n'
    assert empty_placeholders(mail(text, html=html)) == []


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("A new  ticket has arrived.\n", "a double space"),
        ("Ticket #None has been reassigned.\n", "'None'"),
        ("Ticket # has been reassigned.\n", "'#' without a ticket number"),
        ("From: \nSubject: Printer\n", "a label followed by nothing"),
        ("Hello {{ contact.name }},\n", "a template tag"),
        ("From: Jane <>\n", "empty brackets"),
    ],
)
def test_an_empty_placeholder_in_the_text_is_found(text, what):
    assert any(what in problem for problem in empty_placeholders(mail(text))), empty_placeholders(mail(text))


def test_an_empty_placeholder_in_the_html_part_is_found():
    problems = empty_placeholders(mail("A new Support ticket #12.\n", html="<p>A new <b></b> ticket has arrived.</p>"))
    assert problems == ["HTML part: a double space where a word is missing: 'A new  ticket has arrived.'"]


@pytest.mark.parametrize("subject", ["Reassigned: ", "[Support #-34] Printer", "None"])
def test_an_empty_placeholder_in_the_subject_is_found(subject):
    assert any(p.startswith("subject:") for p in empty_placeholders(mail("Fine.\n", subject=subject)))
