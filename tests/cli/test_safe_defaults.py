"""What a new admin's first commands must not do: change folders that are not ours, start a database in
the wrong folder, or take a configuration that contradicts itself."""

from __future__ import annotations

import json
import os
import stat

import pytest

MAILDIR = ("mailbox", "add", "local", "--kind", "maildir", "--path", "mail")
TYPE = ("type", "add", "Support", "--email-to", "support@example.com", "--tag", "Support", "--mailbox", "local")
ADMIN = ("--admin-email", "lead@example.com")

# A session of the first day: every command group, reading and changing.
SESSION = [
    ("init",),
    MAILDIR,
    ("mailbox", "list"),
    ("mailbox", "show", "local"),
    ("mailbox", "test", "local"),
    ("mailbox", "edit", "local", "--folder", "INBOX"),
    (*TYPE, *ADMIN),
    ("type", "list"),
    ("process",),
    ("status",),
    ("tickets", "list"),
    ("queue", "list"),
    ("queue", "send"),
    ("canned", "add", "thanks", "--body", "Thanks!"),
    ("canned", "list"),
    ("oauth", "status"),
    ("type", "remove", "Support", "--yes"),
    ("mailbox", "remove", "local", "--yes"),
]


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def maildir(root):
    for sub in ("new", "cur", "tmp"):
        (root / "mail" / sub).mkdir(parents=True, exist_ok=True)


@pytest.mark.parametrize("shared_mode", [0o1777, 0o2775, 0o755])
def test_no_command_changes_the_mode_of_a_folder_it_did_not_create(bare_cli, workdir, shared_mode):
    shared = workdir / "shared"
    shared.mkdir()
    os.chmod(shared, shared_mode)
    os.chmod(workdir, 0o755)
    maildir(workdir)
    env = {"TICKETCTL_DB": str(shared / "x.db")}
    for args in SESSION:
        result = bare_cli(*args, env=env)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        assert "Traceback" not in result.stderr, args
        assert mode(shared) == shared_mode, f"`ticketctl {' '.join(args)}` changed the database's folder"
        assert mode(workdir) == 0o755, f"`ticketctl {' '.join(args)}` changed the working folder"
    assert mode(shared / "x.db") == 0o600


def test_what_init_creates_is_private(bare_cli, workdir):
    os.umask(0o022)
    result = bare_cli("init", env={"TICKETCTL_DB": str(workdir / "new" / "deeper" / "x.db")})
    assert result.exit_code == 0, result.stderr
    assert "was created" in result.stdout
    assert mode(workdir / "new") == 0o700 and mode(workdir / "new" / "deeper") == 0o700
    assert mode(workdir / "new" / "deeper" / "x.db") == 0o600
    assert mode(workdir / "ticketctl-data") == 0o700
    again = bare_cli("init", env={"TICKETCTL_DB": str(workdir / "new" / "deeper" / "x.db")})
    assert again.exit_code == 0 and "is ready" in again.stdout


def test_a_database_others_can_read_is_warned_about_not_changed(cli, workdir):
    os.chmod(workdir / "ticketctl.db", 0o644)
    result = cli("tickets", "list")
    assert result.exit_code == 0
    warning = " ".join(result.stderr.split())
    assert f"The database {workdir / 'ticketctl.db'} can be read or written by other users (mode 0644)" in warning
    assert f"`chmod 600 {workdir / 'ticketctl.db'}`" in warning
    assert mode(workdir / "ticketctl.db") == 0o644


@pytest.mark.parametrize("args", [("tickets", "list"), ("status",), ("process",), ("mailbox", "list")])
def test_no_database_appears_by_accident(bare_cli, workdir, args):
    before = sorted(os.listdir(workdir))
    result = bare_cli(*args)
    assert result.exit_code == 1
    assert sorted(os.listdir(workdir)) == before, "nothing was created"
    message = " ".join(result.stderr.split())
    assert message == (
        f"Error: There is no database at {workdir / 'ticketctl.db'} (the default, as no configuration file was "
        "found: no --config, $TICKETCTL_CONFIG or ./ticketctl.yaml); create it with `ticketctl init`, or run "
        "ticketctl where its configuration is."
    )
    assert "All healthy" not in result.stdout


def test_the_missing_database_names_the_setting_it_came_from(bare_cli, workdir):
    from_env = bare_cli("status", env={"TICKETCTL_DB": str(workdir / "elsewhere.db")})
    assert f"There is no database at {workdir / 'elsewhere.db'} (from $TICKETCTL_DB)" in from_env.stderr
    (workdir / "ticketctl.yaml").write_text("database: data/desk.db\n")
    from_file = bare_cli("status")
    assert "(from 'database' in ticketctl.yaml); create it with `ticketctl init`" in " ".join(from_file.stderr.split())
    (workdir / "ticketctl.yaml").write_text("log_level: info\n")
    defaulted = bare_cli("status")
    assert "(the default, as ticketctl.yaml sets no 'database')" in " ".join(defaulted.stderr.split())
    json_error = bare_cli("status", "--json")
    assert json.loads(json_error.stdout)["error"]["kind"] == "store"
    assert not (workdir / "ticketctl.db").exists() and not (workdir / "data").exists()


def test_a_key_given_twice_is_refused(cli, workdir):
    (workdir / "ticketctl.yaml").write_text(
        "outbox:\n  kind: smtp\n  from_address: a@example.com\n  smtp:\n    host: one\n    host: two\n"
    )
    nested = cli("status")
    assert nested.exit_code == 1
    assert "In ticketctl.yaml, 'outbox.smtp.host' is given twice (lines 5 and 6); keep one of them." in nested.stderr
    (workdir / "ticketctl.yaml").write_text("log_level: info\ndatabase: a.db\nlog_level: debug\n")
    top = cli("status")
    assert "'log_level' is given twice (lines 1 and 3)" in top.stderr


def add_type(cli, name, *addresses, active=True):
    to = [arg for address in addresses for arg in ("--email-to", address)]
    state = () if active else ("--inactive",)
    return cli("type", "add", name, *to, "--tag", name, "--mailbox", "local", *ADMIN, *state)


def test_two_active_types_cannot_share_an_address(cli, workdir):
    maildir(workdir)
    assert cli(*MAILDIR, "--no-check").exit_code == 0
    assert add_type(cli, "Support", "support@example.com", "help@example.com").exit_code == 0
    taken = add_type(cli, "Sales", "sales@example.com", "Help+urgent@Example.com")
    assert taken.exit_code == 1
    assert (
        "The address help+urgent@example.com is already read by the active ticket type 'Support' (as "
        "help@example.com); a new mail to it "
        "could become either type. Use another address, or set that type inactive first "
        "(`ticketctl type edit Support --inactive`)." in " ".join(taken.stderr.split())
    )
    assert json.loads(cli("type", "list", "--json").stdout)[0]["name"] == "Support"
    assert add_type(cli, "Sales", "help@example.com", active=False).exit_code == 0  # inactive: no conflict
    activated = cli("type", "edit", "Sales", "--active")
    assert activated.exit_code == 1 and "already read by the active ticket type 'Support'" in activated.stderr
    assert cli("type", "edit", "Support", "--inactive").exit_code == 0
    assert cli("type", "edit", "Sales", "--active").exit_code == 0
    moved = cli("type", "edit", "Sales", "--email-to", "sales@example.com")
    assert moved.exit_code == 0 and cli("type", "edit", "Support", "--active").exit_code == 0


def test_a_type_on_a_mailbox_that_does_not_exist_is_refused(cli):
    result = add_type(cli, "Support", "support@example.com")
    assert result.exit_code == 1
    assert (
        "Ticket type 'Support' names the mailbox 'local', which does not exist; add it first "
        "(`ticketctl mailbox add local …`) or pick one of `ticketctl mailbox list`." in " ".join(result.stderr.split())
    )
    assert json.loads(cli("type", "list", "--json").stdout) == []


def test_pop3_cannot_keep_processed_mail_in_a_folder(cli):
    result = cli(
        "mailbox", "add", "pop", "--kind", "pop3", "--host", "h.example.com", "--username", "u",
        "--password-env", "PW", "--processed-folder", "Done", "--no-check", env={"PW": "pw"},
    )  # fmt: skip
    assert result.exit_code == 1
    assert "POP3 has no folders to move processed mail to" in result.stderr
