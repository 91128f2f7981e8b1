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


def drop_comments(value: str) -> str:
    """An address header without the RFC 5322 comments of its `name <address>` entries, which mail
    clients do not show: "Jane (Sales) <jane@example.com>" is Jane's. In an `address (Name)` entry the
    comment is the only name there is, so it stays."""
    if "(" not in value:
        return value
    entries: list[int] = []  # per character: which entry of the list it is in
    comments: list[bool] = []  # per character: part of a comment
    named: set[int] = set()  # entries with an <address>
    entry = depth = 0
    quoted = escaped = False
    for ch in value:
        comment = depth > 0
        if escaped:
            escaped = False
        elif ch == "\\" and (quoted or depth):
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == "(":
            depth, comment = depth + 1, True
        elif ch == ")" and depth:
            depth -= 1
        elif depth:
            pass
        elif ch == '"':
            quoted = True
        elif ch == "<":
            named.add(entry)
        elif ch == ",":
            entry += 1
        entries.append(entry)
        comments.append(comment)
    out: list[str] = []
    for ch, where, comment in zip(value, entries, comments, strict=True):
        if not (comment and where in named):
            out.append(ch)
        elif not out or out[-1] != " ":
            out.append(" ")
    return "".join(out)
