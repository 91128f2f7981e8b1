"""`--help` in the words people use, for every command of the app.

Typer 0.29 shows its own internals in help: types as `<str>` or `<list[Path]>`, required arguments as
`{name}` and ranges as `[x>=1]`. `plain_help()` gives each parameter of the assembled app a metavar
instead (`HOST`, `[imap|pop3|maildir]`), shows required arguments as `NAME`, and leaves ranges to the
help text (the value is still checked). It runs on the whole command tree when the root group is
built (cli.py), so command groups added later get it without doing anything.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperOption


def metavar(param: TyperOption | TyperArgument) -> str:
    """`[a|b|c]` for a choice, else the parameter's name in capitals (`--tenant-id` → `TENANT_ID`)."""
    if param.metavar is not None:
        return param.metavar
    described = param.type_descriptor
    if described.is_choice and described.choices:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in described.choices) + "]"
    return (param.name or "value").upper()


class PlainOption(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        return metavar(self)

    def _get_number_range_help_str(self) -> str | None:
        return None


class PlainArgument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _rich_display_name(self) -> str:
        return metavar(self) + ("..." if self.nargs != 1 else "")

    def _usage_display_name(self) -> str:
        name = self._rich_display_name()
        return name if self.required else f"[{name}]"

    def _get_number_range_help_str(self) -> str | None:
        return None


def plain_help(command: Any) -> None:
    """Give every parameter of `command` and its subcommands the plain help display."""
    for param in getattr(command, "params", ()):
        if type(param) is TyperOption:
            param.__class__ = PlainOption
        elif type(param) is TyperArgument:
            param.__class__ = PlainArgument
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)
