"""`ticketctl mailbox test NAME`: what waits, or one sentence per kind of failure, exit 1."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.servers.dovecot import ISSUER, free_port, make_message
from tests.servers.fake_entra import CLIENT_ID, CLIENT_SECRET, TENANT, hs256_minter
from tests.servers.fixtures import cli_add_args, mailbox_fields


def add_and_test(cli, fields):
    args, env = cli_add_args(fields)
    added = cli(*args, env=env)
    assert added.exit_code == 0, added.stderr
    return cli("mailbox", "test", fields["name"])


def assert_one_sentence(result, *fragments):
    assert result.exit_code == 1, result.stdout
    message = " ".join(result.stderr.split())
    assert message.startswith("Error: Mailbox '")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(("kind", "security"), [("imap", "ssl"), ("imap", "starttls"), ("pop3", "ssl")])
def test_reports_count_and_total_size(cli, dovecot, mail_user, kind, security):
    sent = [make_message("one"), make_message("two", body_lines=200)]
    dovecot.deliver(mail_user.name, sent)
    result = add_and_test(cli, mailbox_fields(dovecot, mail_user, kind, security))
    assert result.exit_code == 0, result.stderr
    size = sum(map(len, sent)) / 1024
    assert f"is reachable: 2 message(s) waiting, {size:.1f} KB in all." in result.stdout
    assert dovecot.count(mail_user.name) == 2  # a test changes nothing


@pytest.mark.parametrize("kind", ["imap", "pop3"])
def test_wrong_password(cli, dovecot, mail_user, kind):
    fields = mailbox_fields(dovecot, mail_user, kind, "ssl", password="not-the-password")
    result = add_and_test(cli, fields)
    assert_one_sentence(result, f"the server refused the login for '{mail_user.name}'", "--ask-password")
    assert "not-the-password" not in result.stdout + result.stderr


def test_wrong_port(cli, dovecot, mail_user):
    result = add_and_test(cli, mailbox_fields(dovecot, mail_user, "imap", "ssl", port=free_port()))
    assert_one_sentence(result, "nothing accepts connections at localhost:", "check the port and security")


def test_implicit_tls_against_a_plain_port(cli, dovecot, mail_user):
    fields = mailbox_fields(dovecot, mail_user, "imap", "ssl", port=dovecot.ports["imap"])
    assert_one_sentence(add_and_test(cli, fields), "the TLS handshake with", "check that the security matches the port")


@pytest.mark.parametrize("kind", ["imap", "pop3"])
def test_self_signed_certificate_with_verification_on(cli, dovecot, mail_user, kind):
    fields = mailbox_fields(dovecot, mail_user, kind, "ssl", ca_file=None)
    result = add_and_test(cli, fields)
    assert_one_sentence(result, "could not be verified (self-signed certificate)", "--ca-file")


def test_self_signed_certificate_accepted_when_verification_is_off(cli, dovecot, mail_user):
    fields = mailbox_fields(dovecot, mail_user, "imap", "starttls", ca_file=None, verify_tls=False)
    assert add_and_test(cli, fields).exit_code == 0


def test_certificate_for_another_name(cli, dovecot, mail_user):
    fields = mailbox_fields(dovecot, mail_user, "pop3", "starttls", host="127.0.0.1")
    result = add_and_test(cli, fields)
    assert_one_sentence(result, "certificate is not valid for the name '127.0.0.1'")


def test_unknown_host(cli, dovecot, mail_user):
    result = add_and_test(cli, mailbox_fields(dovecot, mail_user, "imap", "ssl", host="no-such-host.invalid"))
    assert_one_sentence(result, "the host 'no-such-host.invalid' cannot be found", "--host")


def test_missing_folder(cli, dovecot, mail_user):
    result = add_and_test(cli, mailbox_fields(dovecot, mail_user, "imap", "ssl", folder="Nirgendwo"))
    assert_one_sentence(result, "the folder 'Nirgendwo' does not exist", "--folder")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.mark.parametrize("kind", ["imap", "pop3"])
def test_timeout(cli, workdir, dovecot, mail_user, silent_server, kind):
    (workdir / "ticketctl.yaml").write_text("limits:\n  connect_timeout: 0.3\n  read_timeout: 0.3\n")
    fields = mailbox_fields(dovecot, mail_user, kind, "none", port=silent_server)
    result = add_and_test(cli, fields)
    assert_one_sentence(result, "did not answer within 0.3 seconds", "connect_timeout")


def add_authorized_and_test(cli, fake, fields):
    """Add the OAuth2 mailbox, sign it in through the fake Entra with the real commands, then test it."""
    from tests.oauth.test_oauth_cli import url_from

    fields = {**fields, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "tenant_id": TENANT}
    args, env = cli_add_args(fields)
    assert cli(*args, env=env).exit_code == 0
    shown = cli("oauth", "url", fields["name"])
    assert shown.exit_code == 0, shown.stderr
    landed = fake.sign_in(url_from(shown.stdout), fields["username"])
    assert cli("oauth", "exchange", fields["name"], "--redirect-url", landed).exit_code == 0
    return cli("mailbox", "test", fields["name"])


@pytest.fixture
def token_for(fake_entra, dovecot):
    """The fake Entra hands out JWTs the session Dovecot validates, living `ttl` seconds (< 0: expired)."""

    def use(ttl):
        minter = hs256_minter(dovecot.hs_key, issuer=ISSUER, kid="hs1")
        fake_entra.mint = lambda user, _expires_in: minter(user, ttl)
        return fake_entra

    return use


@pytest.mark.parametrize("kind", ["imap", "pop3"])
def test_good_token(cli, dovecot, mail_user, token_for, kind):
    fake = token_for(ttl=300)
    result = add_authorized_and_test(cli, fake, mailbox_fields(dovecot, mail_user, kind, "ssl", "oauth2"))
    assert result.exit_code == 0, result.stderr
    assert "0 message(s) waiting" in result.stdout


@pytest.mark.parametrize("kind", ["imap", "pop3"])
def test_expired_token(cli, dovecot, mail_user, token_for, kind):
    fake = token_for(ttl=-60)
    result = add_authorized_and_test(cli, fake, mailbox_fields(dovecot, mail_user, kind, "ssl", "oauth2"))
    assert_one_sentence(result, "refused the OAuth2 access token", "sign the mailbox in again")


@pytest.mark.parametrize(("kind", "other"), [("imap", "pop3"), ("pop3", "imap")])
def test_port_of_the_other_protocol(cli, dovecot, mail_user, kind, other):
    fields = mailbox_fields(dovecot, mail_user, kind, "none", port=dovecot.ports[other])
    result = add_and_test(cli, fields)
    assert_one_sentence(result, f"does not answer like {'an IMAP' if kind == 'imap' else 'a POP3'} server")


@pytest.mark.parametrize("via", ["env", "stdin"])
def test_an_existing_refresh_token_can_be_brought_along(cli, store, dovecot, mail_user, token_for, via):
    """Admins moving from another system have a refresh token: `mailbox add` takes it (never as an
    argument), and the mailbox works without `oauth url`/`oauth exchange`."""
    from ticketctl.engine.admin import mailboxes

    fake = token_for(ttl=300)
    fake.refresh_tokens["rt-from-the-old-system"] = mail_user.name
    dovecot.deliver(mail_user.name, [make_message("waiting")])
    fields = {**mailbox_fields(dovecot, mail_user, "imap", "ssl", "oauth2"), "client_id": CLIENT_ID,
              "client_secret": CLIENT_SECRET, "tenant_id": TENANT}  # fmt: skip
    args, env = cli_add_args(fields)
    if via == "env":
        added = cli(*args, "--refresh-token-env", "OLD_RT", env={**env, "OLD_RT": "rt-from-the-old-system"})
    else:
        added = cli(*args, "--refresh-token-stdin", input="rt-from-the-old-system\n", env=env)
    assert added.exit_code == 0, added.stderr
    assert "is reachable: 1 message(s) waiting" in added.stdout
    stored = mailboxes.get(store, fields["name"])
    assert stored.refresh_token is not None
    rotated = stored.refresh_token.reveal()  # the check's refresh rotated the token brought along
    assert rotated in fake.refresh_tokens and rotated != "rt-from-the-old-system"
    assert stored.refresh_token_issued_at
    assert "rt-from-the-old-system" not in added.stdout + added.stderr
    assert cli("mailbox", "test", fields["name"]).exit_code == 0


def test_a_refresh_token_is_never_an_argument_nor_for_a_password_mailbox(cli, dovecot, mail_user):
    args, env = cli_add_args(mailbox_fields(dovecot, mail_user, "imap", "ssl"))
    as_argument = cli(*args, "--refresh-token", "rt", env=env)
    assert as_argument.exit_code == 2 and "No such option: --refresh-token" in as_argument.stderr
    wrong = cli(*args, "--refresh-token-env", "RT", env={**env, "RT": "rt"})
    assert wrong.exit_code == 1 and "A refresh token belongs to an OAuth2 mailbox" in wrong.stderr
