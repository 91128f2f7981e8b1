"""What every command shares: the per-invocation state (config, store) and the conventions of output.

- Tables (`print_table`): one line per row at the terminal's width (80 columns under cron and in
  pipes): cells are cut with an ellipsis, never wrapped, the widest columns give way first, dates are
  compact (`when()`); `--wide` (`WideOption`) shows everything. A footer gives the total.
- JSON (`print_json`, `JsonOption`): with `--json` a command prints one JSON value on stdout, what it
  shows or what it changed; a failure prints `{"error": {"message", "kind", "exit_code"}}` instead
  (`cli.py`), so a script reads one shape either way.
- `say` for a line, `warn` for a warning on stderr, `confirm` before removing something, `safe()` for
  every piece of text that came from mail.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from ticketctl.engine.config import Config
    from ticketctl.engine.store.connection import Store


@dataclass
class State:
    """Per-invocation state, built by the root callback; config and store load on first use."""

    config_path: Path | None = None
    debug: bool = False
    json: bool = False  # --json was given: errors are printed as JSON too
    _config: Config | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            from ticketctl.engine.config import load_config

            self._config = load_config(self.config_path)
            apply_log_level(self._config.log_level, self.debug)
        return self._config

    @property
    def store(self) -> Store:
        """The configured database; it must exist (only `ticketctl init` creates one)."""
        if self._store is None:
            from ticketctl.engine.errors import StoreError
            from ticketctl.engine.store import secrets
            from ticketctl.engine.store.connection import NoDatabase, Store

            config = self.config
            try:
                self._store = Store(config.database, config.data_dir)
                secrets.use_key_file(self._store, config.secret_key_file)
            except NoDatabase:
                raise StoreError(
                    f"There is no database at {config.database} ({config.database_origin}); "
                    "create it with `ticketctl init`, or run ticketctl where its configuration is."
                ) from None
        return self._store

    def create_store(self) -> Store:
        """The configured database, created (private) if it is not there: for `ticketctl init`."""
        from ticketctl.engine.store import secrets
        from ticketctl.engine.store.connection import Store

        if self._store is None:
            self._store = Store(self.config.database, self.config.data_dir, create=True)
            secrets.use_key_file(self._store, self.config.secret_key_file)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # timestamped: cron keeps the lines in a file


def setup_logging(debug: bool) -> None:
    """Log to stderr with a timestamp: everything at debug with --debug, else warnings until the
    configuration's `log_level` is known (`apply_log_level`). Log lines quote mail and servers, so
    control characters are made visible, and without --debug a record is one line (an exception as its
    type and message, not a traceback)."""
    import logging

    class LogFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            if record.exc_info and not debug:
                kind, exc = record.exc_info[0], record.exc_info[1]
                name = kind.__name__ if kind else "Exception"
                message = f"{record.getMessage()} ({name}: {exc}; --debug shows the traceback)"
                record = logging.makeLogRecord({**record.__dict__, "msg": message, "args": None, "exc_info": None})
            return visible(super().format(record), oneline=not debug)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter(LOG_FORMAT))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler], force=True)


def apply_log_level(level: str, debug: bool) -> None:
    """The configuration's `log_level` for ticketctl's own loggers (--debug wins)."""
    import logging

    if not debug:
        logging.getLogger("ticketctl").setLevel(level.upper())


# Terminal safety: text that came from mail must never drive the terminal or Rich.
# C0 controls but tab and newline (ESC starts CSI and OSC sequences, BEL ends OSC, CR overwrites a
# line), DEL and C1 controls (U+009B is a one-byte CSI, U+009D a one-byte OSC), zero-width and bidi
# controls (U+061C, U+200B-U+200F, U+202A-U+202E, U+2066-U+2069) that reorder or hide what is shown,
# line and paragraph separators, invisible operators, BOM, interlinear annotations, Unicode tags, and
# lone surrogates (from undecodable bytes; they cannot even be written to a UTF-8 terminal).
_INVISIBLE = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f"
)
_CONTROL = re.compile(f"[{_INVISIBLE}]")
_CONTROL_ONELINE = re.compile(f"[{_INVISIBLE}\t\n]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def safe(text: Any, oneline: bool = False) -> str:
    """Make text from mail harmless to print: control characters (ESC, so CSI and OSC sequences; C1
    controls; bidi overrides) become visible escapes like `\\x1b`, and Rich markup is escaped.
    With `oneline`, tabs and newlines are shown as escapes too (for table cells and headers)."""
    from rich.markup import escape

    return escape(visible(text, oneline))


def visible(text: Any, oneline: bool = False) -> str:
    """`safe()` without the Rich markup escaping: for text that goes to a log file or plain stderr."""
    if text is None:
        return ""
    pattern = _CONTROL_ONELINE if oneline else _CONTROL
    return pattern.sub(_visible, str(text))


def console(width: int | None = None) -> Any:
    from rich.console import Console

    return Console(highlight=False, emoji=False, width=width)


def error_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Write data as JSON on stdout (dataclasses and paths become plain values)."""
    import json

    def default(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return dataclasses.asdict(obj)
        if isinstance(obj, Path):
            return str(obj)
        raise TypeError(f"cannot encode {type(obj).__name__}")

    text = json.dumps(data, indent=2, default=default, ensure_ascii=False)
    # json escapes C0 controls itself; C1, bidi and the other invisibles may only occur inside
    # strings, where a \\u escape is the same value, so scripts get the data and terminals stay safe.
    sys.stdout.write(_CONTROL.sub(_json_escape, text) + "\n")


def print_json_error(message: str, kind: str, exit_code: int) -> None:
    """The one JSON shape of a failure (the sentence goes to stderr as without --json)."""
    print_json({"error": {"message": message, "kind": kind, "exit_code": exit_code}})


def error_kind(exc: Exception) -> str:
    """`NotFound` → `not_found`, `ConfigError` → `config`: an error's class as scripts read it."""
    name = type(exc).__name__.removesuffix("Error") or "error"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


class When:
    """A stored UTC time shown in a table: compact in local time (`12-01 14:03`; another year
    `2025-12-01`), in full with --wide. Build it with `when()`."""

    def __init__(self, iso: str) -> None:
        self.iso = iso

    def render(self, wide: bool) -> str:
        from datetime import datetime

        try:
            moment = datetime.fromisoformat(self.iso.replace("Z", "+00:00")).astimezone()
        except ValueError:
            return self.iso
        if wide:
            return moment.strftime("%Y-%m-%d %H:%M:%S")
        if moment.year == datetime.now().astimezone().year:
            return moment.strftime("%m-%d %H:%M")
        return moment.strftime("%Y-%m-%d")


def when(iso: str | None, missing: str = "") -> When | str:
    """A table cell for a stored time; `missing` when there is none."""
    return When(iso) if iso else missing


def plural(n: int, one: str, many: str | None = None) -> str:
    """`1 ticket`, `2 tickets`; `many` for irregular words (`mailbox`, `mailboxes`)."""
    return f"{n} {one if n == 1 else many or one + 's'}"


TABLE_GAP = 2  # spaces between columns
MIN_CELL = 5  # a column is cut to this before its neighbours give way (fewer only when nothing else fits)


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    footer: str | None = None,
    wide: bool = False,
    empty: str | None = None,
) -> None:
    """A table of already-safe strings (callers pass `safe()` text for anything from mail): one line
    per row at the terminal's width, the widest columns cut first with an ellipsis; `wide` shows every
    cell in full however wide that makes it. Cells may be `when()` times; whole numbers align right.
    `footer` is a line under it (the total); with no rows, `empty` is said instead of the table."""
    from rich.table import Table
    from rich.text import Text

    values = [list(row) for row in rows]
    cells = [[_cell(value, wide) for value in row] for row in values]
    if not cells and empty is not None:
        say(empty)
        if footer:
            say(footer)
        return
    headers = [Text(str(c)) for c in columns]
    natural = [max([headers[i].cell_len, *(row[i].cell_len for row in cells)]) for i in range(len(columns))]
    out = console()
    room = out.width - TABLE_GAP * (len(columns) - 1)
    widths = natural if wide else fit_widths(natural, room)
    if wide:
        out = console(width=max(out.width, sum(widths) + TABLE_GAP * (len(columns) - 1)))
    table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="bold", expand=False)
    numeric = [bool(values) and all(_is_number(row[i]) for row in values) for i in range(len(columns))]
    for header, width, right in zip(headers, widths, numeric, strict=True):
        table.add_column(header, width=width, no_wrap=True, overflow="ellipsis", justify="right" if right else "left")
    for row in cells:
        table.add_row(*row)
    out.print(f"[bold]{safe(title)}[/]", soft_wrap=True)  # not Rich's title: it pads to the table's width
    out.print(table)
    if footer:
        say(footer)


def _is_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _cell(value: Any, wide: bool) -> Any:
    from rich.text import Text

    if value is None:
        return Text("")
    if isinstance(value, When):
        return Text(value.render(wide))
    text = Text.from_markup(str(value))
    if "\n" in text.plain:  # one line per row, always
        text = Text(" ").join(text.split("\n"))
    return text


def fit_widths(natural: Sequence[int], room: int) -> list[int]:
    """Column widths that fit `room`: the widest columns give way first, each down to the width of the
    next widest, until the total fits; none below MIN_CELL unless even that does not fit."""
    widths = list(natural)
    floor = MIN_CELL
    while sum(widths) > room:
        top = max(widths)
        if top <= floor:
            if floor == 1:
                break
            floor -= 1
            continue
        widest = [i for i, w in enumerate(widths) if w == top]
        below = max([w for w in widths if w < top] + [floor])
        excess = sum(widths) - room
        # take what is over from the widest together, but not below the next level
        cut = min(top - below, -(-excess // len(widest)))
        for i in widest:
            widths[i] = max(top - cut, floor)
    return widths


def print_record(title: str, data: dict[str, Any]) -> None:
    """Key/value pairs as a two-column table."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in data.items():
        shown = "" if value is None else ", ".join(value) if isinstance(value, (list, tuple)) else value
        table.add_row(key, safe(shown))
    console().print(table)


def who(name: str | None, email: str | None) -> str:
    """A person as staff read them: `Name <address>`, or whichever of the two there is."""
    if name and email:
        return f"{name} <{email}>"
    return name or email or ""


def write_raw(data: bytes) -> None:
    """Bytes as stored (a mail as received) for a pipe or file; on a terminal, with control characters
    made visible."""
    if sys.stdout.isatty():
        console().print(safe(data.decode("utf-8", "replace")), soft_wrap=True)
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def say(message: str) -> None:
    """A line for people on stdout (plain, no markup interpretation, never wrapped)."""
    console().print(safe(message), soft_wrap=True)


def warn(message: str) -> None:
    """A warning for people on stderr: something works, but probably not as meant."""
    error_console().print(f"[bold yellow]Warning:[/] {safe(message)}")


def interactive() -> bool:
    """Whether a person is there to answer a question (standard input is a terminal)."""
    return sys.stdin.isatty()


def confirm(question: str, yes: bool) -> None:
    """Ask before removing something; `--yes` answers for scripts. Without a terminal to ask on and
    without --yes, refuse: a script must say what it means."""
    from ticketctl.engine.errors import NotAllowed

    if yes:
        return
    if not interactive():
        raise NotAllowed(f"{question.rstrip('?')}: there is no terminal to ask on; add --yes to confirm it.")
    if not typer.confirm(question, default=False):
        raise NotAllowed("Nothing was removed.")


def _json_mode(ctx: typer.Context, value: bool) -> bool:
    if value:
        state(ctx).json = True
    return value


JsonOption = typer.Option(
    False,
    "--json",
    help='Print JSON for scripts: what the command shows or changed, or an "error" object when it fails.',
    callback=_json_mode,
    is_eager=True,
)
WideOption = typer.Option(False, "--wide", help="Show every column in full, even if rows get wider than the terminal.")
YesOption = typer.Option(False, "--yes", "-y", help="Do it without asking (for scripts).")


def paging(limit: int, page: int | None, offset: int | None) -> int:
    """The first row to show from --limit with --page or --offset."""
    from ticketctl.engine.errors import ConfigError

    if page is not None and offset is not None:
        raise ConfigError("Give either --page or --offset, not both.")
    return offset if offset is not None else ((page or 1) - 1) * limit


def page_footer(one: str, many: str, offset: int, shown: int, total: int, exact: bool, has_more: bool) -> str:
    """`212 tickets.` or `Tickets 51-100 of 212; more with --offset 100.` (not `exact`: "of more than")."""
    last = offset + shown
    of = f" of {total:,}" if exact else f" of more than {total:,}"
    if offset == 0 and not has_more:
        return f"{last:,} {one if last == 1 else many}."
    if shown == 0:
        return f"No {many} on this page{of}."
    more = f"; more with --offset {last}" if has_more else ""
    return f"{many.capitalize()} {offset + 1}-{last}{of}{more}."


class lazy:  # noqa: N801 - stands in for a module
    """A module imported on first attribute access, so `ticketctl --help` does not load the engine."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)
