"""What every command shares: the per-invocation state (config, store) and output helpers."""

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
    _config: Config | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            from ticketctl.engine.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    @property
    def store(self) -> Store:
        if self._store is None:
            from ticketctl.engine.store import secrets
            from ticketctl.engine.store.connection import Store

            self._store = Store(self.config.database, self.config.data_dir)
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


def console() -> Any:
    from rich.console import Console

    return Console(highlight=False, emoji=False)


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


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A Rich table of already-safe strings; callers pass `safe()` text for anything from mail."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console().print(table)


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


def say(message: str) -> None:
    """A line for people on stdout (plain, no markup interpretation, never wrapped)."""
    console().print(safe(message), soft_wrap=True)


JsonOption = typer.Option(False, "--json", help="Print JSON for scripts instead of a table.")


class lazy:  # noqa: N801 - stands in for a module
    """A module imported on first attribute access, so `ticketctl --help` does not load the engine."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)
