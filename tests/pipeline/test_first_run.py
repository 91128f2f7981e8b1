"""A safe first connect: `mailbox add` and `mailbox test` say what waits and what `process` will do with
it; a first run over a mailbox full of old mail takes it in without notifying anyone unless told to, and
goes on doing so until that backlog is in, however many runs it takes."""

from __future__ import annotations

import json

import pytest

from tests.pipeline.helpers import deliver, mail, waiting

THRESHOLD = 50  # limits.first_run_backlog by default


@pytest.fixture
def maildir(workdir):
    path = workdir / "mail"
    for sub in ("new", "cur", "tmp"):
        (path / sub).mkdir(parents=True)
    return path


def old_mail(maildir, count):
    deliver(maildir, *(mail(frm=f"c{i}@customer.example", subject=f"Old question {i}") for i in range(count)))


def add_desk(cli, *mailbox_options):
    added = cli("mailbox", "add", "local", "--kind", "maildir", "--path", "mail", *mailbox_options)
    assert added.exit_code == 0, added.stderr
    typed = cli("type", "add", "Support", "--email-to", "support@example.com", "--tag", "Support",
                "--mailbox", "local", "--admin-email", "lead@example.com")  # fmt: skip
    assert typed.exit_code == 0, typed.stderr
    return " ".join(added.stdout.split())


def run(cli, *args):
    result = cli("process", "--json", *args)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    return report["mailboxes"][0], report


def queued(store):
    return store.one("SELECT count(*) AS n FROM email_queue")["n"]


def test_add_and_test_say_what_waits_and_what_process_will_do(cli, maildir):
    old_mail(maildir, THRESHOLD + 10)
    said = add_desk(cli)
    assert "Mailbox 'local' is reachable: 60 message(s) waiting," in said
    assert "`ticketctl process` records each message, then deletes it from the Maildir;" in said
    assert "`ticketctl mailbox edit local --processed-folder FOLDER` moves it there instead." in said
    assert (
        "This is a first run with 60 messages waiting, over limits.first_run_backlog (50): `process` takes them "
        "in as tickets without notifying anyone (`ticketctl process --notify` would send every notice)." in said
    )
    assert "No active ticket type reads this mailbox yet, so `process` leaves it alone" in said
    tested = " ".join(cli("mailbox", "test", "local").stdout.split())
    assert "60 message(s) waiting" in tested and "takes them in as tickets without notifying anyone" in tested
    assert "No active ticket type" not in tested, "the type is there now"
    data = json.loads(cli("mailbox", "test", "local", "--json").stdout)
    assert (data["waiting"], data["read_by"]) == (60, ["Support"])
    assert data["backlog"].startswith("a first run with 60 messages waiting")
    moved = cli("mailbox", "edit", "local", "--processed-folder", "Done")
    assert moved.exit_code == 0
    assert "then moves it to the folder 'Done'." in cli("mailbox", "test", "local").stdout


def test_a_first_run_over_the_threshold_is_taken_in_without_notifying(cli, store, maildir):
    old_mail(maildir, THRESHOLD + 1)
    add_desk(cli)
    box, report = run(cli)
    assert box["counts"] == {"new_ticket": THRESHOLD + 1}
    assert box["backlog"].startswith("a first run with 51 messages waiting")
    assert queued(store) == 0 and report["sent"] == 0
    assert waiting(maildir) == []
    said = cli("tickets", "list", "--limit", "1").stdout.splitlines()[-1]
    assert said == "Tickets 1-1 of 51; more with --offset 1."
    deliver(maildir, mail(subject="A new question"))
    box, report = run(cli)
    assert box["backlog"] is None and box["counts"] == {"new_ticket": 1}
    assert queued(store) == 1 and report["sent"] == 1, "mail after the backlog is announced as usual"


def test_the_summary_says_the_mail_was_taken_in_as_a_backlog(cli, store, maildir):
    old_mail(maildir, THRESHOLD + 1)
    add_desk(cli)
    line = cli("process").stdout.strip()
    assert line.endswith(
        "local: 51 message(s): 51 new_ticket; taken in as a backlog (a first run with 51 messages waiting, over "
        "limits.first_run_backlog (50)): nobody was notified"
    ), line


def test_notify_overrides_the_first_run_backlog(cli, store, maildir):
    old_mail(maildir, THRESHOLD + 1)
    add_desk(cli)
    box, report = run(cli, "--notify")
    assert box["backlog"] is None and queued(store) == THRESHOLD + 1


def test_a_small_first_run_notifies(cli, store, maildir):
    old_mail(maildir, THRESHOLD)
    add_desk(cli)
    box, _ = run(cli)
    assert box["backlog"] is None and queued(store) == THRESHOLD


def test_backlog_on_any_run_sends_nothing(cli, store, maildir):
    add_desk(cli)
    run(cli)
    deliver(maildir, mail())
    box, _ = run(cli, "--backlog")
    assert box["backlog"] == "--backlog" and queued(store) == 0


def test_a_backlog_taken_in_over_several_runs_stays_a_backlog(cli, store, maildir):
    old_mail(maildir, THRESHOLD + 30)
    add_desk(cli)
    first, _ = run(cli, "--limit", "50")
    assert first["backlog"].startswith("a first run") and first["left"] == 30
    second, _ = run(cli, "--limit", "20")
    assert second["backlog"] == "the rest of its first run's backlog" and second["left"] == 10
    third, _ = run(cli)
    assert third["backlog"] == "the rest of its first run's backlog" and third["left"] == 0
    assert queued(store) == 0 and waiting(maildir) == []
    deliver(maildir, mail(subject="After the backlog"))
    fourth, _ = run(cli)
    assert fourth["backlog"] is None and queued(store) == 1


def test_a_threshold_of_your_own(cli, store, maildir, workdir):
    (workdir / "ticketctl.yaml").write_text("limits:\n  first_run_backlog: 2\n")
    old_mail(maildir, 3)
    add_desk(cli)
    box, _ = run(cli)
    assert box["backlog"].startswith("a first run with 3 messages waiting, over limits.first_run_backlog (2)")


def test_the_mail_s_own_to_and_cc_are_shown_not_the_admin_s_address(cli, maildir):
    add_desk(cli)
    deliver(maildir, mail(to="Support <support@example.com>, other@example.com", Cc="Boss <boss@customer.example>"))
    run(cli)
    shown = cli("tickets", "show", "1").stdout
    assert "  To: support@example.com, other@example.com\n" in shown
    assert "  Cc: boss@customer.example\n" in shown
    assert "  Passed on to: lead@example.com\n" in shown
    assert "  To: lead@example.com" not in shown.split("Log 2")[0]
    logs = json.loads(cli("tickets", "show", "1", "--json").stdout)["logs"]
    assert logs[0]["mail_to"] == "support@example.com, other@example.com"


def test_log_level_from_the_configuration_is_applied_with_time_and_mailbox(cli, maildir, workdir):
    add_desk(cli)
    deliver(maildir, mail())
    quiet = cli("process")
    assert "INFO" not in quiet.stderr
    (workdir / "ticketctl.yaml").write_text("log_level: info\n")
    deliver(maildir, mail())
    told = cli("process")
    lines = [line for line in told.stderr.splitlines() if " INFO " in line]
    assert lines, told.stderr
    assert all(line[:4].isdigit() and line[10] == " " for line in lines), "each line starts with the time"
    assert any("mailbox local: 1 message(s) waiting" in line for line in lines)
    assert any("mailbox local: 1 of 1 message(s) taken in" in line for line in lines)
