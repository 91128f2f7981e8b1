"""The one access-token source: what the IMAP and POP3 sources, `mailbox test` and the SMTP sender call
for an OAuth2 (XOAUTH2) login. Calling it returns the access token itself, as a string."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ticketctl.engine.oauth.microsoft import EXPIRY_MARGIN_SECONDS, Clock, msal_app, oauth_mailbox, refresh_grant
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.mailboxes import Mailbox

AccessTokenSource = Callable[[], str]


class AccessTokens:
    """Each call returns an access token with more than five minutes to live, refreshing (and storing
    the rotated refresh token) when needed; the token is kept in memory for the run, never stored."""

    def __init__(self, store: Store, mailbox: Mailbox, clock: Clock) -> None:
        self._store, self._mailbox, self._clock = store, mailbox, clock
        self._app: Any = None
        self._token: str | None = None
        self._expires = 0.0

    def __call__(self) -> str:
        if self._token is not None and self._clock() < self._expires - EXPIRY_MARGIN_SECONDS:
            return self._token
        mailbox = oauth_mailbox(self._store, self._mailbox)
        if self._app is None:
            self._app = msal_app(mailbox)
        _grant, self._token, self._expires = refresh_grant(self._store, mailbox, self._app, self._clock)
        return self._token

    def __repr__(self) -> str:
        return f"AccessTokens(mailbox={self._mailbox.name!r})"


def token_source(store: Store, mailbox: Mailbox | str, *, clock: Clock = time.time) -> AccessTokenSource:
    """The access-token source for an OAuth2 mailbox (by name or as read); it must use OAuth2."""
    return AccessTokens(store, oauth_mailbox(store, mailbox), clock)
