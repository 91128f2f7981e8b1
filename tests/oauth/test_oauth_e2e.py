"""End to end: an OAuth2 mailbox authorized through the fake Entra, whose token provider yields JWTs
that a real Dovecot accepts for XOAUTH2 over IMAP and POP3.

Needs the Dovecot harness (tests/servers/dovecot.py) and, for the source tests, the IMAP/POP3
sources (ticketctl/engine/sources/{imap,pop3}.py); both come from the sources work and are skipped
with a reason until they are merged.
"""

from __future__ import annotations

import base64
import poplib

import pytest

from tests.pipeline.helpers import add_question_type
from tests.servers.dovecot import ISSUER
from tests.servers.fake_entra import (
    CLIENT_ID,
    CLIENT_SECRET,
    TENANT,
    hs256_minter,
)
from ticketctl.engine.admin import mailboxes
from ticketctl.engine.oauth import microsoft as oauth
from ticketctl.engine.oauth.tokens import token_source


@pytest.fixture
def jwt_entra(fake_entra, dovecot):
    """The fake Entra handing out access tokens the session Dovecot validates."""
    fake_entra.mint = hs256_minter(dovecot.hs_key, issuer=ISSUER, kid="hs1")
    return fake_entra


def authorized_mailbox(store, fake, server, user, kind: str, name: str):
    mailboxes.add(
        store,
        name=name,
        kind=kind,
        host="127.0.0.1",
        port=server.ports[kind],
        security="none",
        username=user,
        auth="oauth2",
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_url="https://support.example.com/oauth",
    )
    request = oauth.authorize_url(store, name)
    oauth.exchange(store, name, redirect_url=fake.sign_in(request.url, user))
    return mailboxes.get(store, name)


def pop3_xoauth2(pop: poplib.POP3, user: str, token: str) -> bytes:
    initial = base64.b64encode(oauth.xoauth2_string(user, token).encode()).decode()
    pop._putcmd("AUTH XOAUTH2 " + initial)
    line, _ = pop._getline()
    if line.startswith(b"+ "):  # a failure challenge: answer it empty to get the final -ERR
        pop._putcmd("")
        line, _ = pop._getline()
    return line


def test_provider_tokens_log_in_to_dovecot(store, jwt_entra, dovecot, mail_user):
    from imapclient import IMAPClient

    mailbox = authorized_mailbox(store, jwt_entra, dovecot, mail_user.name, "imap", "support")
    provide = token_source(store, mailbox)
    with IMAPClient("127.0.0.1", port=dovecot.ports["imap"], ssl=False) as client:
        client.oauth2_login(mail_user.name, provide())
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    pop = poplib.POP3("127.0.0.1", dovecot.ports["pop3"])
    try:
        assert pop3_xoauth2(pop, mail_user.name, provide()).startswith(b"+OK")
    finally:
        pop.quit()


def test_dovecot_refuses_the_token_for_another_user(store, jwt_entra, dovecot, mail_user):
    mailbox = authorized_mailbox(store, jwt_entra, dovecot, mail_user.name, "pop3", "support")
    pop = poplib.POP3("127.0.0.1", dovecot.ports["pop3"])
    try:
        assert pop3_xoauth2(pop, "bob", token_source(store, mailbox)()).startswith(b"-ERR")
    finally:
        pop.quit()


@pytest.mark.parametrize("kind", ["imap", "pop3"])
def test_process_reads_an_oauth_mailbox(cli, store, jwt_entra, dovecot, mail_user, kind):
    """`ticketctl process` refreshes the token (rotating it), logs in with XOAUTH2 and takes the mail."""
    dovecot.deliver(
        mail_user.name,
        [
            f"From: c@customer.example\r\nTo: support@contoso.com\r\nSubject: oauth {kind}\r\n"
            f"Message-ID: <{kind}@t>\r\n\r\nhi\r\n".encode()
        ],
    )
    mailbox = authorized_mailbox(store, jwt_entra, dovecot, mail_user.name, kind, "support-" + kind)
    add_question_type(store, mailbox.name, domain="contoso.com")
    before = mailbox.refresh_token.reveal()
    result = cli("--debug", "process")
    assert result.exit_code == 0, result.stderr
    for secret in [*jwt_entra.issued, CLIENT_SECRET]:
        assert secret not in result.stdout + result.stderr, "a token or secret reached the output"
    assert " DEBUG " in result.stderr, "the debug log should be part of what is checked"
    assert f"support-{kind}: 1 message(s): 1 new_ticket" in result.stdout
    assert dovecot.count(mail_user.name) == 0
    assert mailboxes.get(store, mailbox.name).refresh_token.reveal() not in (None, before)  # rotated on login
    assert before not in result.stdout + result.stderr


def test_process_skips_a_mailbox_whose_grant_was_revoked(cli, store, jwt_entra, dovecot, mail_user):
    mailbox = authorized_mailbox(store, jwt_entra, dovecot, mail_user.name, "imap", "support")
    add_question_type(store, mailbox.name, domain="contoso.com")
    jwt_entra.revoke(mail_user.name)
    result = cli("process")
    assert result.exit_code == 1
    assert "ticketctl oauth url support" in result.stderr
