"""Email addresses: validation, and the normal form used to compare them."""

from __future__ import annotations

import re

from ticketctl.engine.errors import ConfigError

_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def is_valid(address: str) -> bool:
    return bool(_ADDRESS.match(address)) and ".." not in address


def check(address: str, what: str) -> str:
    """Return the address lower-cased, or raise a ConfigError naming `what` it was meant to be."""
    address = address.strip()
    if not is_valid(address):
        raise ConfigError(f"'{address}' is not a valid email address for {what}; use a form like name@example.com.")
    return address.lower()


def routing_key(address: str) -> str:
    """The form used to match recipients: lower-cased, with any +detail dropped from the local part."""
    address = address.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local.split('+', 1)[0]}@{domain}"
