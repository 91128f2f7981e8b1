"""Microsoft 365 OAuth2 through MSAL: the one-time bootstrap (authorize URL, code exchange) and the
refresh every run does to get an access token for XOAUTH2.

Bootstrap uses MSAL's auth code flow with PKCE. `authorize_url` keeps the whole flow (state, nonce,
PKCE verifier) as JSON in the mailbox's `oauth_state`; `exchange` checks the answer against it and
then forgets it, so a URL works once. We ask Microsoft to answer in the query string
(response_mode=query), not MSAL's preferred form_post, because the admin copies the address the
browser lands on; PKCE and the client secret keep a leaked code useless to anyone else.

Refresh tokens rotate: each refresh returns a new one, which is committed in its own transaction
before the access token is handed out, so no crash can leave us holding only a dead token. A refresh
token lasts 90 days from its last use, so a cron job that runs `process` keeps it alive.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from ticketctl.engine.errors import ConfigError, MailboxAuthError, NotFound
from ticketctl.engine.store import mailboxes
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.mailboxes import Mailbox
from ticketctl.engine.store.secrets import revealed

log = logging.getLogger(__name__)

AUTHORITY = "https://login.microsoftonline.com/{tenant}"
# MSAL adds offline_access, openid and profile itself (and refuses them if we pass them).
SCOPES = (
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/POP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
)
REFRESH_TOKEN_LIFETIME = timedelta(days=90)
EXPIRY_MARGIN_SECONDS = 300  # never use an access token in its last five minutes
HTTP_TIMEOUT_SECONDS = 30

Clock = Callable[[], float]
HttpClientFactory = Callable[[], Any]
_http_client_factory: HttpClientFactory | None = None


def set_http_client_factory(factory: HttpClientFactory | None) -> HttpClientFactory | None:
    """Make every MSAL application use `factory()` as its HTTP client (a requests.Session look-alike;
    tests answer as Microsoft would). None restores MSAL's own. Returns the previous factory."""
    global _http_client_factory
    previous, _http_client_factory = _http_client_factory, factory
    return previous


@dataclass(frozen=True)
class AuthorizeRequest:
    """What `oauth url` shows: the URL to open, as whom to sign in, and where the browser lands."""

    mailbox: str
    username: str | None
    redirect_url: str
    url: str


@dataclass(frozen=True)
class TokenGrant:
    """The outcome of an exchange or refresh, without any token."""

    mailbox: str
    account: str | None
    access_token_expires_at: str
    refresh_token_expires_at: str


def xoauth2_string(user: str, access_token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64) for IMAP, POP3 and SMTP."""
    return f"user={user}\x01auth=Bearer {access_token}\x01\x01"


def oauth_mailbox(store: Store, mailbox: Mailbox | str) -> Mailbox:
    """The mailbox as stored now (tokens rotate, so never trust an older copy); it must use OAuth2."""
    if isinstance(mailbox, str):
        current = mailboxes.named(store, mailbox)
    else:
        found = mailboxes.get_by_id(store, mailbox.id)
        if found is None:
            raise NotFound(f"The mailbox '{mailbox.name}' was removed; `ticketctl mailbox list` shows the names.")
        current = found
    if current.auth != "oauth2":
        raise MailboxAuthError(
            f"Mailbox '{current.name}' logs in with a password, not OAuth2; to switch, run "
            f"`ticketctl mailbox edit {current.name} --auth oauth2` with its --tenant-id, --client-id, "
            "--client-secret-stdin and --redirect-url."
        )
    return current


def authorize_url(store: Store, name: str) -> AuthorizeRequest:
    """Start the sign-in for a mailbox: keep a fresh state (and PKCE verifier), return the URL."""
    mailbox = oauth_mailbox(store, name)
    app = msal_app(mailbox)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MSAL recommends form_post; see the module docstring
        flow = app.initiate_auth_code_flow(
            list(SCOPES),
            redirect_uri=mailbox.redirect_url,
            state=secrets.token_urlsafe(24),
            login_hint=mailbox.username,
            prompt="select_account",
            response_mode="query",
        )
    with store.transaction():
        mailboxes.save_oauth_state(store, mailbox.id, json.dumps(flow))
    log.info("started OAuth2 sign-in for mailbox %s", mailbox.name)
    return AuthorizeRequest(mailbox.name, mailbox.username, mailbox.redirect_url or "", flow["auth_uri"])


def exchange(
    store: Store,
    name: str,
    redirect_url: str | None = None,
    code: str | None = None,
    *,
    clock: Clock = time.time,
) -> TokenGrant:
    """Trade the code from the browser's redirect for tokens, check the state, store the refresh
    token. `code` alone skips the state check (the admin vouches for it); prefer `redirect_url`."""
    mailbox = oauth_mailbox(store, name)
    if (redirect_url is None) == (code is None):
        raise ConfigError("Give either --redirect-url (the whole address the browser landed on) or --code.")
    flow = _pending_flow(mailbox)
    if redirect_url is not None:
        answer = _parse_redirect(redirect_url)
    else:
        answer = {"code": (code or "").strip(), "state": flow["state"]}
    _check_answer(mailbox, answer, flow)
    app = msal_app(mailbox)
    with _talking_to_microsoft(mailbox, "exchange the code"):
        try:
            result = app.acquire_token_by_auth_code_flow(flow, answer)
        except (ValueError, RuntimeError):  # state, scope or id_token nonce mismatch
            raise MailboxAuthError(
                f"Microsoft's answer for mailbox '{mailbox.name}' does not belong to the sign-in "
                f"`oauth url` started; run `ticketctl oauth url {mailbox.name}` again and use the new URL."
            ) from None
    if "error" in result:
        raise _refused(mailbox, result, bootstrap=True)
    grant = _store_tokens(store, mailbox, result, clock=clock, bootstrap=True)
    log.info("stored a new OAuth2 refresh token for mailbox %s", mailbox.name)
    return grant


def refresh(store: Store, mailbox: Mailbox | str, *, clock: Clock = time.time) -> TokenGrant:
    """Force a refresh now: a new access token is fetched and the rotated refresh token stored."""
    grant, _token, _expires = refresh_grant(store, oauth_mailbox(store, mailbox), None, clock)
    return grant


def msal_app(mailbox: Mailbox) -> Any:
    import msal

    extra = {"http_client": _http_client_factory()} if _http_client_factory is not None else {}
    client_secret = revealed(mailbox.client_secret)
    with _talking_to_microsoft(mailbox, "look up the tenant"):
        try:
            return msal.ConfidentialClientApplication(
                mailbox.client_id,
                client_credential=client_secret,
                authority=AUTHORITY.format(tenant=mailbox.tenant_id),
                timeout=HTTP_TIMEOUT_SECONDS,
                **extra,
            )
        except ValueError:
            raise MailboxAuthError(
                f"Microsoft does not know the tenant '{mailbox.tenant_id}' of mailbox '{mailbox.name}'; "
                f"check the Directory (tenant) id in Azure and fix it with "
                f"`ticketctl mailbox edit {mailbox.name} --tenant-id ID`."
            ) from None


def refresh_grant(store: Store, mailbox: Mailbox, app: Any, clock: Clock) -> tuple[TokenGrant, str, float]:
    if not mailbox.refresh_token:
        raise MailboxAuthError(
            f"Mailbox '{mailbox.name}' has no OAuth2 token yet; run `ticketctl oauth url {mailbox.name}`, "
            f"sign in, then `ticketctl oauth exchange {mailbox.name}`."
        )
    if store.in_transaction:
        raise RuntimeError("an OAuth2 refresh must commit the rotated token on its own, outside a transaction")
    app = app or msal_app(mailbox)
    refresh_token = mailbox.refresh_token.reveal()
    with _talking_to_microsoft(mailbox, "refresh the token"):
        result = app.acquire_token_by_refresh_token(refresh_token, list(SCOPES))
    if "error" in result or "access_token" not in result:
        raise _refused(mailbox, result, bootstrap=False)
    grant = _store_tokens(store, mailbox, result, clock=clock, bootstrap=False)
    log.info("refreshed the OAuth2 token of mailbox %s", mailbox.name)
    return grant, result["access_token"], clock() + float(result.get("expires_in", 0))


def _store_tokens(
    store: Store, mailbox: Mailbox, result: dict[str, Any], *, clock: Clock, bootstrap: bool
) -> TokenGrant:
    """Commit the (rotated) refresh token and the access token's expiry in one transaction."""
    now = datetime.fromtimestamp(clock(), UTC)
    new_refresh = result.get("refresh_token")
    if bootstrap and not new_refresh:
        raise MailboxAuthError(
            f"Microsoft gave no refresh token for mailbox '{mailbox.name}'; give the application the "
            "offline_access permission in Azure, then run `ticketctl oauth url` and `oauth exchange` again."
        )
    issued_at = iso_utc(now) if new_refresh else mailbox.refresh_token_issued_at or iso_utc(now)
    access_expires = iso_utc(now + timedelta(seconds=int(result.get("expires_in", 0))))
    with store.transaction():
        mailboxes.save_tokens(
            store,
            mailbox.id,
            refresh_token=new_refresh or mailbox.refresh_token,
            refresh_token_issued_at=issued_at,
            access_token_expires_at=access_expires,
            forget_state=bootstrap,
            now=iso_utc(now),
        )
    account = (result.get("id_token_claims") or {}).get("preferred_username")
    refresh_expires = iso_utc(parse_time(issued_at) + REFRESH_TOKEN_LIFETIME)
    return TokenGrant(mailbox.name, account, access_expires, refresh_expires)


def _pending_flow(mailbox: Mailbox) -> dict[str, Any]:
    try:
        flow = json.loads(revealed(mailbox.oauth_state) or "")
    except ValueError:
        flow = None
    if not isinstance(flow, dict) or not flow.get("state"):
        raise MailboxAuthError(
            f"No sign-in is pending for mailbox '{mailbox.name}'; run `ticketctl oauth url {mailbox.name}` "
            "first, open the URL, sign in, then run the exchange with the address the browser landed on."
        )
    return flow


def _parse_redirect(url: str) -> dict[str, str]:
    url = url.strip()
    query = urlparse(url).query if "?" in url else url
    return {key: values[0] for key, values in parse_qs(query).items()}


def _check_answer(mailbox: Mailbox, answer: dict[str, str], flow: dict[str, Any]) -> None:
    if answer.get("error"):
        detail = _first_line(answer.get("error_description")) or answer["error"]
        raise MailboxAuthError(
            f"Microsoft's sign-in for mailbox '{mailbox.name}' failed ({detail}); run "
            f"`ticketctl oauth url {mailbox.name}` again, sign in and accept the permissions."
        )
    if not answer.get("code"):
        raise MailboxAuthError(
            f"That address has no code for mailbox '{mailbox.name}'; after signing in, copy the whole "
            "address from the browser's address bar (it contains code=...) and run the exchange again."
        )
    if not secrets.compare_digest(answer.get("state", "").encode(), str(flow["state"]).encode()):
        raise MailboxAuthError(
            f"The state in that address does not match the sign-in `oauth url` started for mailbox "
            f"'{mailbox.name}' (an old or someone else's URL); run `ticketctl oauth url {mailbox.name}` "
            "again and use the new URL."
        )


def _refused(mailbox: Mailbox, result: dict[str, Any], *, bootstrap: bool) -> MailboxAuthError:
    """One sentence for an error answer from the token endpoint (MSAL returns it, never raises)."""
    error = str(result.get("error") or "no access token")
    detail = _first_line(result.get("error_description")) or error
    name = mailbox.name
    again = f"run `ticketctl oauth url {name}`, sign in, then `ticketctl oauth exchange {name}`"
    if error == "invalid_client":
        return MailboxAuthError(
            f"Microsoft refused the client id or secret of mailbox '{name}' ({detail}); if the secret "
            f"expired, create a new one in Azure and store it with `ticketctl mailbox edit {name} "
            "--client-secret-stdin --client-secret-expires YYYY-MM-DD`."
        )
    if error == "invalid_grant" and bootstrap:
        return MailboxAuthError(
            f"Microsoft refused the sign-in code for mailbox '{name}' ({detail}); codes work once and "
            f"only for minutes: {again} with the new address."
        )
    if error == "invalid_grant":
        return MailboxAuthError(
            f"Microsoft refused the stored refresh token of mailbox '{name}' ({detail}); it has expired "
            f"or been revoked: {again} to authorize the mailbox again."
        )
    return MailboxAuthError(
        f"Microsoft refused the token request for mailbox '{name}' ({detail}); check the application's "
        f"registration and permissions in Azure, then {again}."
    )


@contextmanager
def _talking_to_microsoft(mailbox: Mailbox, doing: str) -> Iterator[None]:
    import requests

    try:
        yield
    except (requests.RequestException, OSError) as exc:
        raise MailboxAuthError(
            f"Could not reach Microsoft to {doing} for mailbox '{mailbox.name}' ({type(exc).__name__}); "
            "check the network connection and try again."
        ) from None


def _first_line(text: Any) -> str:
    """The first line of an error description (Entra appends trace and correlation ids)."""
    return str(text or "").strip().splitlines()[0].strip() if str(text or "").strip() else ""


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """An ISO date or date-time as UTC; a bare date means the start of that day."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
