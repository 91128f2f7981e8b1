"""End to end: an OAuth2 mailbox authorized through the fake Entra, whose token provider yields JWTs
that a real Dovecot accepts for XOAUTH2 over IMAP and POP3.

Needs the Dovecot harness (tests/servers/dovecot.py) and, for the source tests, the IMAP/POP3
sources (ticketctl/engine/sources/{imap,pop3}.py); both come from the sources work and are skipped
with a reason until they are merged.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import poplib

import pytest

from tests.servers.fake_entra import (
    CLIENT_ID,
    CLIENT_SECRET,
    DOVECOT_OAUTH2_CONF,
    TENANT,
    dovecot_hs256_keys,
    hs256_minter,
)
from ticketctl.engine import mailboxes, oauth
from ticketctl.engine.config import LimitsConfig

dovecot_harness = pytest.importorskip(
    "tests.servers.dovecot", reason="the Dovecot test harness (tests/servers/dovecot.py) is not here yet"
)

KEY = os.urandom(32)
KID = "entra1"
USER = "support@contoso.com"


def have_sources() -> bool:
    return all(
        importlib.util.find_spec(f"ticketctl.engine.sources.{kind}") is not None for kind in ("imap", "pop3")
    )


@pytest.fixture(scope="module")
def oauth_dovecot():
    server = dovecot_harness.Dovecot(
        {USER: os.urandom(8).hex(), "other@contoso.com": os.urandom(8).hex()},
        mechanisms="plain login xoauth2 oauthbearer",
        oauth2_conf=DOVECOT_OAUTH2_CONF,
        oauth2_keys=dovecot_hs256_keys(KEY, KID),
    ).start()
    yield server
    server.stop(fast=True)


@pytest.fixture
def jwt_entra(fake_entra):
    """The fake Entra handing out access tokens Dovecot validates with KEY."""
    fake_entra.mint = hs256_minter(KEY, kid=KID)
    return fake_entra


def authorized_mailbox(store, fake, server, kind: str, name: str):
    mailboxes.add(
        store,
        name=name,
        kind=kind,
        host="127.0.0.1",
        port=server.ports[kind],
        security="none",
        username=USER,
        auth="oauth2",
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_url="https://support.example.com/oauth",
    )
    request = oauth.authorize_url(store, name)
    oauth.exchange(store, name, redirect_url=fake.sign_in(request.url, USER))
    return mailboxes.get(store, name)


def pop3_xoauth2(pop: poplib.POP3, user: str, token: str) -> bytes:
    initial = base64.b64encode(oauth.xoauth2_string(user, token).encode()).decode()
    pop._putcmd("AUTH XOAUTH2 " + initial)
    line, _ = pop._getline()
    if line.startswith(b"+ "):  # a failure challenge: answer it empty to get the final -ERR
        pop._putcmd("")
        line, _ = pop._getline()
    return line


def test_provider_tokens_log_in_to_dovecot(store, jwt_entra, oauth_dovecot):
    from imapclient import IMAPClient

    mailbox = authorized_mailbox(store, jwt_entra, oauth_dovecot, "imap", "support")
    provide = oauth.token_provider(store, mailbox)
    with IMAPClient("127.0.0.1", port=oauth_dovecot.ports["imap"], ssl=False) as client:
        client.oauth2_login(USER, provide())
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    pop = poplib.POP3("127.0.0.1", oauth_dovecot.ports["pop3"])
    try:
        assert pop3_xoauth2(pop, USER, provide()).startswith(b"+OK")
    finally:
        pop.quit()


def test_dovecot_refuses_the_token_for_another_user(store, jwt_entra, oauth_dovecot):
    mailbox = authorized_mailbox(store, jwt_entra, oauth_dovecot, "pop3", "support")
    pop = poplib.POP3("127.0.0.1", oauth_dovecot.ports["pop3"])
    try:
        assert pop3_xoauth2(pop, "other@contoso.com", oauth.token_provider(store, mailbox)()).startswith(
            b"-ERR"
        )
    finally:
        pop.quit()


@pytest.mark.skipif(not have_sources(), reason="the IMAP/POP3 sources are not merged yet")
@pytest.mark.parametrize("kind", ["imap", "pop3"])
def test_open_source_lists_mail_with_oauth(store, jwt_entra, oauth_dovecot, kind):
    from ticketctl.engine.sources import open_source

    oauth_dovecot.deliver(USER, [f"Subject: oauth {kind}\r\nMessage-ID: <{kind}@t>\r\n\r\nhi\r\n".encode()])
    mailbox = authorized_mailbox(store, jwt_entra, oauth_dovecot, kind, "support-" + kind)
    before = mailbox.refresh_token
    source = open_source(mailbox, LimitsConfig(), oauth.token_provider(store, mailbox))
    try:
        assert len(source.list()) >= 1
    finally:
        source.abort()
    assert mailboxes.get(store, mailbox.name).refresh_token not in (None, before)  # rotated on login
