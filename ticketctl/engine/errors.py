"""One exception hierarchy. Each message is a sentence: what happened, and what to do."""

from __future__ import annotations


class TicketctlError(Exception):
    """An error the user can act on; the CLI prints its message and exits with `exit_code`."""

    exit_code = 1


class ConfigError(TicketctlError):
    """The configuration file or a value given on the command line is wrong."""


class NotFound(TicketctlError):
    """A named mailbox, ticket type, ticket or other record does not exist."""


class InUse(TicketctlError):
    """A record cannot be removed because others refer to it."""


class StoreError(TicketctlError):
    """The database cannot be opened or is in a state we cannot work with."""


class SourceError(TicketctlError):
    """A mailbox could not be reached or read (network, TLS, folder)."""


class MailboxAuthError(SourceError):
    """A mailbox refused the login, or its OAuth token could not be had."""


class LockHeld(TicketctlError):
    """Another run holds the lock on this database."""

    exit_code = 0


class SendError(TicketctlError):
    """The outgoing mail server could not be reached or refused the mail."""


class TemplateError(TicketctlError):
    """A template or canned response could not be rendered."""


class NotAllowed(TicketctlError):
    """The record exists, but what was asked cannot be done to it in its present state."""


def typed(value: str) -> str:
    """A value as it is typed in the command a message suggests (quoted if it has spaces or quotes),
    so the hint can be pasted as it stands."""
    import shlex

    return shlex.quote(value)


def detail(message: str, subject: str) -> str:
    """`message` as a part of a longer sentence about `subject`: without a leading "Mailbox 'x': " that
    the longer sentence says already, and without its full stop."""
    for prefix in (f"{subject}: ", f"{subject} "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
            break
    return message.rstrip(".")
