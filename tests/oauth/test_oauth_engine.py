"""The OAuth2 engine driven through MSAL against a fake Entra: what is sent, what is stored, what fails."""

from __future__ import annotations

import json
import sqlite3
from urllib.parse import parse_qs, urlparse

import pytest

from tests.servers.fake_entra import CLIENT_ID, CLIENT_SECRET, TENANT
from ticketctl.engine.admin import mailboxes
from ticketctl.engine.errors import ConfigError, MailboxAuthError
from ticketctl.engine.oauth import microsoft as oauth
from ticketctl.engine.oauth.tokens import token_source
from ticketctl.engine.store import mailboxes as mailbox_table
from ticketctl.engine.store import secrets
from ticketctl.engine.store.secrets import Secret

REDIRECT = "https://support.example.com/oauth"


def add_box(store, name="support", user="support@contoso.com", **extra):
    fields = dict(
        name=name,
        kind="imap",
        host="outlook.office365.com",
        username=user,
        auth="oauth2",
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_url=REDIRECT,
    )
    return mailboxes.add(store, **{**fields, **extra})


def sign_in(store, fake, name="support", user="support@contoso.com"):
    request = oauth.authorize_url(store, name)
    return oauth.exchange(store, name, redirect_url=fake.sign_in(request.url, user))


class Clock:
    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def committed(store, name):
    """The mailbox row as another connection sees it: only what was committed."""
    conn = sqlite3.connect(store.path)
    conn.row_factory = sqlite3.Row
    try:
        row = dict(conn.execute("SELECT * FROM mailboxes WHERE name = ?", (name,)).fetchone())
    finally:
        conn.close()
    for key in mailbox_table.SECRETS:  # stored sealed; the tests read what they hold
        if row[key] is not None:
            assert row[key].startswith("sealed:"), (key, row[key])
            row[key] = Secret(row[key], key, secrets.keys(store)).reveal()
    return row


def test_authorize_url_asks_for_mail_scopes_and_keeps_a_pkce_flow(store, fake_entra):
    add_box(store)
    request = oauth.authorize_url(store, "support")
    url = urlparse(request.url)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.netloc == "login.microsoftonline.com"
    assert url.path == f"/{TENANT}/oauth2/v2.0/authorize"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT
    assert query["response_mode"] == "query"
    assert query["login_hint"] == "support@contoso.com"
    assert query["code_challenge_method"] == "S256"
    assert set(query["scope"].split()) == {
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "https://outlook.office.com/POP.AccessAsUser.All",
        "https://outlook.office.com/SMTP.Send",
        "offline_access",
        "openid",
        "profile",
    }
    stored = json.loads(committed(store, "support")["oauth_state"])
    assert stored["state"] == query["state"] and len(stored["state"]) >= 24
    assert stored["code_verifier"] not in request.url
    assert request.username == "support@contoso.com" and request.redirect_url == REDIRECT


def test_each_authorize_url_gets_a_new_state(store, fake_entra):
    add_box(store)
    first = parse_qs(urlparse(oauth.authorize_url(store, "support").url).query)["state"]
    second = parse_qs(urlparse(oauth.authorize_url(store, "support").url).query)["state"]
    assert first != second


def test_exchange_stores_refresh_token_and_expiries(store, fake_entra):
    add_box(store)
    clock = Clock()
    landed = fake_entra.sign_in(oauth.authorize_url(store, "support").url, "support@contoso.com")
    grant = oauth.exchange(store, "support", redirect_url=landed, clock=clock)
    row = committed(store, "support")
    assert row["refresh_token"] == fake_entra.issued[-1]
    assert row["refresh_token_issued_at"] == "2027-01-15T08:00:00Z"
    assert row["access_token_expires_at"] == "2027-01-15T08:59:59Z"
    assert row["oauth_state"] is None
    assert grant.account == "support@contoso.com"
    assert grant.refresh_token_expires_at == "2027-04-15T08:00:00Z"  # 90 days
    token_post = fake_entra.posts()[-1]
    assert token_post["grant_type"] == "authorization_code" and token_post["code_verifier"]


def test_exchange_with_code_only(store, fake_entra):
    add_box(store)
    landed = fake_entra.sign_in(oauth.authorize_url(store, "support").url, "support@contoso.com")
    code = parse_qs(urlparse(landed).query)["code"][0]
    oauth.exchange(store, "support", code=code)
    assert committed(store, "support")["refresh_token"] == fake_entra.issued[-1]


def test_exchange_refuses_a_foreign_state_and_stores_nothing(store, fake_entra):
    add_box(store)
    landed = fake_entra.sign_in(oauth.authorize_url(store, "support").url, "support@contoso.com")
    forged = landed.replace("state=", "state=x")
    with pytest.raises(MailboxAuthError, match="does not match.*oauth url support"):
        oauth.exchange(store, "support", redirect_url=forged)
    assert committed(store, "support")["refresh_token"] is None
    assert fake_entra.posts() == []


def test_exchange_refuses_an_answer_without_state(store, fake_entra):
    add_box(store)
    landed = fake_entra.sign_in(oauth.authorize_url(store, "support").url, "support@contoso.com")
    code = parse_qs(urlparse(landed).query)["code"][0]
    with pytest.raises(MailboxAuthError, match="state"):
        oauth.exchange(store, "support", redirect_url=f"{REDIRECT}?code={code}")


def test_a_url_works_once(store, fake_entra):
    add_box(store)
    landed = fake_entra.sign_in(oauth.authorize_url(store, "support").url, "support@contoso.com")
    oauth.exchange(store, "support", redirect_url=landed)
    with pytest.raises(MailboxAuthError, match="No sign-in is pending.*oauth url support"):
        oauth.exchange(store, "support", redirect_url=landed)


def test_used_code_is_invalid_grant_with_advice(store, fake_entra):
    add_box(store)
    landed = fake_entra.sign_in(oauth.authorize_url(store, "support").url, "support@contoso.com")
    fake_entra.codes.clear()  # the code expired at Microsoft
    with pytest.raises(MailboxAuthError, match=r"refused the sign-in code.*AADSTS70008.*oauth url support"):
        oauth.exchange(store, "support", redirect_url=landed)
    assert committed(store, "support")["refresh_token"] is None


def test_sign_in_error_in_redirect_is_a_sentence(store, fake_entra):
    add_box(store)
    oauth.authorize_url(store, "support")
    landed = f"{REDIRECT}?error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent."
    with pytest.raises(MailboxAuthError, match="sign-in for mailbox 'support' failed.*User declined"):
        oauth.exchange(store, "support", redirect_url=landed)


def test_exchange_needs_exactly_one_answer(store, fake_entra):
    add_box(store)
    with pytest.raises(ConfigError, match="either --redirect-url"):
        oauth.exchange(store, "support")


def test_refresh_rotates_and_stores_at_once(store, fake_entra):
    add_box(store)
    sign_in(store, fake_entra)
    first = committed(store, "support")["refresh_token"]
    clock = Clock()
    oauth.refresh(store, "support", clock=clock)
    row = committed(store, "support")
    assert row["refresh_token"] != first and row["refresh_token"] == fake_entra.issued[-1]
    assert first not in fake_entra.refresh_tokens  # the old one is dead at Microsoft
    assert row["refresh_token_issued_at"] == "2027-01-15T08:00:00Z"
    assert fake_entra.posts()[-1]["refresh_token"] == first


def test_token_provider_caches_and_refreshes_five_minutes_before_the_end(store, fake_entra):
    add_box(store)
    sign_in(store, fake_entra)
    clock = Clock()
    provide = token_source(store, "support", clock=clock)
    token = provide()
    assert token == fake_entra.issued[-2]
    # the rotated refresh token is committed before the access token is handed out
    assert committed(store, "support")["refresh_token"] == fake_entra.issued[-1]
    posts = len(fake_entra.posts())
    clock.now += 3599 - 301
    assert provide() == token and len(fake_entra.posts()) == posts
    clock.now += 2  # now within five minutes of the end
    fresh = provide()
    assert fresh != token and len(fake_entra.posts()) == posts + 1
    assert committed(store, "support")["refresh_token"] == fake_entra.issued[-1]


def test_token_provider_reads_the_current_refresh_token(store, fake_entra):
    mailbox = add_box(store)
    sign_in(store, fake_entra)
    stale = mailboxes.get(store, "support")
    oauth.refresh(store, stale)  # rotates; `stale` still holds the old token
    assert token_source(store, stale)()
    assert mailbox.refresh_token is None


def test_mailboxes_of_one_tenant_keep_their_own_tokens(store, fake_entra):
    add_box(store, "sales", user="sales@contoso.com")
    add_box(store, "service", user="service@contoso.com")
    assert sign_in(store, fake_entra, "sales", "sales@contoso.com").account == "sales@contoso.com"
    assert sign_in(store, fake_entra, "service", "service@contoso.com").account == "service@contoso.com"
    service_token = committed(store, "service")["refresh_token"]
    token_source(store, "sales")()
    assert committed(store, "service")["refresh_token"] == service_token
    assert fake_entra.refresh_tokens[committed(store, "sales")["refresh_token"]] == "sales@contoso.com"
    assert fake_entra.refresh_tokens[service_token] == "service@contoso.com"


def test_revoked_refresh_token_tells_admin_to_authorize_again(store, fake_entra):
    add_box(store)
    sign_in(store, fake_entra)
    fake_entra.revoke("support@contoso.com")
    with pytest.raises(MailboxAuthError) as caught:
        token_source(store, "support")()
    message = str(caught.value)
    assert "refresh token of mailbox 'support'" in message and "AADSTS70008" in message
    assert "`ticketctl oauth url support`" in message and "`ticketctl oauth exchange support`" in message
    assert "Trace ID" not in message


def test_wrong_client_secret_says_how_to_replace_it(store, fake_entra):
    add_box(store, client_secret="not-the-secret")
    with pytest.raises(MailboxAuthError, match="client id or secret.*--client-secret-stdin") as caught:
        oauth.exchange(
            store, "support", redirect_url=fake_entra.sign_in(oauth.authorize_url(store, "support").url, "u")
        )
    assert "not-the-secret" not in str(caught.value)


def test_network_failure_is_a_sentence(store, fake_entra):
    add_box(store)
    sign_in(store, fake_entra)
    fake_entra.network_down = True
    with pytest.raises(MailboxAuthError, match="Could not reach Microsoft to look up the tenant.*network"):
        oauth.refresh(store, "support")


def test_unknown_tenant_is_a_sentence(store, fake_entra):
    add_box(store, tenant_id="no-such-tenant")
    with pytest.raises(MailboxAuthError, match="does not know the tenant 'no-such-tenant'.*--tenant-id"):
        oauth.authorize_url(store, "support")


def test_password_mailbox_is_refused(store, fake_entra):
    mailboxes.add(store, name="plain", kind="imap", host="h", username="u", password="pw")
    with pytest.raises(MailboxAuthError, match="logs in with a password, not OAuth2"):
        token_source(store, "plain")


def test_unauthorized_mailbox_is_told_to_sign_in(store, fake_entra):
    add_box(store)
    with pytest.raises(MailboxAuthError, match="no OAuth2 token yet.*oauth url support"):
        token_source(store, "support")()


def test_refresh_inside_a_transaction_is_refused(store, fake_entra):
    add_box(store)
    sign_in(store, fake_entra)
    provide = token_source(store, "support")
    with pytest.raises(RuntimeError, match="outside a transaction"), store.transaction():
        provide()


def test_xoauth2_string():
    assert oauth.xoauth2_string("a@b.c", "tok") == "user=a@b.c\x01auth=Bearer tok\x01\x01"


def test_engine_modules_import_no_cli_and_no_msal_up_front():
    import subprocess
    import sys

    code = (
        "import sys, ticketctl.engine.oauth.microsoft, ticketctl.engine.oauth.status; "
        "print(sorted(m for m in ('msal', 'requests', 'typer', 'rich') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_status_with_expired_credentials_and_an_unreadable_secret_date(store, fake_entra):
    from ticketctl.engine.oauth import status as oauth_status

    add_box(store, "old", client_secret_expires_at="2027-01-01")
    add_box(store, "odd")
    with store.transaction() as conn:  # mailbox add refuses such a date now; an older row may hold one
        conn.execute("UPDATE mailboxes SET client_secret_expires_at = 'next spring' WHERE name = 'odd'")
    clock = Clock()  # 2027-01-15T08:00:00Z
    oauth.exchange(
        store, "old", redirect_url=fake_entra.sign_in(oauth.authorize_url(store, "old").url, "u"), clock=clock
    )
    clock.now += 91 * 86400
    old, odd = sorted(oauth_status.status(store, clock=clock), key=lambda s: s.mailbox, reverse=True)
    assert old.mailbox == "old" and old.needs_attention
    assert old.refresh_token_age_days == 91 and old.refresh_token_days_left == -1
    assert any("refresh token of mailbox 'old' expired on 2027-04-15" in p for p in old.problems)
    assert any("client secret of mailbox 'old' expired on 2027-01-01" in p for p in old.problems)
    assert odd.problems == (
        "Mailbox 'odd' is not authorized yet; run `ticketctl oauth url odd` and `ticketctl oauth exchange odd`.",
    )
    assert "not a date" in odd.notes[0] and odd.client_secret_expires_at is None
