"""Rate windows end to end: two ticketctl installations, each with its own database, its own mailbox on
Dovecot and its own SMTP server (aiosmtpd), behind a forwarder that strips `Auto-Submitted` and our loop
header and delivers everything one side sends into the other side's mailbox, as a server rule that
forwards an admin's mail to the other helpdesk would. Each notice opens a new ticket on the other side,
whose notice opens one here: without a bound, one mail per side per run for ever. The windows on what
each side sends to its admin stop it; the mail over them waits in the queue, visible as held, and goes
when the window has room.

Everything goes through `ticketctl` commands, and what a side sent is what its SMTP server received.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import customer_mail
from tests.outbox.conftest import SMTP_PASSWORD, SMTP_USER
from tests.servers.dovecot import Dovecot, MailUser
from tests.servers.fixtures import cli_add_args, mailbox_fields
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

SHORT, SHORT_SECONDS, LONG = 4, 15, 5  # per admin address: at most 4 in 15 seconds, and 5 in an hour


@dataclass
class Installation:
    """One ticketctl: its configuration, database and data in `home`, its mailbox and its SMTP server."""

    name: str
    home: Path
    cli: Any
    dovecot: Dovecot
    user: MailUser
    smtp: SmtpServer
    sent_per_run: list[int] = field(default_factory=list)
    _forwarded: int = 0

    @property
    def support(self) -> str:
        return f"support@{self.name}.example"

    @property
    def admin(self) -> str:
        return f"admin@{self.name}.example"

    def run(self, *args: str, env: dict[str, str] | None = None) -> Any:
        result = self.cli("--config", str(self.home / "ticketctl.yaml"), *args, env=env)
        assert result.exit_code == 0, f"{self.name}: ticketctl {' '.join(args)}: {result.stderr or result.exception!r}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def process(self) -> None:
        """What cron runs; counts what the SMTP server received in this run."""
        before = len(self.smtp.messages)
        self.run("process")
        self.sent_per_run.append(len(self.smtp.messages) - before)

    def outgoing(self) -> list[EmailMessage]:
        """What this side sent since the forwarder last looked."""
        fresh = self.smtp.messages[self._forwarded :]
        self._forwarded = len(self.smtp.messages)
        return [message_from_bytes(m["data"], policy=policy.default) for m in fresh]

    def held(self) -> list[dict[str, Any]]:
        return self.json("queue", "list", "--status", "held")["rows"]

    @property
    def total(self) -> int:
        return len(self.smtp.messages)


def forward(source: Installation, target: Installation) -> None:
    """The forwarding hop: every mail `source` sent lands in `target`'s mailbox, with Auto-Submitted and
    our loop header taken off, addressed (Delivered-To) to `target`'s support address."""
    mails = []
    for msg in source.outgoing():
        del msg["Auto-Submitted"]
        del msg["X-Ticketctl-Loop"]
        msg["Delivered-To"] = target.support
        mails.append(msg.as_bytes())
    target.dovecot.deliver(target.user.name, mails)


@pytest.fixture
def two_desks(bare_cli, workdir, dovecot, mail_user, start_smtp, smtp_cert, monkeypatch) -> list[Installation]:
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    sides = []
    for name, user in (("alpha", mail_user), ("beta", dovecot.new_user())):
        home = workdir / name
        home.mkdir()
        server = start_smtp()
        (home / "ticketctl.yaml").write_text(
            "outbox:\n  kind: smtp\n  from_address: ticketctl@{name}.example\n  smtp:\n"
            f"    host: 127.0.0.1\n    port: {server.port}\n    security: starttls\n    auth: password\n"
            f"    username: {SMTP_USER}\n    password_env: TEST_SMTP_PASSWORD\n    ca_file: {smtp_cert[0]}\n"
            f'rate_limits:\n  per_address: ["{SHORT} in {SHORT_SECONDS}s", "{LONG} in 1h"]\n'
        )
        side = Installation(name, home, bare_cli, dovecot, user, server)
        side.run("init")
        args, env = cli_add_args(mailbox_fields(dovecot, user, "imap", "starttls", "password", name="support"))
        side.run(*args, env=env)
        side.run("type", "add", "Support", "--task", "simple_storage", "--email-to", side.support,
                 "--tag", name.capitalize(), "--mailbox", "support", "--admin-email", side.admin)  # fmt: skip
        sides.append(side)
    return sides


def _round(sides: list[Installation]) -> None:
    """Each side runs once and the forwarder passes on what it sent."""
    alpha, beta = sides
    alpha.process()
    forward(alpha, beta)
    beta.process()
    forward(beta, alpha)


def _at(stored: str) -> float:
    return datetime.fromisoformat(stored.replace("Z", "+00:00")).timestamp()


def test_two_installations_behind_a_header_stripping_forwarder_stop_inside_the_rate_windows(two_desks):
    alpha, beta = two_desks
    alpha.dovecot.deliver(alpha.user.name, [bytes(customer_mail("Printer on fire", "It smokes.\n", to=alpha.support))])

    # the loop runs, one mail per side per run, until the short window holds alpha's next notice back:
    # then beta gets nothing more to answer, and it stops too
    for _ in range(SHORT + 2):
        _round(two_desks)
    assert alpha.sent_per_run == beta.sent_per_run == [1] * SHORT + [0, 0], (
        f"sent per run: alpha {alpha.sent_per_run}, beta {beta.sent_per_run}"
    )
    assert len(alpha.json("tickets", "list")["tickets"]) == SHORT + 1  # the customer's, and one per beta notice
    assert beta.held() == []

    # the held mail is visible: as held, with why, and when it goes; `status` warns about it
    (held,) = alpha.held()
    assert (held["to_email"], held["purpose"], held["state"]) == (alpha.admin, "new_ticket", "held")
    why = f"At most {SHORT} in {SHORT_SECONDS} seconds go to {alpha.admin} (rate_limits.per_address)."
    assert held["hold_reason"] == why
    first = min(_at(r["sent_at"]) for r in alpha.json("queue", "list", "--status", "sent")["rows"])
    assert _at(held["next_try"]) == first + SHORT_SECONDS  # when the first of the four leaves the window
    assert f"Held {held['id']}: {why}" in alpha.run("queue", "list").stdout
    status = alpha.run("status")  # a warning: exit 0
    assert "1 outgoing mail(s) are held back by the rate windows" in status.stderr
    assert "Email queue: 0 pending, 1 held, 0 sending, 0 failed." in status.stdout

    # nothing goes before its time, however often cron runs
    while time.time() < _at(held["next_try"]) - 1:
        _round(two_desks)
        assert (alpha.total, beta.total) == (SHORT, SHORT), "a held mail went before its time"

    # when the window has room the held mail goes, and the loop runs on into the long window
    while time.time() < _at(held["next_try"]):
        time.sleep(0.1)
    # (on a slow machine beta's own short window may still hold its answer for a moment: it started later)
    deadline = time.time() + 2 * SHORT_SECONDS
    while (alpha.total, beta.total) != (LONG, LONG) and time.time() < deadline:
        _round(two_desks)
    assert alpha.json("queue", "show", str(held["id"]))["status"] == "sent"
    assert (alpha.total, beta.total) == (LONG, LONG), (
        f"alpha {alpha.sent_per_run}, beta {beta.sent_per_run}; held: alpha {alpha.held()}, beta {beta.held()}"
    )
    for _ in range(2):
        _round(two_desks)
    assert alpha.sent_per_run[-2:] == beta.sent_per_run[-2:] == [0, 0], "no growth run over run"
    (later,) = alpha.held()
    assert later["hold_reason"] == f"At most {LONG} in 1 hour go to {alpha.admin} (rate_limits.per_address)."
    assert _at(later["next_try"]) == first + 3600

    # what the SMTP servers received never broke a window
    for side in two_desks:
        sent = sorted(_at(r["sent_at"]) for r in side.json("queue", "list", "--status", "sent")["rows"])
        assert len(sent) == LONG
        assert all(b - a >= SHORT_SECONDS for a, b in zip(sent, sent[SHORT:], strict=False)), sent
