"""Cutting a reply down to its new words (engine/mail/quotes.py), on replies as mail clients write them
(tests/e2e/reply_styles.py) to the notice our templates render, and on the cases where detection of
the quote must fail safe: our own mail is cut whatever the client, text of the writer's own is kept."""

from __future__ import annotations

import re
import time
from email.message import EmailMessage

import pytest

from tests.e2e import reply_styles
from ticketctl.engine.enums import Purpose
from ticketctl.engine.mail import message, quotes
from ticketctl.engine.outbound.contexts import NewTicketMail, Person, TicketFacts, TypeFacts
from ticketctl.engine.outbound.templating import render_mail

QUESTION = "Hello,\n\nthe invoice you sent on Monday will not open on my computer.\n\nThanks, J.\n"
NEW = (
    "Hello Jane,\n\nwe sent a fresh copy of the invoice just now; it opens in every viewer we tried.\n"
    "Thanks for your patience, and sorry for the trouble.\n\n- check your spam folder first\n"
    "- then open the new copy\n\nBest regards,\nLena"
)
KEPT = [
    "Hello Jane,",
    "we sent a fresh copy of the invoice just now; it opens in every viewer we tried.",
    "Thanks for your patience, and sorry for the trouble.",
    "check your spam folder first",
    "then open the new copy",
    "Best regards,",
]


def notice() -> EmailMessage:
    """The new-ticket notice as our shipped template renders it, as the admin receives it."""
    rendered = render_mail(
        Purpose.NEW_TICKET,
        NewTicketMail(
            ticket=TicketFacts(7, "The invoice PDF will not open", "new", "jane@customer.example", "Jane", "now"),
            type=TypeFacts("Support", "Support", "simple_storage", ""),
            subject="The invoice PDF will not open",
            body=QUESTION,
            sender=Person("Jane Customer", "jane@customer.example"),
        ).variables(),
    )
    msg = EmailMessage()
    msg["From"] = "Support <support@example.com>"
    msg["To"] = "Lena Lead <lead@example.com>"
    msg["Subject"] = f"[Support #7-8] {rendered.subject}"
    msg["Message-ID"] = "<t7.l8@example.com>"
    msg.set_content(rendered.text)
    assert rendered.html is not None
    msg.add_alternative(rendered.html, subtype="html")
    return msg


NOTICE = notice()
NOTICE_TEXT = NOTICE.get_body(("plain",)).get_content()
NOTICE_LINES = [line for line in NOTICE_TEXT.splitlines() if len(re.findall(r"\w+", line)) >= 3]


def words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def body_of(style: str, mime: str, new: str = NEW) -> str:
    """The text the parser makes of the admin's reply to the notice in `style`."""
    raw = reply_styles.reply_mail(style, NOTICE, new, ("Lena Lead", "lead@example.com"), "support@example.com", mime)
    return message.parse(bytes(raw)).body_text


def assert_only_new(cut: str, kept: list[str] = KEPT) -> None:
    for line in kept:
        assert words(line) in words(cut), f"lost {line!r}:\n{cut}"
    for line in NOTICE_LINES:
        assert words(line) not in words(cut), f"kept the notice's {line!r}:\n{cut}"
    for marker in ("wrote:", "schrieb", "From:", "Von:", "Sent:", "Gesendet:", "Subject:", "____"):
        assert marker not in cut, f"kept {marker!r}:\n{cut}"


@pytest.mark.parametrize("mime", reply_styles.MIME)
@pytest.mark.parametrize("style", list(reply_styles.STYLES))
def test_every_reply_style_is_cut_to_its_new_words(style, mime):
    assert_only_new(quotes.new_text(body_of(style, mime), [NOTICE_TEXT]))


@pytest.mark.parametrize("mime", reply_styles.MIME)
@pytest.mark.parametrize("style", list(reply_styles.STYLES))
def test_the_quote_detection_alone_recognises_every_style(style, mime):
    """Without knowing our mails: the library and the `>` handling do it for every style tested."""
    assert_only_new(quotes.new_text(body_of(style, mime)))


def outlook_in_finnish(new: str) -> str:
    """An Outlook reply in a language the quote detection does not know."""
    return (
        f"{new}\n\nLähettäjä: Support <support@example.com>\nLähetetty: maanantai 2. marraskuuta 2026 10.15\n"
        f"Vastaanottaja: Lena Lead <lead@example.com>\nAihe: [Support #7-8] The invoice PDF will not open\n\n"
        f"{NOTICE_TEXT}"
    )


def test_our_notice_is_cut_even_where_the_quote_is_not_recognised():
    reply = outlook_in_finnish(NEW)
    assert words("A new Support ticket") in words(quotes.new_text(reply)), "the library should not know this one"
    cut = quotes.new_text(reply, [NOTICE_TEXT])
    assert_only_new(cut)
    assert "Aihe" not in cut and "Lähettäjä" not in cut and "lead@example.com" not in cut


def test_an_answer_under_an_unquoted_copy_of_our_notice_keeps_the_answer():
    reply = f"{NOTICE_TEXT}\n{NEW}\n"
    assert_only_new(quotes.new_text(reply, [NOTICE_TEXT]))


def test_our_notice_rewrapped_by_the_quoting_client_is_still_found():
    rewrapped = re.sub(r"(.{30,40}) ", "\\1\n", NOTICE_TEXT)
    reply = f"{NEW}\n\n-----Ursprüngliche Nachricht-----\nVon: Support\n{rewrapped}"
    assert_only_new(quotes.new_text(reply, [NOTICE_TEXT]))


def test_words_of_the_writers_own_that_look_like_headers_stay():
    text = "Order details:\nDate: 2026-11-01\nSubject: the blue shirt\nSize: M\n\nIt arrived torn. Thanks,\nJane"
    assert quotes.new_text(text) == text


def test_answers_between_quoted_lines_stay():
    text = (
        "On Mon, 2 Nov 2026 at 10:15, Support <support@example.com> wrote:\n"
        "> Which program do you open it with?\n\nEvince 44.\n\n> And which version of the file?\n\nThe one of Monday.\n"
    )
    assert quotes.new_text(text) == "Evince 44.\n\nThe one of Monday."


def test_the_signature_is_cut():
    assert quotes.new_text("It works now.\n\n-- \nJane Customer\nACME Ltd, +1 555 0100\n") == "It works now."


def test_a_reply_of_nothing_but_quote_has_no_new_words():
    assert quotes.new_text("> A new Support ticket, #7, has arrived.\n>\n> Thanks\n") == ""


def test_a_short_mail_of_ours_never_cuts_the_writers_words():
    assert quotes.new_text("OK, thanks.\n\nSee you Monday.", ["OK."]) == "OK, thanks.\n\nSee you Monday."


def test_long_and_hostile_texts_are_cut_in_bounded_time():
    # The library's patterns take minutes on a few thousand blank lines; runs of them are collapsed
    # first, and texts over MAX_CHARS skip the library (ours and `>` quotes are still cut).
    hostile = [
        "\n" * 12_000,
        "\n" * 200_000,
        "- a\n" * 30_000,
        ("word " * 20 + "\n") * 5_000,
        "x" * (quotes.MAX_CHARS * 3),
    ]
    for text in hostile:
        started = time.monotonic()
        quotes.new_text(f"Hello\n{text}\n> quoted\n", [NOTICE_TEXT])
        assert time.monotonic() - started < 10, f"{len(text)} characters took too long"
    long_reply = outlook_in_finnish("Answer.\n" + "More words of the answer.\n" * 20_000)
    assert len(long_reply) > quotes.MAX_CHARS
    cut = quotes.new_text(long_reply, [NOTICE_TEXT])
    assert cut.startswith("Answer.") and "A new Support ticket" not in cut
