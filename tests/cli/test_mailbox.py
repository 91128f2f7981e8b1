"""`ticketctl mailbox`: add, list, show, edit, remove, refusals, secrets never printed."""

import json
import os
import stat

from ticketctl.engine.store import mailboxes

SECRET = "s3cr3t-Pa55w0rd"


def revealed(store, name, field):
    return getattr(mailboxes.get(store, name), field).reveal()


def add_imap(cli, name="support", *extra):
    return cli(
        "mailbox",
        "add",
        name,
        "--kind",
        "imap",
        "--host",
        "imap.example.com",
        "--username",
        "support@example.com",
        "--password-env",
        "MBPW",
        *extra,
        env={"MBPW": SECRET},
    )


def test_add_list_show_and_masking(cli, store):
    result = add_imap(cli)
    assert result.exit_code == 0, result.stderr
    assert "Added mailbox 'support' (imap)." in result.stdout
    row = store.one("SELECT * FROM mailboxes WHERE name = 'support'")
    assert (row["host"], row["port"], row["security"]) == ("imap.example.com", 993, "ssl")
    assert row["password"].startswith("sealed:") and SECRET not in row["password"]
    assert revealed(store, "support", "password") == SECRET

    for args in (
        ("mailbox", "list"),
        ("mailbox", "list", "--json"),
        ("mailbox", "show", "support"),
        ("mailbox", "show", "support", "--json"),
        ("--debug", "mailbox", "show", "support"),
    ):
        out = cli(*args)
        assert out.exit_code == 0
        assert SECRET not in out.stdout + out.stderr
    shown = json.loads(cli("mailbox", "show", "support", "--json").stdout)
    assert shown["password"] == "********"
    assert shown["port"] == 993


def test_password_from_stdin_and_default_ports(cli, store):
    result = cli(
        "mailbox",
        "add",
        "pop",
        "--kind",
        "pop3",
        "--security",
        "starttls",
        "--host",
        "mail.example.com",
        "--username",
        "u",
        "--password-stdin",
        input="pw-from-stdin\n",
    )
    assert result.exit_code == 0, result.stderr
    row = store.one("SELECT port FROM mailboxes WHERE name = 'pop'")
    assert (row["port"], revealed(store, "pop", "password")) == (110, "pw-from-stdin")


def test_password_is_required_without_a_terminal(cli):
    result = cli("mailbox", "add", "x", "--host", "h.example.com", "--username", "u")
    assert result.exit_code == 1
    assert "--password-env VAR" in result.stderr


def test_maildir_mailbox(cli, workdir):
    result = cli("mailbox", "add", "local", "--kind", "maildir", "--path", "mail")
    assert result.exit_code == 0
    shown = json.loads(cli("mailbox", "show", "local", "--json").stdout)
    assert shown["maildir_path"] == str(workdir / "mail")


def test_edit_changes_only_given_fields(cli, store):
    add_imap(cli)
    result = cli("mailbox", "edit", "support", "--port", "1993", "--processed-folder", "Done", "--no-verify-tls")
    assert result.exit_code == 0, result.stderr
    row = store.one("SELECT * FROM mailboxes WHERE name = 'support'")
    assert (row["port"], row["processed_folder"], row["verify_tls"]) == (1993, "Done", 0)
    assert revealed(store, "support", "password") == SECRET
    assert cli("mailbox", "edit", "support", "--name", "helpdesk").exit_code == 0
    assert cli("mailbox", "show", "helpdesk").exit_code == 0


def test_refusals(cli):
    add_imap(cli)
    dup = add_imap(cli)
    assert dup.exit_code == 1
    assert "A mailbox named 'support' already exists" in dup.stderr
    bad_port = add_imap(cli, "other", "--port", "70000")
    assert bad_port.exit_code == 1
    assert "Port 70000 is not valid" in bad_port.stderr
    bad_kind = cli(
        "mailbox",
        "add",
        "k",
        "--kind",
        "smtp",
        "--host",
        "h",
        "--username",
        "u",
        "--password-env",
        "MBPW",
        env={"MBPW": "x"},
    )
    assert bad_kind.exit_code == 2  # a usage error, found before anything else is done
    assert "Invalid value for '--kind'" in bad_kind.stderr and "'smtp' is not one of" in bad_kind.stderr
    missing = cli("mailbox", "show", "nope")
    assert missing.exit_code == 1
    assert (
        missing.stderr.strip() == "Error: There is no mailbox named 'nope'; `ticketctl mailbox list` shows the names."
    )
    usage = cli("mailbox", "add")
    assert usage.exit_code == 2
    assert "Traceback" not in usage.stderr


def test_oauth_mailbox_needs_its_fields(cli):
    result = cli(
        "mailbox",
        "add",
        "o365",
        "--host",
        "outlook.office365.com",
        "--username",
        "u@contoso.com",
        "--auth",
        "oauth2",
        "--client-secret-env",
        "CS",
        env={"CS": "cs"},
    )
    assert result.exit_code == 1
    assert "--tenant-id, --client-id, --redirect-url" in result.stderr


def test_remove_unused_and_refuse_used(cli, store):
    add_imap(cli)
    add_imap(cli, "spare")
    cli(
        "type",
        "add",
        "Support",
        "--email-to",
        "support@example.com",
        "--tag",
        "Support",
        "--mailbox",
        "support",
        "--admin-email",
        "lead@example.com",
    )
    refused = cli("mailbox", "remove", "support")
    assert refused.exit_code == 1
    assert "Mailbox 'support' is used by ticket type(s) 'Support'" in refused.stderr
    assert store.one("SELECT 1 FROM mailboxes WHERE name = 'support'")
    assert cli("mailbox", "remove", "spare", "--yes").exit_code == 0
    assert store.one("SELECT 1 FROM mailboxes WHERE name = 'spare'") is None


def test_database_and_data_dir_are_private(cli, workdir):
    assert cli("init").exit_code == 0
    assert stat.S_IMODE(os.stat(workdir / "ticketctl.db").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(workdir / "ticketctl-data").st_mode) == 0o700
