"""How people's mail clients answer a mail: the reply as each client writes it, around the quoted original.

Each style takes the mail being answered (as its recipient got it) and the words the person typed,
and returns the reply the way that client sends it: its attribution line or header block in the
client's own wording and language, the original quoted its way (`> ` lines, unprefixed under a header
block, a `<blockquote>`, Outlook's bordered `<div>`), the HTML and text parts a real client writes, a
signature where people have one. The shapes follow what Outlook (desktop and on the web, English and
German), Gmail, Apple Mail and Thunderbird write, and a bottom-posted answer under the quote.

`MIME` says which parts go out: "alternative" (text and HTML, what these clients send by default),
"html" (the HTML part alone, as some webmail and phone apps send) or "plain" (text alone).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr

WHEN = datetime(2026, 11, 2, 10, 15)


@dataclass(frozen=True)
class Answered:
    """The mail being answered, as its recipient's client shows it."""

    sender_name: str
    sender_email: str
    to_name: str
    to_email: str
    subject: str
    text: str
    html: str | None
    message_id: str

    @classmethod
    def of(cls, msg: EmailMessage) -> Answered:
        sender_name, sender_email = parseaddr(str(msg["From"]))
        to_name, to_email = parseaddr(str(msg["To"]))
        plain = msg.get_body(("plain",))
        rich = msg.get_body(("html",))
        return cls(
            sender_name,
            sender_email,
            to_name,
            to_email,
            str(msg["Subject"]),
            plain.get_content().replace("\r\n", "\n") if plain is not None else "",
            rich.get_content().replace("\r\n", "\n") if rich is not None else None,
            str(msg["Message-ID"]),
        )

    @property
    def sender(self) -> str:
        return f"{self.sender_name} <{self.sender_email}>" if self.sender_name else self.sender_email

    @property
    def to(self) -> str:
        return f"{self.to_name} <{self.to_email}>" if self.to_name else self.to_email

    def quoted_html(self) -> str:
        """The original's HTML body as a client embeds it (the inside of its <body>)."""
        if self.html is None:
            return "<div>" + "<br>\n".join(html.escape(line) for line in self.text.splitlines()) + "</div>"
        source = self.html
        lower = source.lower()
        start, end = lower.find("<body"), lower.rfind("</body>")
        if start >= 0 and end > start:
            source = source[source.index(">", start) + 1 : end]
        return source


@dataclass(frozen=True)
class Written:
    """A reply as a client produced it: the text part and the HTML part."""

    text: str
    html: str


def _quote_lines(text: str, prefix: str = "> ") -> str:
    return "\n".join(prefix.rstrip() if not line else prefix + line for line in text.rstrip("\n").split("\n"))


def _paragraphs_html(text: str, tag: str = "div") -> str:
    rows = []
    for line in text.rstrip("\n").split("\n"):
        rows.append(f"<{tag}>{html.escape(line)}</{tag}>" if line else f"<{tag}><br></{tag}>")
    return "\n".join(rows)


# --- Outlook --------------------------------------------------------------------------------------

_OUTLOOK_WORDS = {
    "en": ("From", "Sent", "To", "Subject", "Monday, 2 November 2026 10:15"),
    "de": ("Von", "Gesendet", "An", "Betreff", "Montag, 2. November 2026 10:15"),
}
_OWA_DATES = {"en": "Monday, November 2, 2026 10:15 AM", "de": "Montag, 2. November 2026 10:15"}


def _outlook_header_lines(original: Answered, lang: str, date: str) -> str:
    frm, sent, to, subject, _ = _OUTLOOK_WORDS[lang]
    return f"{frm}: {original.sender}\n{sent}: {date}\n{to}: {original.to}\n{subject}: {original.subject}"


def outlook_desktop(original: Answered, new: str, lang: str) -> Written:
    """Outlook for Windows: the answer on top, a header block (From/Sent/To/Subject, in the user's
    language) under a bordered div in HTML, and the original below it unprefixed."""
    frm, sent, to, subject, date = _OUTLOOK_WORDS[lang]
    text = f"{new.rstrip()}\n\n{_outlook_header_lines(original, lang, date)}\n\n{original.text}"
    mso = "".join(
        f'<p class="MsoNormal">{html.escape(line) if line else "<o:p>&nbsp;</o:p>"}<o:p></o:p></p>\n'
        for line in new.rstrip("\n").split("\n")
    )
    header = (
        f"<b>{frm}:</b> {html.escape(original.sender)} <br><b>{sent}:</b> {date}<br>"
        f"<b>{to}:</b> {html.escape(original.to)}<br><b>{subject}:</b> {html.escape(original.subject)}"
    )
    body = (
        '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>'
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        '<style><!-- p.MsoNormal {margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif;} --></style>'
        '</head><body lang="EN-GB" link="#0563C1" vlink="#954F72"><div class="WordSection1">\n'
        f'{mso}<p class="MsoNormal"><o:p>&nbsp;</o:p></p>\n'
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
        f'<p class="MsoNormal">{header}<o:p></o:p></p></div>\n'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>\n'
        f"{original.quoted_html()}\n</div></body></html>"
    )
    return Written(text, body)


def outlook_web(original: Answered, new: str, lang: str) -> Written:
    """Outlook on the web (and the new Outlook): a rule of underscores, then the header block in bold,
    the original below it unprefixed."""
    frm, sent, to, subject, _ = _OUTLOOK_WORDS[lang]
    date = _OWA_DATES[lang]
    rule = "_" * 32
    text = f"{new.rstrip()}\n\n{rule}\n{_outlook_header_lines(original, lang, date)}\n\n{original.text}"
    body = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        '<style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style></head>'
        '<body dir="ltr"><div class="elementToProof" style="font-family: Aptos, sans-serif; font-size: 12pt;">\n'
        f"{_paragraphs_html(new)}\n</div>\n"
        '<div id="appendonsend"></div>\n<hr style="display:inline-block;width:98%" tabindex="-1">\n'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000">'
        f"<b>{frm}:</b> {html.escape(original.sender)}<br><b>{sent}:</b> {date}<br>"
        f"<b>{to}:</b> {html.escape(original.to)}<br><b>{subject}:</b> {html.escape(original.subject)}</font>"
        "<div>&nbsp;</div></div>\n"
        f"<div>{original.quoted_html()}</div>\n</body></html>"
    )
    return Written(text, body)


# --- Gmail, Apple Mail, Thunderbird -------------------------------------------------------------------


def gmail(original: Answered, new: str, lang: str) -> Written:
    """Gmail: the answer on top, "On <date> <sender> wrote:" (wrapped in the text part when long), the
    original `> `-quoted; in HTML a gmail_quote div with a blockquote."""
    if lang == "de":
        attribution = f"Am Mo., 2. Nov. 2026 um 10:15 Uhr schrieb {original.sender}:"
        when = "Am Mo., 2. Nov. 2026 um 10:15 Uhr"
        text_attribution = f"{when} schrieb {original.sender_name} <\n{original.sender_email}>:"
    else:
        attribution = f"On Mon, 2 Nov 2026 at 10:15, {original.sender} wrote:"
        text_attribution = f"On Mon, 2 Nov 2026 at 10:15, {original.sender_name} <{original.sender_email}>\nwrote:"
    text = f"{new.rstrip()}\n\n{text_attribution}\n\n{_quote_lines(original.text)}\n"
    body = (
        f'<div dir="ltr">{_paragraphs_html(new)}</div><br>'
        '<div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">'
        f"{html.escape(attribution)}<br></div>"
        '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
        f'rgb(204,204,204);padding-left:1ex">{original.quoted_html()}</blockquote></div>\n'
    )
    return Written(text, body)


def apple_mail(original: Answered, new: str, lang: str) -> Written:
    """Apple Mail (macOS and iOS): the answer on top, the attribution line inside the quote."""
    if lang == "de":
        attribution = f"Am 02.11.2026 um 10:15 schrieb {original.sender}:"
    else:
        attribution = f"On 2 Nov 2026, at 10:15, {original.sender} wrote:"
    text = f"{new.rstrip()}\n\n{_quote_lines(attribution + chr(10) + chr(10) + original.text)}\n"
    body = (
        '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
        '<body style="overflow-wrap: break-word; -webkit-nbsp-mode: space; line-break: after-white-space;">'
        f'{_paragraphs_html(new)}<div><br><blockquote type="cite"><div>{html.escape(attribution)}</div>'
        f'<br class="Apple-interchange-newline"><div>{original.quoted_html()}</div></blockquote></div>'
        "<br></body></html>"
    )
    return Written(text, body)


def _thunderbird_attribution(original: Answered, lang: str) -> str:
    if lang == "de":
        return f"Am 02.11.26 um 10:15 schrieb {original.sender_name}:"
    return f"On 11/2/26 10:15 AM, {original.sender_name} wrote:"


def thunderbird(original: Answered, new: str, lang: str) -> Written:
    """Thunderbird answering on top: "On 11/2/26 10:15 AM, <name> wrote:" (German: "Am 02.11.26 um
    10:15 schrieb <name>:"), the original `> `-quoted; in HTML a moz-cite-prefix and a blockquote."""
    attribution = _thunderbird_attribution(original, lang)
    text = f"{new.rstrip()}\n\n{attribution}\n{_quote_lines(original.text)}\n"
    body = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head><body>'
        f"<p>{'<br>'.join(html.escape(line) for line in new.rstrip().split(chr(10)))}</p>\n"
        f'<div class="moz-cite-prefix">{html.escape(attribution)}<br></div>\n'
        f'<blockquote type="cite" cite="mid:{html.escape(original.message_id.strip("<>"))}">'
        f"{original.quoted_html()}</blockquote>\n</body></html>"
    )
    return Written(text, body)


def bottom_posted(original: Answered, new: str, lang: str) -> Written:
    """Answering under the quote (Thunderbird's own default, mutt, many mailing-list people): the
    attribution and the quoted original first, the new words below, then a signature."""
    attribution = _thunderbird_attribution(original, lang)
    text = f"{attribution}\n{_quote_lines(original.text)}\n\n{new.rstrip()}\n"
    body = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head><body>'
        f'<div class="moz-cite-prefix">{html.escape(attribution)}<br></div>\n'
        f'<blockquote type="cite">{original.quoted_html()}</blockquote>\n'
        f"<p>{'<br>'.join(html.escape(line) for line in new.rstrip().split(chr(10)))}</p>\n</body></html>"
    )
    return Written(text, body)


Style = Callable[[Answered, str, str], Written]

# name -> (client, language); every name is a reply style the relay is tested with
STYLES: dict[str, tuple[Style, str]] = {
    "outlook-desktop-en": (outlook_desktop, "en"),
    "outlook-desktop-de": (outlook_desktop, "de"),
    "outlook-web-en": (outlook_web, "en"),
    "outlook-web-de": (outlook_web, "de"),
    "gmail-en": (gmail, "en"),
    "gmail-de": (gmail, "de"),
    "apple-mail-en": (apple_mail, "en"),
    "apple-mail-de": (apple_mail, "de"),
    "thunderbird-en": (thunderbird, "en"),
    "thunderbird-de": (thunderbird, "de"),
    "bottom-posted": (bottom_posted, "en"),
}
MIME = ("alternative", "html", "plain")


def write(style: str, original: Answered, new: str) -> Written:
    client, lang = STYLES[style]
    return client(original, new, lang)


def reply_mail(
    style: str,
    answering: EmailMessage,
    new: str,
    frm: tuple[str, str],
    to: str,
    mime: str = "alternative",
    cc: str | None = None,
) -> EmailMessage:
    """The whole reply mail `frm` sends to `to`, answering `answering` in `style`, with `mime` parts."""
    original = Answered.of(answering)
    written = write(style, original, new)
    msg = EmailMessage()
    msg["From"] = formataddr(frm)
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    subject = original.subject
    msg["Subject"] = subject if subject.lower().startswith(("re:", "aw:")) else f"{_re(style)}: {subject}"
    msg["Date"] = format_datetime(WHEN)
    msg["Message-ID"] = make_msgid(domain=frm[1].split("@")[1])
    msg["In-Reply-To"] = original.message_id
    msg["References"] = original.message_id
    if mime == "plain":
        msg.set_content(written.text)
    elif mime == "html":
        msg.set_content(written.html, subtype="html")
    else:
        msg.set_content(written.text)
        msg.add_alternative(written.html, subtype="html")
    return msg


def _re(style: str) -> str:
    return "AW" if style.endswith("-de") and style.startswith("outlook") else "Re"
