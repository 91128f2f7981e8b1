"""The Typer app: assembles the command groups, holds the global options and the one error boundary."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import typer
import typer.main
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


class _ErrorBoundary(TyperGroup):
    """Turns engine errors into one sentence on stderr (and, with --json, `{"error": ...}` on stdout)
    and an exit code; tracebacks only with --debug. Gives every command plain help (helptext.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_help(self)

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
app.add_typer(mailbox.app, name="mailbox")
app.add_typer(types.app, name="type")
app.command("process")(process.process)
app.command("status")(status.status)
app.command("report")(report.report)
app.add_typer(tickets.app, name="tickets")
app.add_typer(mail.app, name="mail")
app.add_typer(queue.app, name="queue")
app.add_typer(bounces.app, name="bounces")
app.add_typer(canned.app, name="canned")
app.add_typer(oauth.app, name="oauth")
app.add_typer(contacts.app, name="contacts")
app.add_typer(courses.app, name="courses")
app.add_typer(assignments.app, name="assignments")
app.add_typer(secrets.app, name="secrets")


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
