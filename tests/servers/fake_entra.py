"""A stand-in for the Microsoft identity platform, plugged into MSAL as its HTTP client.

It answers OpenID discovery and the v2.0 token endpoint as Entra does: authorization codes work once
and check the PKCE verifier and redirect URI; refresh tokens rotate (the old one dies); unknown
codes and dead refresh tokens get `invalid_grant`, a wrong client secret `invalid_client`, an unknown
tenant a 400 at discovery. Access tokens come from `mint(user, expires_in)`, which a test can replace
(see `hs256_minter`) to hand out JWTs a real Dovecot accepts for XOAUTH2.

Also a pytest plugin: the `fake_entra` fixture installs a fresh fake into ticketctl.engine.oauth.microsoft.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

TENANT = "00000000-0000-0000-0000-0000000000aa"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "cs~" + "S3cr3t-Value-Of-The-Client" + "-x9"

Minter = Callable[[str, int], str]

# Dovecot's oauth2 passdb validating our JWTs locally ($d is the instance dir, as in the harness).
JWT_ISSUER = "https://fake-entra.test"
DOVECOT_OAUTH2_CONF = f"""introspection_mode = local
local_validation_key_dict = fs:posix:prefix=$d/oauth2-keys/
username_attribute = email
issuers = {JWT_ISSUER}
"""


def dovecot_hs256_keys(key: bytes, kid: str = "default") -> dict[str, str]:
    """The key files Dovecot reads: `<azp|default>/<ALG>/<kid>`, HS keys base64-encoded."""
    return {f"default/HS256/{kid}": base64.b64encode(key).decode()}


class FakeResponse:
    """What MSAL reads from a response: status_code, text, headers, raise_for_status()."""

    def __init__(self, status_code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status_code = status_code
        self.text = body if isinstance(body, str) else json.dumps(body)
        self.headers = headers or {"Content-Type": "application/json; charset=utf-8"}

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def opaque_minter(user: str, expires_in: int) -> str:
    """Entra's own access tokens are opaque to us; a random string stands in."""
    return "at-" + secrets.token_urlsafe(24)


def hs256_minter(key: bytes, issuer: str = JWT_ISSUER, kid: str = "default") -> Minter:
    """Mint JWTs the way Dovecot's local oauth2 validation wants them: HS256 with `kid`, `typ: JWT`,
    `sub`, `exp`, and the login name in `email`."""

    def mint(user: str, expires_in: int) -> str:
        import jwt

        now = int(time.time())
        # iat a little in the past, as in tests/servers/dovecot.py: Dovecot refuses a token "issued in the future"
        claims = {"iss": issuer, "sub": "id-" + user, "email": user, "iat": now - 30, "exp": now + expires_in}
        return jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid})

    return mint


class FakeEntraHttpClient:
    """Stands in for requests.Session; records every call in `calls`, every token in `issued` and the
    access tokens alone in `access_tokens`."""

    def __init__(
        self,
        tenant_id: str = TENANT,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        mint: Minter = opaque_minter,
        expires_in: int = 3599,
    ) -> None:
        self.tenant_id, self.client_id, self.client_secret = tenant_id, client_id, client_secret
        self.known_tenants = {tenant_id}
        self.mint = mint
        self.expires_in = expires_in
        self.calls: list[tuple[str, str, dict[str, Any] | None]] = []
        self.issued: list[str] = []  # every access and refresh token handed out
        self.access_tokens: list[str] = []  # only the access tokens, in the order handed out
        self.codes: dict[str, dict[str, Any]] = {}  # one-time codes -> user, nonce, PKCE challenge
        self.refresh_tokens: dict[str, str] = {}  # live refresh token -> user
        self.network_down = False
        self._n = itertools.count(1)

    # --- what a test does in place of the browser and the admin ---

    def sign_in(self, auth_uri: str, user: str) -> str:
        """Play the browser: sign `user` in at `auth_uri` and return the address it lands on."""
        query = {k: v[0] for k, v in parse_qs(urlparse(auth_uri).query).items()}
        code = "code-" + secrets.token_urlsafe(12)
        self.codes[code] = {
            "user": user,
            "nonce": query.get("nonce"),
            "challenge": query.get("code_challenge"),
            "redirect_uri": query.get("redirect_uri"),
        }
        answer = {"code": code, "state": query.get("state", ""), "session_state": "sess-1"}
        return query["redirect_uri"] + "?" + urlencode(answer)

    def revoke(self, user: str) -> None:
        """What a password change or an admin's revocation does: every refresh token of `user` dies."""
        self.refresh_tokens = {rt: u for rt, u in self.refresh_tokens.items() if u != user}

    def posts(self) -> list[dict[str, Any]]:
        return [data or {} for method, _url, data in self.calls if method == "POST"]

    # --- the HTTP interface MSAL uses ---

    def get(self, url: str, params: Any = None, headers: Any = None, **kwargs: Any) -> FakeResponse:
        self._network()
        self.calls.append(("GET", url, None))
        path = urlparse(url).path
        tenant = path.strip("/").split("/")[0]
        if not path.endswith("/v2.0/.well-known/openid-configuration"):
            return FakeResponse(404, {"error": "not_found"})
        if tenant not in self.known_tenants:
            return FakeResponse(400, {"error": "invalid_tenant", "error_description": "AADSTS90002"})
        base = "https://login.microsoftonline.com/" + tenant
        return FakeResponse(
            200,
            {
                "issuer": base + "/v2.0",
                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "token_endpoint": base + "/oauth2/v2.0/token",
                "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
            },
        )

    def post(self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kwargs: Any) -> FakeResponse:
        self._network()
        data = dict(data or {})
        self.calls.append(("POST", url, data))
        if not urlparse(url).path.endswith("/oauth2/v2.0/token"):
            return FakeResponse(404, {"error": "not_found"})
        if data.get("client_id") != self.client_id or data.get("client_secret") != self.client_secret:
            return _error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        if data.get("grant_type") == "authorization_code":
            return self._by_code(data)
        if data.get("grant_type") == "refresh_token":
            user = self.refresh_tokens.pop(data.get("refresh_token", ""), None)  # rotation: old one dies
            if user is None:
                return _invalid_grant()
            return self._tokens(user, None, data)
        return _error(400, "unsupported_grant_type", "AADSTS70003")

    def close(self) -> None:
        pass

    def _by_code(self, data: dict[str, Any]) -> FakeResponse:
        grant = self.codes.pop(data.get("code", ""), None)
        if grant is None or grant["redirect_uri"] != data.get("redirect_uri"):
            return _invalid_grant()
        verifier = data.get("code_verifier", "")
        if grant["challenge"] and _b64url(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return _error(400, "invalid_grant", "AADSTS501481: The Code_Verifier does not match.")
        return self._tokens(grant["user"], grant["nonce"], data)

    def _tokens(self, user: str, nonce: str | None, data: dict[str, Any]) -> FakeResponse:
        n = next(self._n)
        refresh_token = f"rt-{n}-" + secrets.token_urlsafe(24)
        access_token = self.mint(user, self.expires_in)
        self.refresh_tokens[refresh_token] = user
        self.issued += [access_token, refresh_token]
        self.access_tokens.append(access_token)
        now = int(time.time())
        claims = {
            "iss": f"https://login.microsoftonline.com/{self.tenant_id}/v2.0",
            "aud": self.client_id,
            "iat": now,
            "exp": now + 3600,
            "sub": "sub-" + user,
            "oid": "oid-" + user,
            "tid": self.tenant_id,
            "preferred_username": user,
            **({"nonce": nonce} if nonce else {}),
        }
        id_token = ".".join(
            [
                _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()),
                _b64url(json.dumps(claims).encode()),
                "",
            ]
        )
        return FakeResponse(
            200,
            {
                "token_type": "Bearer",
                "scope": data.get("scope", ""),
                "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in,
                "access_token": access_token,
                "refresh_token": refresh_token,
                "id_token": id_token,
            },
        )

    def _network(self) -> None:
        if self.network_down:
            import requests

            raise requests.ConnectionError("Failed to establish a new connection: [Errno 111] Connection refused")


def _error(status: int, error: str, description: str) -> FakeResponse:
    return FakeResponse(
        status,
        {
            "error": error,
            "error_description": description + "\r\nTrace ID: t-1\r\nCorrelation ID: c-1\r\nTimestamp: 2026-01-01",
            "error_codes": [int(description[6:].split(":")[0]) if description[6:7].isdigit() else 0],
            "trace_id": "t-1",
            "correlation_id": "c-1",
        },
    )


def _invalid_grant() -> FakeResponse:
    return _error(
        400,
        "invalid_grant",
        "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.",
    )


@pytest.fixture
def fake_entra() -> Iterator[FakeEntraHttpClient]:
    """A fresh fake Entra that every MSAL application made by ticketctl talks to in this test."""
    from ticketctl.engine.oauth import microsoft as oauth

    fake = FakeEntraHttpClient()
    previous = oauth.set_http_client_factory(lambda: fake)
    yield fake
    oauth.set_http_client_factory(previous)
