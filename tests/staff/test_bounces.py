"""`ticketctl bounces list/show/resolve`, `tickets resolve-bounce`, and queued mail that bounced, as
staff read them: unresolved by default, per contact, a sentence and no traceback for an unknown id."""

from __future__ import annotations

import json
import re

import pytest

from tests.staff import builders as b

REPORT = (
    b"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
    b"To: bounces+q1-000000000000@example.org\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n"
    b"Content-Type: text/plain\r\n\r\n"
    b"I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
    b"<alice@example.com>: host mx.example.com said: 550 5.1.1 no such user\r\n"
)


@pytest.fixture
def desk(store):
    box = b.mailbox(store, "alpha")
    questions = b.ticket_type(store, "Questions", "Support", box)
    alice = b.contact(store, "alice@example.com", "Alice")
    ticket = b.ticket(store, type_id=questions, mailbox_id=box, contact_id=alice, status="answered")
    answer = b.log(store, ticket, "out", "[Support #1-1] Printer on fire", "Use the extinguisher.")
    mail = b.queued(store, status="sent", ticket_id=ticket, log_id=answer, subject="[Support #1-1] Printer on fire")
    other = b.queued(store, status="sent", to_email="carol@example.net")
    report = b.log(store, ticket, raw=REPORT, mailbox_id=box)  # its ledger row keeps the report's bytes
    ledger_id = store.one("SELECT ledger_id FROM ticket_logs WHERE id = ?", (report,))[0]
    gone = b.bounce(
        store, "alice@example.com", queue_id=mail, ticket_id=ticket, contact_id=alice, ledger_id=ledger_id,
        report="a delivery failure report (read from its text)", matched_by="verp",
    )  # fmt: skip
    old = b.bounce(store, "bob@example.com", kind="temporary", status_code="4.2.2", resolved=1, resolved_at=b.T0)
    stray = b.bounce(store, None, status_code=None, diagnostic=None, report="a delivery failure report whose failed "
                     "address could not be read")  # fmt: skip
    return {"ticket": ticket, "mail": mail, "other": other, "gone": gone, "old": old, "stray": stray}


def test_list_shows_the_unresolved_bounces_by_default(cli, desk):
    result = cli("bounces", "list", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Unresolved bounces" in out
    row = next(line for line in out.splitlines() if "alice@example.com" in line)
    cells = re.split(r"\s{2,}", row.strip())
    assert cells[:4] + cells[5:] == [str(desk["gone"]), "alice@example.com", "permanent", "5.1.1", str(desk["ticket"])]
    assert cells[4].startswith("01-01 "), "a date this year, compact: month-day hour:minute"
    assert "(unread)" in out  # the report whose address could not be read is listed too
    assert "bob@example.com" not in out
    everything = cli("bounces", "list", "--status", "all", env={"COLUMNS": "80"}).stdout
    assert "bob@example.com" in everything and "resolved" in everything and "…" not in everything
    assert all(len(line) <= 80 for line in (out + everything).splitlines())


def test_list_by_status_and_contact(cli, desk):
    everything = json.loads(cli("bounces", "list", "--status", "all", "--json").stdout)
    assert [row["id"] for row in everything] == [desk["stray"], desk["old"], desk["gone"]]
    resolved = json.loads(cli("bounces", "list", "--status", "resolved", "--json").stdout)
    assert [(r["address"], r["kind"], r["resolved"]) for r in resolved] == [("bob@example.com", "temporary", True)]
    alice = json.loads(cli("bounces", "list", "--contact", "Alice@Example.com", "--json").stdout)
    assert [(r["id"], r["contact_email"], r["ticket_id"]) for r in alice] == [
        (desk["gone"], "alice@example.com", desk["ticket"])
    ]
    # an address with bounces but no contact
    assert (
        len(json.loads(cli("bounces", "list", "--status", "all", "--contact", "bob@example.com", "--json").stdout)) == 1
    )


def test_list_refuses_what_it_cannot_answer(cli, desk):
    for args, sentence in (
        (["--status", "open"], "'open' is not a bounce status; use one of: unresolved, resolved, all."),
        (["--contact", "nobody@example.com"], "There is no contact and no bounce with the address"),
    ):
        result = cli("bounces", "list", *args)
        assert result.exit_code == 1 and sentence in result.stderr and "Traceback" not in result.stderr


def test_show_gives_the_report_the_mail_and_the_ticket(cli, desk):
    result = cli("bounces", "show", str(desk["gone"]))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert f"Bounce {desk['gone']}" in out
    assert "Address: alice@example.com" in out and "Kind: permanent" in out and "Contact: alice@example.com" in out
    assert "State: unresolved" in out
    assert f"Queued mail {desk['mail']} to alice@example.com (sent)" in out
    assert f"Ticket {desk['ticket']} (by verp): Printer on fire (answered)" in out
    assert "From: MAILER-DAEMON@mx.example.net" in out and "Subject: Undelivered Mail Returned to Sender" in out
    assert "550 5.1.1 no such user" in out  # the report's own words
    data = json.loads(cli("bounces", "show", str(desk["gone"]), "--json").stdout)
    assert data["bounce"]["address"] == "alice@example.com" and data["mail"]["id"] == desk["mail"]
    assert data["ticket"]["id"] == desk["ticket"] and data["report"]["sender"] == "MAILER-DAEMON@mx.example.net"
    raw = cli("bounces", "show", str(desk["gone"]), "--raw")
    assert raw.exit_code == 0 and raw.stdout == REPORT.decode().replace("\r\n", "\n")  # the runner reads lines


def test_the_raw_report_is_byte_for_byte(store, desk):
    from ticketctl.engine.desk import bounces

    assert bounces.raw_report(store, desk["gone"]) == REPORT


def test_show_of_an_unmatched_report_without_an_address(cli, desk):
    out = cli("bounces", "show", str(desk["stray"])).stdout
    assert "the report names no address that could be read" in out and "Not matched to a mail we sent." in out


def test_resolve_clears_a_bounce_once(cli, desk):
    result = cli("bounces", "resolve", str(desk["gone"]), "--note", "Alice gave us her new address")
    assert result.exit_code == 0, result.stderr
    assert f"Bounce {desk['gone']} (alice@example.com) is resolved." in result.stdout
    assert "alice@example.com" not in cli("bounces", "list").stdout
    shown = cli("bounces", "show", str(desk["gone"])).stdout
    assert "State: resolved" in shown and "Alice gave us her new address" in shown
    again = cli("bounces", "resolve", str(desk["gone"]), "--json")
    data = json.loads(again.stdout)
    assert (
        again.exit_code == 0
        and data["changed"] is False
        and data["bounce"]["resolved_note"] == ("Alice gave us her new address")
    )


def test_tickets_resolve_bounce_is_the_same_action(cli, desk):
    shown = cli("tickets", "show", str(desk["ticket"])).stdout
    assert f"#{desk['gone']} alice@example.com permanent, unresolved" in shown
    result = cli("tickets", "resolve-bounce", str(desk["gone"]))
    assert result.exit_code == 0, result.stderr
    assert f"Bounce {desk['gone']} (alice@example.com) is resolved." in result.stdout
    assert (
        f"#{desk['gone']} alice@example.com permanent, resolved" in cli("tickets", "show", str(desk["ticket"])).stdout
    )
    assert json.loads(cli("bounces", "list", "--json").stdout)[0]["id"] == desk["stray"]


@pytest.mark.parametrize(
    "args",
    [["bounces", "show", "999"], ["bounces", "resolve", "999"], ["tickets", "resolve-bounce", "999"],
     ["bounces", "show", "999", "--raw"]],
)  # fmt: skip
def test_an_unknown_bounce_is_a_sentence(cli, desk, args):
    result = cli(*args)
    assert result.exit_code == 1
    assert "There is no bounce 999; `ticketctl bounces list --status all` shows them." in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_queued_mail_shows_that_it_bounced(cli, desk):
    listed = cli("queue", "list")
    line = next(row for row in listed.stdout.splitlines() if row.split()[:1] == [str(desk["mail"])])
    assert line.split()[1] == "bounced", "a sent mail that came back says so"
    rows = {r["id"]: r for r in json.loads(cli("queue", "list", "--json").stdout)["rows"]}
    assert rows[desk["mail"]]["status"] == "sent" and rows[desk["mail"]]["bounced"] == "bounced"
    assert rows[desk["other"]]["bounced"] is None
    shown = json.loads(cli("queue", "show", str(desk["mail"]), "--json").stdout)
    assert shown["bounces"] == [f"#{desk['gone']} alice@example.com permanent 5.1.1 (unresolved)"]
