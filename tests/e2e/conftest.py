"""End-to-end setup: a support desk as it runs in production, and the mail read as its recipients get it.

- `desk`: a Dovecot IMAP mailbox `support`, a ticket type `Support` (support@example.com, handled by
  lead@example.com) and an SMTP outbox on the session's aiosmtpd server, all set up through the CLI.
  `open_desk(server, **smtp)` makes the same desk on another SMTP server or with other outbox.smtp keys.
- `desk.postbox`: what the SMTP server received, parsed as a mail client does (`policy.default`), handed
  out as each recipient gets it (`new_mail_to(address)`). When the test ends, every mail the server
  received in it is checked for an empty placeholder (`empty_placeholders`), whether or not the test
  looked at it; a find fails the test at teardown.

Nothing here imports the engine: everything goes through `ticketctl` commands.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formataddr, getaddresses, make_msgid
from typing import Any

import pytest

from tests.outbox import conftest as outbox_fixtures
from tests.servers.dovecot import Dovecot, MailUser
from tests.servers.fixtures import cli_add_args, mailbox_fields
from tests.servers.smtp import SmtpServer

SUPPORT = "support@example.com"
ADMIN = "lead@example.com"
ADMIN_NAME = "Lena Lead"
CUSTOMER = "jane@customer.example"
CUSTOMER_NAME = "Jane Customer"
TYPE = "Support"

# The outbox tests' real SMTP server (aiosmtpd, STARTTLS + AUTH) and their `write_config` for an SMTP
# outbox, offered to these tests too (pytest finds fixtures by name in a conftest).
smtp_cert = outbox_fixtures.smtp_cert
smtp_session = outbox_fixtures.smtp_session
smtp = outbox_fixtures.smtp
start_smtp = outbox_fixtures.start_smtp
write_config = outbox_fixtures.write_config


# --- mail as the recipient reads it ---


@dataclass
class Mail:
    """One mail as the SMTP server received it."""

    msg: EmailMessage
    rcpt_tos: list[str]

    @property
    def subject(self) -> str:
        return str(self.msg["Subject"] or "")

    @property
    def text(self) -> str:
        part = self.msg.get_body(("plain",))
        return _lines(part.get_content()) if part is not None else ""

    @property
    def html(self) -> str | None:
        part = self.msg.get_body(("html",))
        return _lines(part.get_content()) if part is not None else None

    @property
    def views(self) -> dict[str, str]:
        """What a person reads: the text part and, when there is one, the HTML part as its text."""
        shown = {"text part": self.text}
        if self.html is not None:
            shown["HTML part"] = html_as_text(self.html)
        return shown

    @property
    def attachments(self) -> dict[str, bytes]:
        """File name -> the bytes a recipient saves."""
        return {part.get_filename() or "": part.get_payload(decode=True) for part in self.msg.iter_attachments()}

    @property
    def reply_address(self) -> str:
        """Where the recipient's mail client sends an answer: Reply-To, else From."""
        header = self.msg["Reply-To"] or self.msg["From"]
        return ", ".join(email for _name, email in getaddresses([str(header)]))

    def tag(self) -> tuple[int, int] | None:
        """(ticket, log) from the subject's `[Support #T-L]`, or None."""
        found = re.search(rf"\[{TYPE} #(\d+)-(\d+)\]", self.subject)
        return (int(found[1]), int(found[2])) if found else None

    def views_without_tag(self) -> dict[str, str]:
        """The views with every `[Support #T-L]` taken out, so a number or type name in them counts only
        where the text itself says it (a quoted tagged subject does not)."""
        return {name: re.sub(rf"\[{TYPE} #\d+-\d+\]", "", view) for name, view in self.views.items()}

    def describe(self) -> str:
        return f"mail to {self.rcpt_tos} with subject {self.subject!r}:\n{self.text}"


def _lines(text: str) -> str:
    """Text with the wire's CRLF line ends as a mail client shows them: one line break each."""
    return text.replace("\r\n", "\n")


def html_as_text(source: str) -> str:
    """The words an HTML part shows (tags dropped, entities decoded): enough to read, not to render."""
    without_tags = re.sub(r"<[^>]*>", "", re.sub(r"(?is)<(style|script)\b.*?</\1>", "", source))
    return html.unescape(without_tags)


_LABELS = "from|to|cc|reply-to|subject|date|note|type|ticket|sender|status|name|email"
_PLACEHOLDER_PATTERNS = [
    (re.compile(r"\{\{|\}\}|\{%|%\}|\{#"), "a template tag left in"),
    (re.compile(r"\b[Nn]one\b"), "'None' where a value should be"),
    (re.compile(r"\S {2,}\S"), "a double space where a word is missing"),
    (re.compile(r"#(?!\d)"), "'#' without a ticket number"),
    (re.compile(rf"(?im)^[ \t]*(?:{_LABELS})[ \t]*:[ \t]*$"), "a label followed by nothing"),
    (re.compile(r"<\s*>|\(\s*\)|\[\s*\]"), "empty brackets where a value should be"),
]


def empty_placeholders(mail: Mail) -> list[str]:
    """Every sign in the subject, the text part and the HTML part that a value was missing when the mail
    was rendered, as 'where: what: the line'."""
    found = []
    subject = mail.subject
    for where, content in [("subject", subject), *mail.views.items()]:
        for pattern, what in _PLACEHOLDER_PATTERNS:
            for hit in pattern.finditer(content):
                line_start = content.rfind("\n", 0, hit.start()) + 1
                line_end = content.find("\n", hit.end())
                line = content[line_start : line_end if line_end >= 0 else None]
                found.append(f"{where}: {what}: {line.strip()!r}")
    if not subject.strip() or subject.rstrip().endswith(":"):
        found.append(f"subject: empty where a value should be: {subject!r}")
    return found


def assert_no_empty_placeholder(mail: Mail) -> None:
    problems = empty_placeholders(mail)
    assert not problems, f"The {mail.describe()}\n...has an empty placeholder:\n  " + "\n  ".join(problems)


class Postbox:
    """The mail an SMTP server received, handed out to the test as each recipient gets it."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self._seen = len(server.messages)  # mail of earlier tests is not ours
        self._start = self._seen

    def all(self) -> list[Mail]:
        return [_mail(m) for m in self.server.messages[self._start :]]

    def new_mails(self) -> list[Mail]:
        """The mail that arrived since the last look."""
        fresh = [_mail(m) for m in self.server.messages[self._seen :]]
        self._seen = len(self.server.messages)
        return fresh

    def new_mail_to(self, address: str) -> Mail:
        """The one mail that arrived for `address` since the last look."""
        fresh = self.new_mails()
        mine = [m for m in fresh if address in m.rcpt_tos]
        assert len(mine) == 1, (
            f"expected one new mail to {address}, got {len(mine)}; what arrived: "
            f"{[(m.rcpt_tos, m.subject) for m in fresh]}"
        )
        return mine[0]


def _mail(received: dict[str, Any]) -> Mail:
    msg = message_from_bytes(received["data"], policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return Mail(msg, list(received["rcpt_tos"]))


# --- mail the customer and the admin write ---


def customer_mail(
    subject: str,
    text: str,
    frm: tuple[str, str] = (CUSTOMER_NAME, CUSTOMER),
    to: str = SUPPORT,
    attachments: list[tuple[str, str, bytes]] = (),
    answering: Mail | None = None,
) -> EmailMessage:
    """A mail as a mail client writes it; `attachments` are (file name, MIME type, bytes); `answering`
    threads it to a mail that person received (In-Reply-To, References)."""
    msg = EmailMessage()
    msg["From"] = formataddr(frm)
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=frm[1].split("@")[1])
    if answering is not None:
        msg["In-Reply-To"] = answering.msg["Message-ID"]
        msg["References"] = answering.msg["Message-ID"]
    msg.set_content(text)
    for filename, mime_type, payload in attachments:
        maintype, subtype = mime_type.split("/")
        msg.add_attachment(payload, maintype=maintype, subtype=subtype, filename=filename)
    return msg


# --- the desk ---


@dataclass
class Desk:
    cli: Callable[..., Any]
    dovecot: Dovecot
    user: MailUser
    postbox: Postbox
    tickets_seen: set[int] = field(default_factory=set)

    def run(self, *args: str, env: dict[str, str] | None = None) -> Any:
        result = self.cli(*args, env=env)
        assert result.exit_code == 0, f"ticketctl {' '.join(args)} failed: {result.stderr or result.exception!r}"
        return result

    def deliver(self, *mails: EmailMessage) -> None:
        """Mail arrives in the support mailbox on the IMAP server."""
        self.dovecot.deliver(self.user.name, [bytes(m) for m in mails])

    def process(self) -> dict[str, Any]:
        """What cron runs: read the mailbox, then send what was queued."""
        return json.loads(self.run("process", "--json").stdout)

    def tickets(self, *filters: str) -> list[dict[str, Any]]:
        return json.loads(self.run("tickets", "list", "--json", *filters).stdout)["tickets"]

    def new_ticket(self, *filters: str) -> int:
        """The number of the one ticket that appeared since the last look (as `tickets list` shows it)."""
        fresh = [t for t in self.tickets(*filters) if t["id"] not in self.tickets_seen]
        assert len(fresh) == 1, f"expected one new ticket, `tickets list --json {' '.join(filters)}` shows {fresh}"
        self.tickets_seen.add(fresh[0]["id"])
        return int(fresh[0]["id"])


@pytest.fixture
def open_desk(
    cli,
    dovecot,
    mail_user,
    smtp,
    write_config,
) -> Iterator[Callable[..., Desk]]:
    """`open_desk(server=smtp, **smtp_keys)`: the support desk sending through `server`; when the test
    ends, every mail the server received in it is checked for empty placeholders."""
    postboxes: list[Postbox] = []

    def open_(server: SmtpServer = smtp, **smtp_keys: Any) -> Desk:
        write_config(server.port, **smtp_keys)
        args, env = cli_add_args(mailbox_fields(dovecot, mail_user, "imap", "starttls", "password", name="support"))
        desk = Desk(cli, dovecot, mail_user, Postbox(server))
        desk.run(*args, env=env)
        desk.run("type", "add", TYPE, "--task", "simple_storage", "--email-to", SUPPORT, "--tag", TYPE,
                 "--mailbox", "support", "--admin-email", ADMIN)  # fmt: skip
        postboxes.append(desk.postbox)
        return desk

    yield open_
    problems = []
    for box in postboxes:
        for mail in box.all():
            if found := empty_placeholders(mail):
                problems.append(f"{mail.describe()}\n  " + "\n  ".join(found))
    assert not problems, "Mail with an empty placeholder arrived:\n\n" + "\n\n".join(problems)


@pytest.fixture
def desk(open_desk) -> Desk:
    return open_desk()
