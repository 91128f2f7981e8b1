"""What `mailbox add/edit` refuses: a processed folder that is a path, and a login in the clear to
another machine unless asked; and that the Maildir folders we make are private."""

from __future__ import annotations

import os

import pytest

from tests.pipeline.helpers import deliver, mail, setup_support


def add(cli, *extra, host="imap.example.com", security="none"):
    return cli(
        "mailbox", "add", "box", "--host", host, "--username", "u", "--security", security,
        "--password-env", "PW", *extra, env={"PW": "a-password"},
    )  # fmt: skip


@pytest.mark.parametrize("folder", ["../../etc", "a/b", "..", "Done\\x", "bad\x1bname", " "])
def test_a_processed_folder_must_be_one_name(cli, folder):
    result = add(cli, "--processed-folder", folder, security="ssl")
    assert result.exit_code == 1
    assert "is not a folder name; give one name without '/', '\\', '..' or control characters" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_processed_folder_name_is_accepted(cli):
    assert add(cli, "--processed-folder", "Processed.2026", security="ssl").exit_code == 0


def test_a_cleartext_login_to_another_host_needs_allow_cleartext(cli):
    refused = add(cli)
    assert refused.exit_code == 1
    assert (
        "With --security none, the password would cross the network to imap.example.com unencrypted; "
        "use --security ssl or starttls, or add --allow-cleartext if the network is trusted." in refused.stderr
    )
    assert add(cli, "--allow-cleartext").exit_code == 0
    # the choice is kept: later edits need not repeat it, and it can be taken back
    assert cli("mailbox", "edit", "box", "--folder", "Support").exit_code == 0
    assert cli("mailbox", "edit", "box", "--no-allow-cleartext").exit_code == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.1.1"])
def test_a_cleartext_login_to_this_machine_is_fine(cli, host):
    assert add(cli, host=host).exit_code == 0


def test_an_oauth2_token_in_the_clear_is_refused_too(cli):
    result = cli(
        "mailbox", "add", "m365", "--host", "outlook.office365.com", "--port", "143", "--security", "none",
        "--username", "u@contoso.com", "--auth", "oauth2", "--tenant-id", "t", "--client-id", "c",
        "--client-secret-env", "CS", "--redirect-url", "https://support.example.com/oauth", env={"CS": "x"},
    )  # fmt: skip
    assert result.exit_code == 1
    assert "an OAuth2 token would cross the network to outlook.office365.com unencrypted" in result.stderr


def test_maildir_processed_folders_are_created_private(cli, store, workdir):
    maildir = workdir / "mail"
    setup_support(store, maildir)
    assert cli("mailbox", "edit", "local", "--processed-folder", "Done").exit_code == 0
    old = os.umask(0o022)
    try:
        deliver(maildir, mail())
        result = cli("process")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.stderr
    for folder in ("", "cur", "new", "tmp"):
        assert (maildir / ".Done" / folder).stat().st_mode & 0o777 == 0o700
    assert len(os.listdir(maildir / ".Done" / "cur")) == 1
