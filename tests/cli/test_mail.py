"""`ticketctl mail list | show | release` over a Maildir desk: filters, paging, mail from before the
ledger kept senders, and every refusal as one sentence with a non-zero exit."""

from __future__ import annotations

import json

import pytest

from tests.pipeline.helpers import add_question_type, deliver, mail, setup_support
from ticketctl.engine.admin import tickettypes

BOUNCES = "bounces@example.com"


@pytest.fixture
def desk(cli, store, workdir):
    """Four mails taken in: a question (new ticket), a person's mail to the bounce address (ignored),
    the admin mailing the desk without a tag (rejected) and one to an address no type has (invalid)."""
    setup_support(store, workdir / "mail")
    tickettypes.add(
        store, name="Bounces", task="bounce_back", email_to=[BOUNCES], workflow_tag="Bounce", mailbox="local"
    )
    assert cli("process", "--json").exit_code == 0  # the first run: the mailbox's old mail (none) is backlog
    deliver(
        workdir / "mail",
        mail(subject="Printer on fire"),
        mail(subject="To the bounce address", to=BOUNCES),
        mail(subject="The admin to the desk", frm="Lena Lead <lead@example.com>"),
        mail(subject="Wrong address", to="nobody@example.com"),
    )
    assert cli("process", "--json").exit_code == 0
    return {m["subject"]: m for m in listed(cli)}


def listed(cli, *args: str) -> list[dict]:
    result = cli("mail", "list", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["mails"]


def test_every_mail_taken_in_is_listed_newest_first_with_what_became_of_it(cli, desk):
    assert [m["disposition"] for m in listed(cli)] == ["invalid_ticket", "rejected", "ignored", "new_ticket"]
    assert desk["To the bounce address"]["rule"] == "bounce-mailbox" and desk["To the bounce address"]["raw_kept"]
    assert [m["subject"] for m in listed(cli, "--disposition", "ignored", "--disposition", "rejected")] == [
        "The admin to the desk",
        "To the bounce address",
    ]
    assert [m["id"] for m in listed(cli, "--limit", "1", "--page", "2")] == [desk["The admin to the desk"]["id"]]
    assert listed(cli, "--since", "2999-01-01") == []
    assert len(listed(cli, "--mailbox", "local")) == 4
    table = cli("mail", "list", "--limit", "2").stdout
    assert "more with --offset 2" in table and "invalid_ticket" in table


def test_mail_from_before_the_ledger_kept_senders_is_listed_from_its_original(cli, store, desk):
    with store.transaction() as conn:
        conn.execute("UPDATE ledger SET from_email = NULL, subject = NULL")
    assert {m["subject"] for m in listed(cli)} == set(desk)
    assert {m["from_email"] for m in listed(cli)} == {"jane@customer.example", "lead@example.com"}


def test_release_as_a_new_ticket_of_a_type_staff_name(cli, store, desk):
    add_question_type(store, "local", name="Billing")
    result = cli("mail", "release", str(desk["The admin to the desk"]["id"]), "--type", "Billing", "--json")
    assert result.exit_code == 0, result.stderr
    released = json.loads(result.stdout)
    assert (released["disposition"], released["notices"]) == ("new_ticket", 1)
    shown = json.loads(cli("tickets", "show", str(released["ticket_id"]), "--json").stdout)
    assert shown["type"] == "Billing" and shown["logs"][0]["released_by"]


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (("--ticket", "1", "--type", "Support"), "not both"),
        (("--ticket", "99"), "There is no ticket 99"),
        (("--type", "Nope"), "no ticket type named 'Nope'"),
    ],
)
def test_release_refuses_what_cannot_be(cli, desk, args, sentence):
    result = cli("mail", "release", str(desk["To the bounce address"]["id"]), *args)
    assert result.exit_code == 1 and sentence in result.stderr and "Traceback" not in result.stderr


def test_only_ignored_or_rejected_mail_is_released_and_only_once(cli, desk):
    taken = cli("mail", "release", str(desk["Printer on fire"]["id"]))
    assert taken.exit_code == 1 and "only ignored or rejected mail can be released" in taken.stderr
    assert cli("mail", "release", str(desk["To the bounce address"]["id"])).exit_code == 0
    again = cli("mail", "release", str(desk["To the bounce address"]["id"]))
    assert again.exit_code == 1 and "released already" in again.stderr
    missing = cli("mail", "show", "999")
    assert missing.exit_code == 1 and "no mail 999" in missing.stderr
    bad = cli("mail", "list", "--disposition", "lost")
    assert bad.exit_code == 1 and "not valid" in bad.stderr


def test_show_tells_how_to_release_and_prints_the_original(cli, desk):
    shown = cli("mail", "show", str(desk["To the bounce address"]["id"])).stdout
    assert "Why: bounce-mailbox: not a delivery report" in shown and "mail release" in shown
    raw = cli("mail", "show", str(desk["To the bounce address"]["id"]), "--raw").stdout
    assert f"To: {BOUNCES}" in raw and "Subject: To the bounce address" in raw


def test_a_released_mail_a_machine_wrote_is_marked_as_the_run_marks_it(cli, store, workdir, desk):
    deliver(workdir / "mail", mail(subject="Automatic reply", to=BOUNCES, Auto_Submitted="auto-replied"))
    assert cli("process", "--json").exit_code == 0
    auto = next(m for m in listed(cli) if m["subject"] == "Automatic reply")
    released = json.loads(cli("mail", "release", str(auto["id"]), "--type", "Support", "--json").stdout)
    shown = json.loads(cli("tickets", "show", str(released["ticket_id"]), "--json").stdout)
    assert "Auto-Submitted" in (shown["logs"][0]["automatic"] or "")
