"""What the IMAP and POP3 sources share: the TLS context, the token, and turning network, TLS and
protocol failures into one sentence naming the mailbox and what to do."""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ticketctl.engine.config import LimitsConfig
from ticketctl.engine.errors import MailboxAuthError, SourceError, TicketctlError, typed
from ticketctl.engine.oauth.tokens import AccessTokenSource
from ticketctl.engine.store.mailboxes import Mailbox

_NAME_MISMATCH = (62, 64)  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH


def tls_context(mailbox: Mailbox) -> ssl.SSLContext:
    """Verify certificates and host names unless the mailbox says `verify_tls: false`; a CA file
    replaces the system's trusted roots."""
    try:
        context = ssl.create_default_context(cafile=mailbox.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise SourceError(
            f"Mailbox '{mailbox.name}': the CA file {mailbox.ca_file} cannot be read ({_reason(exc)}); "
            f"fix the path with `ticketctl mailbox edit {typed(mailbox.name)} --ca-file FILE`."
        ) from exc
    if not mailbox.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def access_token(mailbox: Mailbox, tokens: AccessTokenSource | None) -> str:
    if tokens is None:
        raise MailboxAuthError(
            f"Mailbox '{mailbox.name}' uses OAuth2 but no token source was given; "
            "this is a bug in the caller, please report it."
        )
    return tokens()


def login_refused(mailbox: Mailbox, server_says: object) -> MailboxAuthError:
    said = _server_text(server_says)
    if "UNAVAILABLE" in said.upper() or "temporary" in said.lower():
        return MailboxAuthError(
            f"Mailbox '{mailbox.name}': the server could not check the login just now ({said}); try again later."
        )
    if mailbox.auth == "oauth2":
        return MailboxAuthError(
            f"Mailbox '{mailbox.name}': the server refused the OAuth2 access token for "
            f"'{mailbox.username}' (expired, revoked, or without mail access); "
            f"sign the mailbox in again with `ticketctl oauth url {typed(mailbox.name)}`, then `oauth exchange`."
        )
    return MailboxAuthError(
        f"Mailbox '{mailbox.name}': the server refused the login for '{mailbox.username}'; "
        f"check the username and password (`ticketctl mailbox edit {typed(mailbox.name)} --ask-password`)."
    )


@contextmanager
def guarded(mailbox: Mailbox, limits: LimitsConfig, doing: str, connecting: bool = False) -> Iterator[None]:
    """Run a network step; any failure becomes a SourceError sentence. `doing` completes
    "... while {doing}" for a lost connection."""
    try:
        yield
    except TicketctlError:
        raise
    except Exception as exc:
        raise failure(exc, mailbox, limits, doing, connecting) from exc


def failure(exc: BaseException, mailbox: Mailbox, limits: LimitsConfig, doing: str, connecting: bool) -> SourceError:
    import imaplib
    import poplib

    name, where = mailbox.name, f"{mailbox.host}:{mailbox.port}"
    if isinstance(exc, socket.gaierror):
        return SourceError(
            f"Mailbox '{name}': the host '{mailbox.host}' cannot be found; "
            f"check the name with `ticketctl mailbox edit {typed(name)} --host`."
        )
    if isinstance(exc, ConnectionRefusedError):
        return SourceError(
            f"Mailbox '{name}': nothing accepts connections at {where}; check the port and security "
            f"(`ticketctl mailbox edit {typed(name)} --port/--security`; usually ssl on 993 for IMAP, 995 for POP3)."
        )
    if isinstance(exc, TimeoutError):
        seconds = limits.connect_timeout if connecting else limits.read_timeout
        key = "connect_timeout" if connecting else "read_timeout"
        return SourceError(
            f"Mailbox '{name}': {where} did not answer within {seconds:g} seconds while {doing}; "
            f"check the host, port and security, or raise limits.{key} in the configuration."
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code in _NAME_MISMATCH:
            return SourceError(
                f"Mailbox '{name}': the server's certificate is not valid for the name '{mailbox.host}'; "
                f"connect by a name the certificate lists (`ticketctl mailbox edit {typed(name)} --host NAME`), "
                f"or, on a trusted network only, `ticketctl mailbox edit {typed(name)} --no-verify-tls`."
            )
        return SourceError(
            f"Mailbox '{name}': the certificate of {where} could not be verified "
            f"({exc.verify_message}); give its CA with `ticketctl mailbox edit {typed(name)} --ca-file FILE`, "
            f"or, on a trusted network only, `ticketctl mailbox edit {typed(name)} --no-verify-tls`."
        )
    if isinstance(exc, ssl.SSLError):
        return SourceError(
            f"Mailbox '{name}': the TLS handshake with {where} failed ({_reason(exc)}); check that the "
            f"security matches the port (`ticketctl mailbox edit {typed(name)} --security ssl|starttls|none`: ssl for "
            "implicit TLS, starttls or none for plain ports)."
        )
    if connecting and isinstance(exc, (imaplib.IMAP4.error, poplib.error_proto, EOFError, OSError)):
        article = "an IMAP" if mailbox.kind == "imap" else "a POP3"
        return SourceError(
            f"Mailbox '{name}': {where} does not answer like {article} server; check the host, port and security."
        )
    if isinstance(exc, (imaplib.IMAP4.abort, EOFError, OSError)):
        return SourceError(
            f"Mailbox '{name}': the connection to {where} was lost while {doing} ({_reason(exc)}); "
            "nothing unrecorded was deleted, and the next run tries again."
        )
    if isinstance(exc, (imaplib.IMAP4.error, poplib.error_proto)):
        return SourceError(
            f"Mailbox '{name}': the server refused {doing} ({_reason(exc)}); "
            "the next run tries again, and `ticketctl mailbox test` checks the mailbox."
        )
    return SourceError(f"Mailbox '{name}': {doing} failed ({type(exc).__name__}: {_reason(exc)}).")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    text = _server_text(exc.args[0] if len(exc.args) == 1 else exc) or type(exc).__name__
    return text


def _server_text(value: Any) -> str:
    """Server text, shortened and with anything unprintable removed (it is shown to people)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = re.sub(r"[^\x20-\x7e\u00a0-\uffff]+", " ", str(value)).strip()
    text = re.sub(r"\s*\[[a-z0-9]+:\d{4}-\d\d-\d\d [\d:]+\]$", "", text)  # Dovecot's "[host:time]"
    return text[:160].rstrip(". ")
