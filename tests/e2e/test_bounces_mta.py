"""Bounces end to end with a real MTA: ticketctl sends through a private Postfix, which relays to a
server that refuses the recipient; Postfix writes the DSN to the VERP envelope sender, delivers it
into the bounce mailbox on Dovecot, and `ticketctl process` reads it over IMAP and matches it to the
queued mail, the ticket and the contact; staff see it in `bounces list` and clear it with
`bounces resolve`; mail to that address meanwhile is held back in the queue (suppressed) and goes once the
bounce is resolved. Everything goes through `ticketctl` commands, as staff run them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.servers.dovecot import Dovecot, MailUser, free_port
from tests.servers.fixtures import cli_add_args, mailbox_fields
from tests.servers.postfix import NextHop, Postfix, postfix_unavailable

pytestmark = pytest.mark.skipif(postfix_unavailable() is not None, reason=str(postfix_unavailable()))

BOUNCES = "bounces@bounces.test"  # the bounce type's address: Postfix delivers that domain to Dovecot


@pytest.fixture(scope="module")
def next_hop() -> Iterator[tuple[NextHop, int]]:
    handler, port = NextHop(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture(scope="module")
def bounce_user(dovecot: Dovecot) -> MailUser:
    return dovecot.new_user()


@pytest.fixture(scope="module")
def mta(dovecot: Dovecot, bounce_user: MailUser, next_hop: tuple[NextHop, int]) -> Iterator[Postfix]:
    postfix = Postfix(
        free_port(),
        next_hop[1],
        maildir_base=dovecot.d / "home",
        mailboxes={BOUNCES: f"{bounce_user.name}/Maildir/"},
        uid=dovecot.mail_uid,
        gid=dovecot.mail_gid,
    ).start()
    yield postfix
    postfix.stop()


class Desk:
    def __init__(
        self, cli: Any, dovecot: Dovecot, support: MailUser, bounces: MailUser, mta: Postfix, next_hop: NextHop
    ) -> None:
        self.cli, self.dovecot, self.support, self.bounces, self.mta = cli, dovecot, support, bounces, mta
        self.next_hop = next_hop

    def run(self, *args: str, env: dict[str, str] | None = None) -> Any:
        result = self.cli(*args, env=env)
        assert result.exit_code == 0, f"ticketctl {' '.join(args)}: {result.stderr or result.exception!r}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def customer_writes(self, address: str, subject: str) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = f"Jane <{address}>", "support@example.com", subject
        msg["Message-ID"] = make_msgid(domain="customer.test")
        msg.set_content("My printer is on fire.")
        self.dovecot.deliver(self.support.name, [bytes(msg)])

    def wait_for_relay(self, count: int, timeout: float = 30.0) -> None:
        """Until the next hop has received `count` mails from Postfix."""
        deadline = time.monotonic() + timeout
        while len(self.next_hop.messages) < count:
            assert time.monotonic() < deadline, f"nothing relayed; Postfix's log:\n{self.mta.log()}"
            time.sleep(0.05)

    def wait_for_reports(self, count: int, timeout: float = 30.0) -> None:
        """Until Postfix has put `count` reports into the bounce mailbox."""
        deadline = time.monotonic() + timeout
        while self.dovecot.count(self.bounces.name) < count:
            assert time.monotonic() < deadline, f"no DSN in the bounce mailbox; Postfix's log:\n{self.mta.log()}"
            time.sleep(0.05)


@pytest.fixture
def desk(cli, dovecot, mail_user, bounce_user, mta, next_hop, write_config) -> Desk:
    """A Support desk on IMAP, a Bounce Back type on its own IMAP mailbox, the outbox sending through
    Postfix (no TLS on loopback)."""
    write_config(mta.smtp_port, security="none", auth="none", username=None, password_env=None, ca_file=None)
    desk = Desk(cli, dovecot, mail_user, bounce_user, mta, next_hop[0])
    for name, user in (("support", mail_user), ("bounce-back", bounce_user)):
        args, env = cli_add_args(mailbox_fields(dovecot, user, "imap", "starttls", "password", name=name))
        desk.run(*args, env=env)
    desk.run("type", "add", "Support", "--task", "simple_storage", "--email-to", "support@example.com",
             "--tag", "Support", "--mailbox", "support", "--admin-email", "lead@example.com")  # fmt: skip
    desk.run("type", "add", "Bounce Back", "--task", "bounce_back", "--email-to", BOUNCES, "--tag", "Bounce",
             "--mailbox", "bounce-back")  # fmt: skip
    return desk


def test_a_refused_recipient_bounces_back_to_its_ticket_and_is_resolved(desk, next_hop):
    relayed, _ = next_hop
    desk.customer_writes("refuse@customer.test", "Printer on fire")
    desk.run("process")  # the ticket, and the notice to the admin sent through Postfix
    (ticket,) = desk.json("tickets", "list")["tickets"]
    desk.run("tickets", "reply", str(ticket["id"]), "--message", "We are on it.")
    (reply,) = [r for r in desk.json("queue", "list")["rows"] if r["to_email"] == "refuse@customer.test"]
    desk.run("queue", "send")
    desk.wait_for_reports(1)
    assert any(rcpts == ["lead@example.com"] for _, rcpts, _ in relayed.messages)  # the notice went through

    report = desk.json("process")
    counts = {m["mailbox"]: m["counts"] for m in report["mailboxes"]}
    assert counts["bounce-back"] == {"bounce": 1}
    assert desk.dovecot.count(desk.bounces.name) == 0  # taken off the server after the commit
    (bounce,) = desk.json("bounces", "list")
    assert (bounce["address"], bounce["kind"], bounce["status_code"]) == ("refuse@customer.test", "permanent", "5.1.1")
    assert (bounce["queue_id"], bounce["ticket_id"]) == (reply["id"], ticket["id"])
    assert bounce["contact_email"] == "refuse@customer.test" and bounce["resolved"] is False

    shown = desk.run("bounces", "show", str(bounce["id"])).stdout
    assert f"Queued mail {reply['id']} to refuse@customer.test (sent" in shown
    assert f"Ticket {ticket['id']} (by verp): Printer on fire" in shown
    assert "550 5.1.1 <refuse@customer.test>: no such mailbox here (test)" in shown
    assert (
        "Subject: Undelivered Mail Returned to Sender" in shown and "This is the mail system at host mta.test" in shown
    )
    queued = {r["id"]: r for r in desk.json("queue", "list")["rows"]}
    assert queued[reply["id"]]["status"] == "sent" and queued[reply["id"]]["bounced"] == "bounced"
    assert f"#{bounce['id']} refuse@customer.test permanent" in desk.run("tickets", "show", str(ticket["id"])).stdout
    warned = desk.cli("status")
    assert warned.exit_code == 1 and "1 bounce(s) are unresolved" in warned.stdout + warned.stderr

    # staff answer again: the mail to the address that bounced is held back, not sent through Postfix
    desk.run("tickets", "reply", str(ticket["id"]), "--message", "Did our last mail reach you?")
    (again,) = [r for r in desk.json("queue", "list")["rows"] if r["id"] not in queued]
    tried = desk.mta.log().count("to=<refuse@customer.test>")
    assert "held back 1" in desk.run("queue", "send").stdout
    (suppressed,) = desk.json("queue", "list", "--status", "suppressed")["rows"]
    assert (suppressed["id"], suppressed["state"], suppressed["next_try"]) == (again["id"], "suppressed", None)
    assert suppressed["hold_reason"] == (
        f"refuse@customer.test bounced for good (bounce {bounce['id']}, 5.1.1); "
        f"`ticketctl bounces resolve {bounce['id']}` releases it."
    )
    (recipient,) = desk.json("queue", "show", str(again["id"]))["recipients"]
    assert (recipient["status"], recipient["bounce_id"], recipient["attempts"]) == ("suppressed", bounce["id"], 0)
    assert f"Suppressed {again['id']}: refuse@customer.test bounced for good" in desk.run("queue", "list").stdout
    assert f"Kept back: queued mail {again['id']}" in desk.run("bounces", "show", str(bounce["id"])).stdout
    desk.run("queue", "send")
    desk.run("process")
    assert desk.mta.log().count("to=<refuse@customer.test>") == tried, "nothing more went to the dead address"
    assert desk.dovecot.count(desk.bounces.name) == 0 and len(desk.json("bounces", "list")) == 1
    assert "1 outgoing mail(s) are suppressed because their address bounced" in desk.cli("status").stderr

    # Jane's mailbox works again: resolving the bounce releases the mail, and it goes through Postfix
    relayed_before = len(relayed.messages)
    next_hop[0].fixed.add("refuse@customer.test")
    done = desk.run("bounces", "resolve", str(bounce["id"]), "--note", "Jane's mailbox works again.")
    assert f"Bounce {bounce['id']} (refuse@customer.test) is resolved." in done.stdout
    assert f"Released 1 mail it kept back (queued mail {again['id']}): it goes at the next send." in done.stdout
    assert desk.json("bounces", "list") == []
    assert desk.json("queue", "list", "--status", "suppressed")["rows"] == []
    desk.run("queue", "send")
    desk.wait_for_relay(relayed_before + 1)
    (delivered,) = relayed.messages[relayed_before:]
    assert delivered[1] == ["refuse@customer.test"] and b"Did our last mail reach you?" in delivered[2]
    assert desk.json("queue", "show", str(again["id"]))["status"] == "sent"
    assert "Unresolved bounces: 0." in desk.cli("status").stdout


def test_a_recipient_that_stays_away_gives_a_delay_then_a_temporary_failure(desk):
    desk.customer_writes("tempfail@customer.test", "Still waiting")
    desk.run("process")
    (ticket,) = desk.json("tickets", "list")["tickets"]
    desk.run("tickets", "reply", str(ticket["id"]), "--message", "Any news?")
    desk.run("queue", "send")
    desk.wait_for_reports(2)  # Postfix warns after 1 s, gives up after 2 s (the harness's times)
    desk.run("process")
    found = desk.json("bounces", "list", "--status", "all", "--contact", "tempfail@customer.test")
    assert sorted((b["kind"], b["status_code"], b["resolved"], b["ticket_id"]) for b in found) == [
        ("delayed", "4.3.0", True, ticket["id"]),  # a delay: recorded, nobody needs to act
        ("temporary", "4.3.0", False, ticket["id"]),  # Postfix gave up on a 451: a temporary failure
    ]
