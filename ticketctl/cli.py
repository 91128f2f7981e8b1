"""The Typer app: assembles the command groups, holds the global options and the one error boundary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from ticketctl import __version__, exit_codes
from ticketctl.commands import canned, mailbox, oauth, process, queue, secrets, status, tickets, types
from ticketctl.commands.common import State, error_console, safe, say, state, visible
from ticketctl.engine.errors import TicketctlError


class _ErrorBoundary(TyperGroup):
    """Turns engine errors into one sentence on stderr and an exit code; tracebacks only with --debug."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except TicketctlError as exc:
            import logging

            logging.getLogger("ticketctl").debug("command failed", exc_info=True)
            _fail(ctx, str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail(ctx, "Interrupted.", exit_codes.FAILURE)
        except Exception as exc:
            if isinstance(ctx.obj, State) and ctx.obj.debug:
                raise
            _fail(
                ctx,
                f"Unexpected internal error ({type(exc).__name__}: {exc}); "
                "run again with --debug for the traceback and report it.",
                exit_codes.FAILURE,
            )
        finally:
            if isinstance(ctx.obj, State):
                ctx.obj.close()


def _fail(ctx: Any, message: str, code: int) -> None:
    if code == exit_codes.OK:
        say(message)
    else:  # a message may quote mail, a server or an argument: control characters are made visible
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
app.add_typer(tickets.app, name="tickets")
app.add_typer(queue.app, name="queue")
app.add_typer(canned.app, name="canned")
app.add_typer(oauth.app, name="oauth")
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
    _setup_logging(debug)


@app.command("init")
def init(ctx: typer.Context) -> None:
    """Create the database, data directory and secret key, or upgrade them; safe to run again."""
    from ticketctl.engine.admin.secrets import prepare

    st = state(ctx)
    version = st.store.migrate()
    key = prepare(st.store)
    sealed = f"; {key.sealed} secret(s) stored in the clear by an older version are now sealed" if key.sealed else ""
    say(
        f"Database {st.config.database} is ready (schema version {version}); data in {st.config.data_dir}; "
        f"secrets are sealed with {key.source}{sealed}. Back the key up apart from the database."
    )


def _setup_logging(debug: bool) -> None:
    import logging

    class LogFormatter(logging.Formatter):
        """Log lines quote mail and servers: control characters are made visible, and without --debug
        a record is one line (an exception as its type and message, not a traceback)."""

        def format(self, record: logging.LogRecord) -> str:
            if record.exc_info and not debug:
                kind, exc = record.exc_info[0], record.exc_info[1]
                name = kind.__name__ if kind else "Exception"
                message = f"{record.getMessage()} ({name}: {exc}; --debug shows the traceback)"
                record = logging.makeLogRecord({**record.__dict__, "msg": message, "args": None, "exc_info": None})
            return visible(super().format(record), oneline=not debug)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler], force=True)


def main() -> None:
    app(prog_name="ticketctl")
