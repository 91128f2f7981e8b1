"""`ticketctl oauth ...` through the CLI, against the fake Entra; secrets stay out of every output."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from tests.servers.fake_entra import CLIENT_ID, CLIENT_SECRET, TENANT
from ticketctl.engine.admin import mailboxes

REDIRECT = "https://support.example.com/oauth"
USER = "support@contoso.com"


def add_mailbox(cli, name="support", expires=None, debug=False, kind="imap"):
    expires = expires or (datetime.now(UTC) + timedelta(days=400)).strftime("%Y-%m-%d")
    args = ["--debug"] if debug else []
    result = cli(
        *args,
        "mailbox",
        "add",
        name,
        "--kind",
        kind,
        "--host",
        "outlook.office365.com",
        "--username",
        USER,
        "--auth",
        "oauth2",
        "--tenant-id",
        TENANT,
        "--client-id",
        CLIENT_ID,
        "--client-secret-env",
        "CS",
        "--client-secret-expires",
        expires,
        "--redirect-url",
        REDIRECT,
        env={"CS": CLIENT_SECRET},
    )
    assert result.exit_code == 0, result.stderr
    return result


def url_from(output):
    return next(line for line in output.splitlines() if line.startswith("https://login.microsoftonline.com/"))


def authorize(cli, fake, name="support", debug=False):
    args = ["--debug"] if debug else []
    shown = cli(*args, "oauth", "url", name)
    assert shown.exit_code == 0, shown.stderr
    landed = fake.sign_in(url_from(shown.stdout), USER)
    done = cli(*args, "oauth", "exchange", name, "--redirect-url", landed)
    assert done.exit_code == 0, done.stderr
    return shown, done


def test_url_prints_the_url_and_the_next_step(cli, fake_entra):
    add_mailbox(cli)
    result = cli("oauth", "url", "support")
    assert result.exit_code == 0
    assert f"sign in as {USER}" in result.stdout
    assert url_from(result.stdout).startswith(f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize?")
    assert "ticketctl oauth exchange support --redirect-url 'ADDRESS'" in result.stdout


def test_exchange_then_status_and_refresh(cli, fake_entra, store):
    add_mailbox(cli)
    _shown, done = authorize(cli, fake_entra)
    assert f"Mailbox 'support' is authorized as {USER}." in done.stdout
    assert "90 days from its last use" in done.stdout
    first = mailboxes.get(store, "support").refresh_token.reveal()
    assert first == fake_entra.issued[-1]

    status = cli("oauth", "status", "--json")
    assert status.exit_code == 0, status.stderr
    (entry,) = json.loads(status.stdout)
    assert entry["mailbox"] == "support" and entry["authorized"] is True
    assert entry["refresh_token_age_days"] == 0 and entry["refresh_token_days_left"] in (89, 90)
    assert entry["client_secret_days_left"] in (399, 400) and entry["problems"] == []

    refreshed = cli("oauth", "refresh", "support")
    assert refreshed.exit_code == 0, refreshed.stderr
    assert "The refresh token of 'support' lasts until" in refreshed.stdout
    assert mailboxes.get(store, "support").refresh_token.reveal() not in (None, first)


def test_exchange_needs_an_answer(cli, fake_entra):
    add_mailbox(cli)
    cli("oauth", "url", "support")
    result = cli("oauth", "exchange", "support")
    assert result.exit_code == 1
    assert "Give either --redirect-url" in result.stderr


def test_status_exits_1_when_the_client_secret_ends_within_30_days(cli, fake_entra):
    soon = (datetime.now(UTC) + timedelta(days=12)).strftime("%Y-%m-%d")
    add_mailbox(cli, expires=soon)
    authorize(cli, fake_entra)
    result = cli("oauth", "status")
    assert result.exit_code == 1
    assert f"client secret of mailbox 'support' expires on {soon}" in result.stderr
    assert "--client-secret-stdin" in result.stderr
    assert "days left" in result.stdout


def test_status_warns_about_an_unused_refresh_token(cli, fake_entra, store):
    add_mailbox(cli)
    authorize(cli, fake_entra)
    old = (datetime.now(UTC) - timedelta(days=70)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with store.transaction() as conn:
        conn.execute("UPDATE mailboxes SET refresh_token_issued_at = ?", (old,))
    result = cli("oauth", "status", "support")
    assert result.exit_code == 1
    assert "has not been used for 70 days" in result.stderr and "oauth refresh support" in result.stderr


def test_status_of_an_unauthorized_mailbox(cli, fake_entra):
    add_mailbox(cli)
    result = cli("oauth", "status")
    assert result.exit_code == 1
    assert "not authorized" in result.stdout
    assert "Mailbox 'support' is not authorized yet; run `ticketctl oauth url support`" in result.stderr


def test_status_without_oauth_mailboxes(cli):
    result = cli("oauth", "status")
    assert result.exit_code == 0 and "No mailbox uses OAuth2." in result.stdout


def test_revoked_token_is_one_sentence_on_stderr(cli, fake_entra):
    add_mailbox(cli)
    authorize(cli, fake_entra)
    fake_entra.revoke(USER)
    result = cli("oauth", "refresh", "support")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Microsoft refused the stored refresh token of mailbox 'support'")
    assert "oauth url support" in result.stderr and "Traceback" not in result.stderr


def test_oauth_on_a_password_mailbox(cli, fake_entra):
    cli("mailbox", "add", "plain", "--host", "h", "--username", "u", "--password-env", "PW", env={"PW": "x"})
    result = cli("oauth", "url", "plain")
    assert result.exit_code == 1 and "logs in with a password, not OAuth2" in result.stderr


@pytest.fixture
def all_logs():
    """Every record from ticketctl, MSAL and urllib3, whatever the CLI does to the root logger."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep(level=logging.DEBUG)
    names = ("ticketctl", "msal", "urllib3", "requests")
    for name in names:
        logging.getLogger(name).addHandler(handler)
    yield records
    for name in names:
        logging.getLogger(name).removeHandler(handler)


def test_no_secret_or_token_in_any_output(cli, fake_entra, store, all_logs):
    outputs = [add_mailbox(cli, debug=True), add_mailbox(cli, "pop", debug=True, kind="pop3")]
    for name in ("support", "pop"):
        outputs += authorize(cli, fake_entra, name, debug=True)
    outputs.append(cli("--debug", "oauth", "url", "support"))  # leaves a pending PKCE flow
    verifier = json.loads(mailboxes.get(store, "support").oauth_state.reveal())["code_verifier"]
    for args in (
        ("oauth", "refresh", "support"),
        ("oauth", "status"),
        ("oauth", "status", "--json"),
        ("oauth", "status", "pop"),
        ("mailbox", "show", "support"),
        ("mailbox", "show", "support", "--json"),
        ("mailbox", "list"),
        ("mailbox", "list", "--json"),
    ):
        outputs.append(cli("--debug", *args))
        assert outputs[-1].exit_code == 0, (args, outputs[-1].stderr)
    fake_entra.revoke(USER)
    outputs.append(cli("--debug", "oauth", "refresh", "pop"))  # the failure path
    assert outputs[-1].exit_code == 1
    fake_entra.client_secret = "rotated-in-azure"
    outputs.append(cli("--debug", "oauth", "refresh", "support"))  # invalid_client
    assert outputs[-1].exit_code == 1

    everything = "\n".join([r.stdout + r.stderr for r in outputs] + all_logs)
    assert "DEBUG" in everything  # the debug logs really were captured
    secrets = [CLIENT_SECRET, verifier, *fake_entra.issued]
    assert len(fake_entra.issued) >= 6
    leaked = [s for s in secrets if s in everything]
    assert leaked == []


def test_url_exchange_and_refresh_answer_json_without_a_secret(cli, fake_entra, store):
    add_mailbox(cli)
    asked = json.loads(cli("oauth", "url", "support", "--json").stdout)
    assert asked["mailbox"] == "support" and asked["url"].startswith("https://login.microsoftonline.com/")
    landed = fake_entra.sign_in(asked["url"], USER)
    exchanged = cli("oauth", "exchange", "support", "--redirect-url", landed, "--json")
    assert exchanged.exit_code == 0, exchanged.stderr
    grant = json.loads(exchanged.stdout)
    assert (grant["mailbox"], grant["account"]) == ("support", USER) and grant["refresh_token_expires_at"]
    refreshed = cli("oauth", "refresh", "support", "--json")
    assert json.loads(refreshed.stdout)["mailbox"] == "support"
    for out in (exchanged.stdout, refreshed.stdout):
        assert not any(token in out for token in fake_entra.issued) and CLIENT_SECRET not in out
