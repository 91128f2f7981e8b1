"""Reading a CSV file that staff import (contacts, enrolments): a header row naming the columns, then one
record per row, each with the line it starts on so a refusal can name it.

An import is all or nothing: the caller checks every row first and collects what is wrong with each
(`Problems`); one bad row refuses the whole file, naming the lines, before anything is written.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ticketctl.engine.errors import ConfigError

MAX_SHOWN = 10  # bad rows named in the refusal; the rest are counted


@dataclass(frozen=True)
class Row:
    line: int  # where the record starts in the file (the header is line 1)
    values: dict[str, str]  # column -> the cell, stripped ('' when the row is short)

    def get(self, column: str) -> str:
        return self.values.get(column, "")


def read(problems: Problems, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[Row]:
    """The rows of `problems.path` (a row with more cells than columns is one of the problems); columns
    are matched without case. Refuses a file that cannot be read, lacks a required column or has a
    column of another name."""
    path = problems.path
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            return _rows(problems, csv.reader(f), required, optional)
    except OSError as exc:
        raise ConfigError(f"Cannot read {path} ({exc.strerror}); check the path.") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV and try again.") from exc
    except csv.Error as exc:
        raise ConfigError(f"{path} is not a readable CSV file ({exc}); nothing was imported.") from exc


def _rows(problems: Problems, reader: Any, required: tuple[str, ...], optional: tuple[str, ...]) -> list[Row]:
    path = problems.path
    header = [h.strip().lower() for h in next(reader, [])]
    known = (*required, *optional)
    missing = [c for c in required if c not in header]
    unknown = [h for h in header if h not in known]
    if missing or unknown or len(set(header)) != len(header):
        what = "names a column twice"
        if missing or unknown:
            what = f"has no column {', '.join(missing)}" if missing else f"has the column(s) {', '.join(unknown)}"
        raise ConfigError(
            f"{path} {what}; its first line must name the columns: {', '.join(required)}"
            + (f", and optionally {', '.join(optional)}" if optional else "")
            + "."
        )
    rows = []
    start = reader.line_num + 1
    for cells in reader:
        if any(c.strip() for c in cells):
            padded = [c.strip() for c in cells] + [""] * (len(header) - len(cells))
            row = Row(start, dict(zip(header, padded, strict=False)))
            if any(padded[len(header) :]):
                problems.add(row, f"it has {len(cells)} cells, but the first line names {len(header)} columns")
            rows.append(row)
        start = reader.line_num + 1
    return rows


@dataclass
class Problems:
    """What is wrong with the rows of one file, refused together."""

    path: Path
    found: list[str] = field(default_factory=list)

    def add(self, row: Row, problem: str) -> None:
        self.found.append(f"line {row.line}: {problem}")

    def refuse_any(self) -> None:
        if not self.found:
            return
        shown = "; ".join(self.found[:MAX_SHOWN])
        more = f"; and {len(self.found) - MAX_SHOWN} more" if len(self.found) > MAX_SHOWN else ""
        rows = "a bad row" if len(self.found) == 1 else f"{len(self.found)} bad rows"
        raise ConfigError(f"{self.path} has {rows}, so nothing of it was imported: {shown}{more}.")
