"""Signed identifiers in the mail we send: Message-IDs that name the ticket and log, and VERP envelope
senders that name the queue row.

Both carry an HMAC made with the per-installation secret (`Store.installation_secret()`), so a reply's
In-Reply-To threads into its ticket even when no log row has that Message-ID, and nobody outside can
forge a reference into someone else's ticket or a bounce for someone else's mail.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

DEFAULT_DOMAIN = "ticketctl.invalid"
_SIG_LEN = 20  # hex characters of HMAC-SHA256 (80 bits)
_VERP_SIG_LEN = 12
_MID = re.compile(r"^<?t(\d{1,18})\.l(\d{1,18})\.([0-9a-f]{8,32})\.([0-9a-f]{20})@[^<>@\s]+>?$")
_VERP = re.compile(r"^(.+)\+q(\d{1,18})-([0-9a-f]{12})@([^@\s]+)$", re.IGNORECASE)


def _sign(secret: str, purpose: str, payload: str, length: int) -> str:
    mac = hmac.new(secret.encode(), f"{purpose}:{payload}".encode(), hashlib.sha256)
    return mac.hexdigest()[:length]


def installation_id(secret: str) -> str:
    """A public name for this installation (the loop header's value); reveals nothing of the secret."""
    return _sign(secret, "installation", "", 16)


def domain_of(address: str | None) -> str:
    """The domain part of an address, or the fallback domain for Message-IDs."""
    if address and "@" in address:
        domain = address.rsplit("@", 1)[1].strip().strip(">").lower()
        if domain:
            return domain
    return DEFAULT_DOMAIN


def make_message_id(secret: str, ticket_id: int | None, log_id: int | None, domain: str) -> str:
    """A new Message-ID (without angle brackets) naming the ticket and log; 0 stands for none.

    A random part keeps two mails from the same log (to the admin and to the customer) distinct.
    """
    body = f"t{ticket_id or 0}.l{log_id or 0}.{secrets.token_hex(6)}"
    return f"{body}.{_sign(secret, 'mid', body, _SIG_LEN)}@{domain}"


def verify_message_id(secret: str, mid: str) -> tuple[int, int] | None:
    """(ticket id, log id) if `mid` is a Message-ID this installation made for a ticket, else None."""
    match = _MID.match((mid or "").strip())
    if match is None:
        return None
    ticket, log, nonce, sig = match.groups()
    body = f"t{ticket}.l{log}.{nonce}"
    if not hmac.compare_digest(sig, _sign(secret, "mid", body, _SIG_LEN)):
        return None
    if int(ticket) == 0:
        return None
    return int(ticket), int(log)


def make_verp(secret: str, queue_id: int, base_address: str) -> str:
    """The envelope sender for queue row `queue_id`: `local+q123-<sig>@domain` from `base_address`.

    Recipient matching drops the `+detail` (addresses.routing_key), so a bounce sent there still
    reaches the bounce type's mailbox and names the row it belongs to.
    """
    local, _, domain = base_address.strip().rpartition("@")
    local = local.split("+", 1)[0] or "bounces"
    sig = _sign(secret, "verp", str(queue_id), _VERP_SIG_LEN)
    return f"{local}+q{queue_id}-{sig}@{domain or DEFAULT_DOMAIN}"


def parse_verp(secret: str, address: str) -> int | None:
    """The queue row id a bounce was sent back for, if `address` is a VERP address we signed."""
    match = _VERP.match((address or "").strip().strip("<>"))
    if match is None:
        return None
    queue_id, sig = match.group(2), match.group(3).lower()
    if not hmac.compare_digest(sig, _sign(secret, "verp", queue_id, _VERP_SIG_LEN)):
        return None
    return int(queue_id)
