"""Small charts drawn with block characters as Rich text: stacked bars and sparklines (for a terminal;
piped output gets the numbers alone)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SPARKS = "▁▂▃▄▅▆▇█"
# One fill and one colour per series, so that the series stay apart without colour (NO_COLOR) too.
SERIES = (("█", "cyan"), ("▓", "magenta"), ("▒", "yellow"), ("░", "green"))


def bar(parts: Sequence[tuple[float, int]], maximum: float, width: int) -> Any:
    """A bar of `width` cells at full `maximum`, one segment per (value, series index) in SERIES's
    fills and colours; a value too small for a cell still shows as a thin line."""
    from rich.text import Text

    text = Text(no_wrap=True, overflow="crop")
    if maximum <= 0:
        return text
    total, drawn = 0.0, 0
    for value, series in parts:
        total += value
        cells = round(total * width / maximum) - drawn
        fill, style = SERIES[series % len(SERIES)]
        text.append(fill * cells, style=style)
        drawn += cells
    if drawn == 0 and total > 0:
        text.append("▏", style=SERIES[parts[0][1] % len(SERIES)][1])
    return text


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value, its height in eight steps from zero to the largest value (a baseline at
    zero, so that a small change never looks like a large one); a gap for none."""
    top = max((v for v in values if v is not None), default=0)
    steps = len(SPARKS) - 1
    return "".join(" " if v is None else SPARKS[round(v * steps / top) if top > 0 else 0] for v in values)
