"""Parsing mail (the standard `email` package with `policy.default`) into what the rules need.

`parse` never raises on bad input: a broken message yields what could be read plus `defects`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses


@dataclass(frozen=True)
class Address:
    name: str
    email: str  # as written, stripped; compare with addresses.routing_key()


@dataclass(frozen=True)
class Attachment:
    filename: str  # safe: no path parts, no control characters
    content_type: str
    payload: bytes
    content_id: str | None = None
    inline: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()

    @property
    def size(self) -> int:
        return len(self.payload)


@dataclass
class ParsedMessage:
    message_id: str | None  # without angle brackets
    subject: str
    from_: Address | None
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    envelope_to: list[str] = field(default_factory=list)  # Delivered-To, X-Original-To, Envelope-To
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    date: str | None = None
    body_text: str = ""
    body_html: str | None = None  # sanitised
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, list[str]] = field(default_factory=dict)  # lower-cased name -> values
    defects: list[str] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def recipients(self) -> list[str]:
        """Every address the mail was delivered to: To, Cc and the envelope headers."""
        return [a.email for a in (*self.to, *self.cc)] + list(self.envelope_to)


def _addresses(msg: EmailMessage, name: str) -> list[Address]:
    values = [str(v) for v in msg.get_all(name, [])]
    return [Address(n, e.strip()) for n, e in getaddresses(values) if e and "@" in e]


def _ids(value: str | None) -> list[str]:
    import re

    return re.findall(r"<([^<>\s]+)>", value or "")


def parse(raw: bytes) -> ParsedMessage:
    """A first, plain parse; the message-parsing work replaces this with the full one."""
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    from_list = _addresses(msg, "From")
    body = msg.get_body(preferencelist=("plain", "html"))
    text = body.get_content() if body is not None else ""
    headers: dict[str, list[str]] = {}
    for key, value in msg.items():
        headers.setdefault(key.lower(), []).append(str(value))
    mid = _ids(msg.get("Message-ID"))
    return ParsedMessage(
        message_id=mid[0] if mid else None,
        subject=str(msg.get("Subject", "")),
        from_=from_list[0] if from_list else None,
        to=_addresses(msg, "To"),
        cc=_addresses(msg, "Cc"),
        reply_to=_addresses(msg, "Reply-To"),
        envelope_to=[
            a.email for h in ("Delivered-To", "X-Original-To", "Envelope-To") for a in _addresses(msg, h)
        ],
        in_reply_to=_ids(msg.get("In-Reply-To")),
        references=_ids(msg.get("References")),
        date=str(msg.get("Date")) if msg.get("Date") else None,
        body_text=text,
        headers=headers,
    )


def parse_headers(headers: bytes) -> ParsedMessage:
    """A message of which only the header block could be read (it was too big to download)."""
    return parse(headers.rstrip(b"\r\n") + b"\r\n\r\n")
