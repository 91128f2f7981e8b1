"""The conventions every command follows, checked over every registered command (so command groups added
later are held to them too): help that explains in plain words, choices checked first, `--json` with one
shape for results and errors, tables that fit 80 columns, removals that ask first."""

from __future__ import annotations

import json
import re
import time

import pytest
from typer.main import get_command

from tests.staff import builders as b
from ticketctl.cli import app
from ticketctl.engine.store.connection import utcnow

FRAMEWORK_MARKERS = re.compile(r"<[a-z][\w\[\], |]*>|\{[a-z_]+\}|\[?x\s*[<>]=")


def walk(command, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from walk(sub, (*path, name))


COMMANDS = [(path, command) for path, command in walk(get_command(app)) if path]
LEAVES = [(path, command) for path, command in COMMANDS if not hasattr(command, "commands")]


def test_every_command_option_and_argument_explains_itself(cli):
    assert len(LEAVES) > 30
    for path, command in COMMANDS:
        where = "ticketctl " + " ".join(path)
        assert (command.help or "").strip(), f"{where} has no help"
        for param in command.params:
            if param.name != "help":
                assert (getattr(param, "help", None) or "").strip(), f"{where} {param.name} has no help"
        shown = cli(*path, "--help")
        assert shown.exit_code == 0, where
        markers = FRAMEWORK_MARKERS.findall(shown.stdout)
        assert not markers, f"`{where} --help` shows framework internals {markers}:\n{shown.stdout}"


def test_every_command_takes_json(cli):
    for path, command in LEAVES:
        assert "--json" in [opt for param in command.params for opt in getattr(param, "opts", ())], path


@pytest.mark.parametrize(
    ("command", "option", "choices", "default"),
    [
        (("mailbox", "add"), "--kind", "[imap|pop3|maildir]", "imap"),
        (("mailbox", "add"), "--security", "[ssl|starttls|none]", "ssl"),
        (("mailbox", "add"), "--auth", "[password|oauth2]", "password"),
        (("type", "add"), "--task", "[simple_storage|assignment|bounce_back]", "simple_storage"),
    ],
)
def test_choices_are_listed_with_their_default_and_checked_before_anything_else(cli, command, option, choices, default):
    shown = " ".join(cli(*command, "--help").stdout.split())
    assert f"{option} {choices}" in shown
    assert re.search(rf"{re.escape(option)} {re.escape(choices)} .*?\[default: {default}\]", shown), shown
    # no password, no terminal: anything but the usage error would first complain about the password
    rest = ("--host", "h.example.com", "--username", "u") if command[0] == "mailbox" else ("--email-to", "a@b.c")
    wrong = cli(*command, "x", option, "nonsense", *rest)
    assert wrong.exit_code == 2, wrong.stderr
    assert f"Invalid value for '{option}'" in wrong.stderr and "--password-env" not in wrong.stderr


def test_task_and_save_table_are_explained_where_they_are_set(cli):
    shown = " ".join(cli("type", "add", "--help").stdout.split())
    for task in ("simple_storage:", "bounce_back:", "assignment:"):
        assert task in shown
    assert "--save-table TABLE Also copy each new ticket's sender, subject and body into this table" in shown


def test_errors_with_json_are_json_too(cli):
    missing = cli("tickets", "show", "99", "--json")
    assert missing.exit_code == 1
    assert json.loads(missing.stdout) == {
        "error": {
            "message": "There is no ticket 99; `ticketctl tickets list` shows the tickets.",
            "kind": "not_found",
            "exit_code": 1,
        }
    }
    assert "Error: There is no ticket 99" in missing.stderr  # and the sentence for a person, as always
    usage = cli("tickets", "list", "--limit", "0", "--json")
    assert usage.exit_code == 2
    error = json.loads(usage.stdout)["error"]
    assert error["kind"] == "usage" and error["exit_code"] == 2 and "--limit" in error["message"]
    plain = cli("tickets", "show", "99")
    assert plain.stdout == ""


@pytest.fixture
def desk(cli, store):
    box = b.mailbox(store, "alpha")
    questions = b.ticket_type(store, "Questions", "Support", box)
    ticket = b.ticket(store, type_id=questions, mailbox_id=box, status="new")
    b.log(store, ticket, mailbox_id=box)
    return ticket


def test_changes_answer_json_with_what_they_changed(cli, store, desk):
    assert json.loads(cli("init", "--json").stdout)["created"] is False
    opened = json.loads(cli("tickets", "status", str(desk), "open", "--json").stdout)
    assert (opened["id"], opened["status"]) == (desk, "open")
    resolved = json.loads(cli("tickets", "resolve", str(desk), "--json").stdout)
    assert resolved["status"] == "resolved" and "open" in resolved["allowed_statuses"]
    replied = json.loads(cli("tickets", "reply", str(desk), "-m", "Done.", "--json").stdout)
    assert replied["ticket_id"] == desk and replied["to_email"] == "alice@example.com"
    failed = b.queued(store, status="failed")
    assert json.loads(cli("queue", "retry", "--all-failed", "--json").stdout) == {"retried": [failed]}
    added = json.loads(cli("canned", "add", "thanks", "--body", "Thanks!", "--json").stdout)
    assert added["name"] == "thanks"
    stray = b.ticket(store, "Lost mail", kind="invalid")
    reassigned = json.loads(cli("tickets", "reassign", str(stray), "--type", "Questions", "--json").stdout)
    assert (reassigned["id"], reassigned["type"]) == (stray, "Questions")
    assert reassigned["logs"][-1]["to_email"] == "admin@example.org"
    removed = json.loads(cli("type", "remove", "Questions", "--yes", "--json").stdout)
    assert removed == {"error": removed["error"]} and removed["error"]["kind"] == "in_use"


COLUMNS_80 = {"COLUMNS": "80"}


@pytest.fixture
def crowded(cli, store, monkeypatch):
    """Tickets and queued mail whose texts are far too wide for 80 columns."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    box = b.mailbox(store, "a-mailbox-with-a-rather-long-name")
    kind = b.ticket_type(store, "Questions about the printers", "Support", box)
    now = utcnow()
    for i in range(12):
        b.ticket(
            store,
            f"Ticket {i}: " + "the printer on the third floor is on fire again " * 3,
            from_email=f"someone.with.a.long.address.{i}@customer-of-the-month.example.com",
            from_name="Somebody With A Very Long Name",
            at=now,
            type_id=kind,
            mailbox_id=box,
        )
        b.queued(store, to_email=f"recipient.{i}@a-very-long-domain-name.example.org", subject="Re: " + "x" * 120)
    yield now
    monkeypatch.delenv("TZ")
    time.tzset()


@pytest.mark.parametrize("command", [("tickets", "list"), ("queue", "list")])
def test_at_80_columns_each_row_is_one_line(cli, crowded, command):
    result = cli(*command, env=COLUMNS_80)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.rstrip("\n").split("\n")
    title, header, *rows, footer = lines
    assert len(rows) == 12, lines
    for line in lines:
        assert len(line.rstrip()) <= 80, line
    assert footer in ("12 tickets.", "12 mails.")
    assert all("…" in row for row in rows), "long cells are cut with an ellipsis"
    stamp = crowded[5:7] + "-" + crowded[8:10] + " " + crowded[11:16]
    assert all(stamp in row for row in rows), "dates are compact and never cut"
    ids = [int(row.split()[0]) for row in rows]
    assert ids == sorted(ids, reverse=True), "the narrow id column is whole"


def test_the_widest_columns_give_way_first(cli, crowded):
    rows = cli("tickets", "list", env=COLUMNS_80).stdout.splitlines()[2:-1]
    assert all(" new " in row for row in rows), "the status column keeps its width"
    wide = cli("tickets", "list", "--wide", env=COLUMNS_80).stdout
    assert "the printer on the third floor is on fire again the printer" in wide
    assert "someone.with.a.long.address.3@customer-of-the-month.example.com" in wide
    assert "…" not in wide
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", wide), "--wide shows the whole time"


def test_queue_list_pages_like_tickets_list(cli, crowded):
    page = cli("queue", "list", "--limit", "5", "--page", "2", env=COLUMNS_80).stdout.splitlines()
    assert page[-1] == "Mails 6-10 of 12; more with --offset 10."
    data = json.loads(cli("queue", "list", "--limit", "5", "--offset", "10", "--json").stdout)
    assert (len(data["rows"]), data["total"], data["has_more"]) == (2, 12, False)


def test_removing_asks_on_a_terminal_naming_what_goes(cli, workdir, monkeypatch):
    from ticketctl.commands import common

    for sub in ("new", "cur", "tmp"):
        (workdir / "mail" / sub).mkdir(parents=True)
    assert cli("mailbox", "add", "local", "--kind", "maildir", "--path", "mail").exit_code == 0
    no_terminal = cli("mailbox", "remove", "local")
    assert no_terminal.exit_code == 1
    assert "there is no terminal to ask on; add --yes to confirm it" in no_terminal.stderr
    monkeypatch.setattr(common, "interactive", lambda: True)
    declined = cli("mailbox", "remove", "local", input="n\n")
    assert f"Remove mailbox 'local' (the Maildir {workdir / 'mail'})? [y/N]" in declined.stdout
    assert declined.exit_code == 1 and "Nothing was removed." in declined.stderr
    assert json.loads(cli("mailbox", "list", "--json").stdout)[0]["name"] == "local"
    accepted = cli("mailbox", "remove", "local", input="y\n")
    assert accepted.exit_code == 0 and f"Removed mailbox 'local' (the Maildir {workdir / 'mail'})." in accepted.stdout
    assert json.loads(cli("mailbox", "list", "--json").stdout) == []


def test_hints_name_what_they_are_about_and_can_be_pasted(cli, workdir):
    assert cli("mailbox", "add", "my box", "--kind", "maildir", "--path", "nowhere", "--no-check").exit_code == 0
    result = cli("mailbox", "test", "my box")
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert "check the path with `ticketctl mailbox edit 'my box' --path DIR`." in message
    added = cli("mailbox", "add", "other", "--kind", "maildir", "--path", "nowhere")
    assert added.exit_code == 0, "the mailbox is saved; what is wrong with it is a warning"
    warning = " ".join(added.stderr.split())
    assert warning.count("Mailbox 'other'") == 0 and ".." not in warning
    assert "Warning: " in warning and "`ticketctl mailbox test other`" in warning
    edit = cli("mailbox", "edit", "other", "--kind", "imap")
    assert "An imap mailbox needs a host; `ticketctl mailbox edit other --host HOST`." in edit.stderr
    cli("type", "add", "Other", "--email-to", "o@example.com", "--tag", "Other", "--mailbox", "other",
        "--admin-email", "lead@example.com")  # fmt: skip
    run = cli("process", "--mailbox", "other")
    failed = " ".join(run.stderr.split())
    assert "other: 0 message(s): nothing waiting; FAILED: " in failed and "is not a Maildir" in failed
    assert "Mailbox 'other'" not in failed and ".." not in failed
