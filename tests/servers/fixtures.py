"""Pytest fixtures for real mail servers (registered from tests/conftest.py).

- `dovecot`: one Dovecot per test session and xdist worker (users alice/alicepw and bob/bobpw; all four
  ports in `.ports`; `.cert_file` for CA-file tests). Tests share it, so a test that reads or deletes
  mail should take its own user from `mail_user` (or `dovecot.new_user()`).
- `mail_user`: a fresh user with an empty INBOX on the session server (from a pool of spare users
  written before the server starts; `dovecot.new_user()` gives more in the same test).
- `mint_token(user, ttl=300, **claims)`: an XOAUTH2 access token the server accepts (ttl<0: expired).
- `dovecot_factory()`: a private Dovecot for a test that stops or restarts the server.
- `relay_factory(port)`: a byte-counting TCP relay in front of a port (prove what crossed the wire,
  or hold a stream to cut a connection mid-transfer).
- `mailbox_fields(dovecot, user, kind, security, auth, **overrides)`: the fields of a mailbox pointing
  at the server, for `mailboxes.add(store, **fields)` or `record(fields)` (a Mailbox, secrets in memory);
  `cli_add_args(fields)` turns them into `ticketctl mailbox add` arguments and environment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.servers.dovecot import Dovecot, MailUser, dovecot_available
from tests.servers.relay import Relay
from ticketctl.engine.store.mailboxes import Mailbox
from ticketctl.engine.store.secrets import Secret

PORTS = {
    ("imap", "ssl"): "imaps",
    ("imap", "starttls"): "imap",
    ("imap", "none"): "imap",
    ("pop3", "ssl"): "pop3s",
    ("pop3", "starttls"): "pop3",
    ("pop3", "none"): "pop3",
}


def _require_dovecot() -> None:
    if not dovecot_available():
        pytest.skip("Dovecot is not installed; scripts/install-test-servers installs it.")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    _require_dovecot()
    server = Dovecot({"alice": "alicepw", "bob": "bobpw"}).start()
    yield server
    server.stop()


@pytest.fixture
def mail_user(dovecot: Dovecot) -> MailUser:
    return dovecot.new_user()


@pytest.fixture
def mint_token(dovecot: Dovecot) -> Callable[..., str]:
    return dovecot.mint_token


@pytest.fixture
def dovecot_factory() -> Iterator[Callable[[], Dovecot]]:
    _require_dovecot()
    made: list[Dovecot] = []

    def make() -> Dovecot:
        server = Dovecot().start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


@pytest.fixture
def relay_factory() -> Iterator[Callable[[int], Relay]]:
    """`relay_factory(port)`: a byte-counting TCP relay in front of a server port."""
    made: list[Relay] = []

    def make(port: int) -> Relay:
        relay = Relay(port)
        made.append(relay)
        return relay

    yield make
    for relay in made:
        relay.close()


def mailbox_fields(
    server: Dovecot,
    user: MailUser,
    kind: str = "imap",
    security: str = "ssl",
    auth: str = "password",
    **extra: Any,
) -> dict[str, Any]:
    """A mailbox on `server` for `user`. TLS connections verify the certificate against the server's
    own cert (host `localhost`, the name in it). For oauth2 the Azure fields are placeholders: the
    token comes from the test's token provider."""
    fields: dict[str, Any] = {
        "name": f"{kind}-{security}-{auth}",
        "kind": kind,
        "host": server.host if security == "none" else server.tls_host,
        "port": server.ports[PORTS[(kind, security)]],
        "security": security,
        "username": user.name,
        "auth": auth,
        "verify_tls": True,
        "ca_file": None if security == "none" else str(server.cert_file),
    }
    if auth == "password":
        fields["password"] = user.password
    else:
        fields.update(
            oauth_provider="microsoft",
            tenant_id="00000000-0000-0000-0000-0000000000aa",
            client_id="test-client",
            client_secret="test-secret",
            redirect_url="http://localhost:8765/callback",
        )
    fields.update(extra)
    return fields


def record(fields: dict[str, Any]) -> Mailbox:
    """A Mailbox record straight from mailbox fields (as the store would read it), secrets in memory."""
    secrets = {k: Secret.given(v) for k, v in fields.items() if k in ("password", "client_secret") and v}
    return Mailbox(id=0, **{**fields, **secrets})


def cli_add_args(fields: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """`ticketctl mailbox add` arguments and environment for mailbox fields (secrets via variables)."""
    args = ["mailbox", "add", fields["name"]]
    env: dict[str, str] = {}
    for key in ("kind", "host", "port", "security", "username", "auth", "folder", "processed_folder"):
        if fields.get(key) is not None:
            args += ["--" + key.replace("_", "-"), str(fields[key])]
    for key in ("ca_file", "tenant_id", "client_id", "redirect_url"):
        if fields.get(key):
            args += ["--" + key.replace("_", "-"), str(fields[key])]
    if not fields.get("verify_tls", True):
        args.append("--no-verify-tls")
    if fields.get("password"):
        args += ["--password-env", "TEST_MAILBOX_PASSWORD"]
        env["TEST_MAILBOX_PASSWORD"] = fields["password"]
    if fields.get("client_secret"):
        args += ["--client-secret-env", "TEST_MAILBOX_CLIENT_SECRET"]
        env["TEST_MAILBOX_CLIENT_SECRET"] = fields["client_secret"]
    return args, env
