"""How long each OAuth2 mailbox's credentials last: the refresh token (90 days from its last use)
and the Azure client secret (at most 730 days; its date is recorded with `mailbox add/edit`).

A mailbox needs attention when either has expired or ends within 30 days, or when it has no token
yet. An unknown client-secret date is only a note: nothing is known to be wrong.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ticketctl.engine.oauth.microsoft import REFRESH_TOKEN_LIFETIME, Clock, iso_utc, oauth_mailbox, parse_time
from ticketctl.engine.store import mailboxes
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.mailboxes import Mailbox

WARN_WITHIN = timedelta(days=30)


@dataclass(frozen=True)
class OAuthStatus:
    """One OAuth2 mailbox's credentials, with sentences for what needs doing. No secret in here."""

    mailbox: str
    username: str | None
    authorized: bool
    refresh_token_issued_at: str | None
    refresh_token_age_days: int | None
    refresh_token_expires_at: str | None
    refresh_token_days_left: int | None
    client_secret_expires_at: str | None
    client_secret_days_left: int | None
    sign_in_pending: bool
    problems: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def needs_attention(self) -> bool:
        return bool(self.problems)


def status(store: Store, name: str | None = None, *, clock: Clock = time.time) -> list[OAuthStatus]:
    """The status of one mailbox (which must use OAuth2) or of every OAuth2 mailbox."""
    now = datetime.fromtimestamp(clock(), UTC)
    if name is not None:
        return [_status(oauth_mailbox(store, name), now)]
    return [_status(m, now) for m in mailboxes.list_all(store) if m.auth == "oauth2"]


def _status(mailbox: Mailbox, now: datetime) -> OAuthStatus:
    problems: list[str] = []
    notes: list[str] = []
    name = mailbox.name
    again = f"run `ticketctl oauth url {name}` and `ticketctl oauth exchange {name}`"
    issued = parse_time(mailbox.refresh_token_issued_at) if mailbox.refresh_token_issued_at else None
    age = rt_expires = rt_left = None
    if not mailbox.refresh_token or issued is None:
        problems.append(f"Mailbox '{name}' is not authorized yet; {again}.")
    else:
        age = (now - issued).days
        rt_expires = issued + REFRESH_TOKEN_LIFETIME
        rt_left = _days_left(rt_expires, now)
        if rt_expires <= now:
            problems.append(f"The refresh token of mailbox '{name}' expired on {_day(rt_expires)}; {again}.")
        elif rt_expires - now <= WARN_WITHIN:
            problems.append(
                f"The refresh token of mailbox '{name}' has not been used for {age} days and expires on "
                f"{_day(rt_expires)}; check that cron runs `ticketctl process`, or run "
                f"`ticketctl oauth refresh {name}`."
            )
    secret_expires, secret_left = _client_secret(mailbox, now, problems, notes)
    return OAuthStatus(
        mailbox=name,
        username=mailbox.username,
        authorized=bool(mailbox.refresh_token),
        refresh_token_issued_at=mailbox.refresh_token_issued_at,
        refresh_token_age_days=age,
        refresh_token_expires_at=iso_utc(rt_expires) if rt_expires else None,
        refresh_token_days_left=rt_left,
        client_secret_expires_at=iso_utc(secret_expires) if secret_expires else None,
        client_secret_days_left=secret_left,
        sign_in_pending=bool(mailbox.oauth_state),
        problems=tuple(problems),
        notes=tuple(notes),
    )


def _client_secret(
    mailbox: Mailbox, now: datetime, problems: list[str], notes: list[str]
) -> tuple[datetime | None, int | None]:
    name = mailbox.name
    fix = (
        f"create a new secret in Azure (Certificates & secrets) and store it with `ticketctl mailbox edit "
        f"{name} --client-secret-stdin --client-secret-expires YYYY-MM-DD`"
    )
    if not mailbox.client_secret_expires_at:
        notes.append(
            f"The client secret's expiry of mailbox '{name}' is not recorded; add it with "
            f"`ticketctl mailbox edit {name} --client-secret-expires YYYY-MM-DD`."
        )
        return None, None
    try:
        expires = parse_time(mailbox.client_secret_expires_at)
    except ValueError:
        notes.append(
            f"The client secret's expiry of mailbox '{name}' is not a date; fix it with "
            f"`ticketctl mailbox edit {name} --client-secret-expires YYYY-MM-DD`."
        )
        return None, None
    if expires <= now:
        problems.append(f"The client secret of mailbox '{name}' expired on {_day(expires)}; {fix}.")
    elif expires - now <= WARN_WITHIN:
        problems.append(f"The client secret of mailbox '{name}' expires on {_day(expires)}; {fix}.")
    return expires, _days_left(expires, now)


def _days_left(moment: datetime, now: datetime) -> int:
    """Days left, a part day counting as one; negative once `moment` has passed."""
    seconds = (moment - now).total_seconds()
    return math.ceil(seconds / 86400) if seconds > 0 else math.floor(seconds / 86400) or -1


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")
