"""The Typer app: assembles the command groups, holds the global options and the one error boundary."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import typer
import typer.main
import typer.models
from typer._click.utils import make_default_short_help
from typer.core import TyperGroup

from ticketctl import __version__, exit_codes
from ticketctl.commands import (
    assignments,
    bounces,
    canned,
    contacts,
    courses,
    mail,
    mailbox,
    oauth,
    process,
    queue,
    report,
    secrets,
    status,
    tickets,
    types,
)
from ticketctl.commands.common import (
    JsonOption,
    State,
    error_console,
    error_kind,
    print_json,
    print_json_error,
    safe,
    say,
    setup_logging,
    state,
)
from ticketctl.commands.helptext import plain_help
from ticketctl.engine.errors import TicketctlError

# Typer reads each command function's signature two or three times while it builds the app (for the
# parameters, the callback and the parameters' own callbacks), evaluating every string annotation each
# time: a third of `ticketctl --help`. What it reads depends on the function alone.
typer.main.get_params_from_function = functools.cache(typer.main.get_params_from_function)


class _Commands(MutableMapping[str, Any]):
    """The root's commands, each command group built by Typer when it is first wanted: `ticketctl
    --help`, or a command of one group, need not build the other 50-odd commands (Typer would build the
    whole tree, each signature read and each annotation evaluated, before anything runs)."""

    def __init__(self, built: MutableMapping[str, Any], groups: dict[str, typer.Typer]) -> None:
        self._built = dict(built)
        self._groups = dict(groups)

    def unbuilt_help(self, name: str) -> str | None:
        """The help of a group not built yet (None once it is), as Typer gives a group its help."""
        group = self._groups.get(name)
        return None if group is None else typer.main.solve_typer_info_help(typer.models.TyperInfo(group))

    def __getitem__(self, name: str) -> Any:
        if name in self._groups:
            group = typer.main.get_group_from_info(  # as the root's own groups: its markup, its exceptions
                typer.models.TyperInfo(self._groups.pop(name), name=name),
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
                suggest_commands=app.suggest_commands,
            )
            plain_help(group)
            self._built[name] = group
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._groups.pop(name, None)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if self._groups.pop(name, None) is None:
            del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._built, *self._groups])

    def __len__(self) -> int:
        return len(self._built) + len(self._groups)


class _ErrorBoundary(TyperGroup):
    """Turns engine errors into one sentence on stderr (and, with --json, `{"error": ...}` on stdout)
    and an exit code; tracebacks only with --debug. Gives every command plain help (helptext.py); the
    command groups (`GROUPS`) are built when first wanted (`_Commands`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_help(self)
        self.commands = _Commands(self.commands, GROUPS)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names alone: no group is built to be listed

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """Click's list of commands, with a group not built yet described by its help alone."""
        commands = self.commands
        assert isinstance(commands, _Commands)
        rows = []
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        for name in names:
            described = commands.unbuilt_help(name)
            if described is not None:
                rows.append((name, make_default_short_help(described, limit).strip()))
                continue
            command = commands[name]
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except typer.TyperException as exc:  # a usage error: Typer prints it and exits 2
            if _json_wanted(ctx) and type(exc).__name__ != "NoArgsIsHelpError":
                print_json_error(exc.format_message(), "usage", exc.exit_code)
            raise
        except TicketctlError as exc:
            import logging

            logging.getLogger("ticketctl").debug("command failed", exc_info=True)
            _fail(ctx, str(exc), exc.exit_code, error_kind(exc))
        except KeyboardInterrupt:
            _fail(ctx, "Interrupted.", exit_codes.FAILURE, "interrupted")
        except Exception as exc:
            if isinstance(ctx.obj, State) and ctx.obj.debug:
                raise
            _fail(
                ctx,
                f"Unexpected internal error ({type(exc).__name__}: {exc}); "
                "run again with --debug for the traceback and report it.",
                exit_codes.FAILURE,
                "internal",
            )
        finally:
            if isinstance(ctx.obj, State):
                ctx.obj.close()


def _json_wanted(ctx: Any) -> bool:
    """--json was given: seen by its callback, or still among the arguments a usage error stopped at."""
    return (isinstance(ctx.obj, State) and ctx.obj.json) or "--json" in sys.argv[1:] or "--json" in ctx.args


def _fail(ctx: Any, message: str, code: int, kind: str) -> None:

    if code == exit_codes.OK:
        if _json_wanted(ctx):
            print_json({"busy": True, "message": message})
        else:
            say(message)
        raise typer.Exit(code)
    if _json_wanted(ctx):
        print_json_error(message, kind, code)
    # a message may quote mail, a server or an argument: control characters are made visible
    error_console().print(f"[bold red]Error:[/] {safe(message, oneline=True)}")
    raise typer.Exit(code)


app = typer.Typer(
    cls=_ErrorBoundary,
    help="ticketctl turns the mail in support mailboxes into tickets and lets staff work them.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
)
app.command("process")(process.process)
app.command("status")(status.status)
app.command("report")(report.report)
GROUPS = {
    "mailbox": mailbox.app,
    "type": types.app,
    "tickets": tickets.app,
    "mail": mail.app,
    "queue": queue.app,
    "bounces": bounces.app,
    "canned": canned.app,
    "oauth": oauth.app,
    "contacts": contacts.app,
    "courses": courses.app,
    "assignments": assignments.app,
    "secrets": secrets.app,
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ticketctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Path = typer.Option(
        None,
        "--config",
        "-c",
        metavar="FILE",
        envvar=None,
        help="The configuration file (default: $TICKETCTL_CONFIG, then ./ticketctl.yaml).",
    ),
    debug: bool = typer.Option(False, "--debug", help="Log debug detail and show tracebacks."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """ticketctl turns the mail in support mailboxes into tickets and lets staff work them."""
    ctx.obj = State(config_path=config, debug=debug)
    setup_logging(debug)


@app.command("init")
def init(ctx: typer.Context, json: bool = JsonOption) -> None:
    """Create the database (0600), the data directory (0700) and the secret key, or upgrade them; safe to
    run again.

    The only command that creates a database: every other one refuses to run without it, so a command
    run in the wrong folder says so instead of starting an empty desk."""
    from ticketctl.engine.admin.secrets import prepare

    st = state(ctx)
    existed = st.config.database.exists()
    store = st.create_store()
    version = store.migrate()
    key = prepare(store)
    if json:
        print_json(
            {
                "database": st.config.database,
                "data_dir": st.config.data_dir,
                "schema_version": version,
                "created": not existed,
                "secret_key": key.source,
                "sealed": key.sealed,
            }
        )
        return
    done = "is ready" if existed else "was created"
    sealed = f"; {key.sealed} secret(s) stored in the clear by an older version are now sealed" if key.sealed else ""
    say(
        f"Database {st.config.database} {done} (schema version {version}); data in {st.config.data_dir}; "
        f"secrets are sealed with {key.source}{sealed}. Back the key up apart from the database."
    )


def main() -> None:
    app(prog_name="ticketctl")
