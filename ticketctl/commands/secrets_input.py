"""Reading secrets without putting them on the command line (where shell history keeps them)."""

from __future__ import annotations

import os
import sys

import typer

from ticketctl.engine.errors import ConfigError


def read_secret(what: str, env_var: str | None, from_stdin: bool, ask: bool) -> str | None:
    """A secret from an environment variable, from stdin, or asked with hidden input; None if not given."""
    if env_var:
        value = os.environ.get(env_var)
        if not value:
            raise ConfigError(f"The environment variable {env_var} is not set or empty; export the {what} there.")
        return value
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise ConfigError(f"Standard input was empty; pipe the {what} into the command.")
        return value
    if ask:
        if not sys.stdin.isatty() and os.environ.get("TICKETCTL_ALLOW_PROMPT") != "1":
            raise ConfigError(
                f"The {what} is needed; give it with an environment variable (--{_flag(what)}-env VAR) "
                f"or on standard input (--{_flag(what)}-stdin)."
            )
        return typer.prompt(what.capitalize(), hide_input=True)
    return None


def _flag(what: str) -> str:
    return what.replace(" ", "-")
