"""`--help` in the words people use, for every command of the app.

Typer shows its own internals in help: types as `<str>` or `<int>`, required arguments as `{name}`
and ranges as `[x>=1]`. `plain_help()` gives each parameter of the assembled app a metavar instead
(`HOST`, `[imap|pop3|maildir]`), shows required arguments as `NAME`, and leaves ranges to the help
text (the value is still checked). It runs on the whole command tree when the root group is built
(cli.py), so command groups added later get it without doing anything.
"""

from __future__ import annotations

from typing import Any

from typer._click import types
from typer.core import TyperArgument, TyperOption


def metavar(param: TyperOption | TyperArgument) -> str:
    """`[a|b|c]` for a choice, else the parameter's name in capitals (`--tenant-id` → `TENANT_ID`)."""
    if param.metavar is not None:
        return param.metavar
    choices = getattr(param.type, "choices", None)
    if choices:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in choices) + "]"
    return (param.name or "value").upper()


class PlainOption(TyperOption):
    def make_metavar(self, ctx: Any) -> str:
        return metavar(self)

    def get_help_record(self, ctx: Any) -> tuple[str, str] | None:
        ranged = self.type
        if isinstance(ranged, types._NumberRangeBase):  # the range is told in the help text
            self.type = types.INT if isinstance(ranged, types.IntRange) else types.FLOAT
        try:
            return super().get_help_record(ctx)
        finally:
            self.type = ranged


class PlainArgument(TyperArgument):
    def make_metavar(self, ctx: Any, *, usage: bool = False) -> str:
        name = metavar(self) + ("..." if self.nargs != 1 else "")
        return f"[{name}]" if usage and not self.required else name


def plain_help(command: Any) -> None:
    """Give every parameter of `command` and its subcommands the plain help display."""
    for param in getattr(command, "params", ()):
        if type(param) is TyperOption:
            param.__class__ = PlainOption
        elif type(param) is TyperArgument:
            param.__class__ = PlainArgument
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)
