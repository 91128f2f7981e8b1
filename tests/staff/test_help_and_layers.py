"""Every staff command explains itself (the engine's freedom from the terminal: tests/test_layout.py)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "command",
    [
        ("tickets", "list"),
        ("tickets", "show"),
        ("tickets", "attachment"),
        ("tickets", "reassign"),
        ("tickets", "status"),
        ("tickets", "resolve"),
        ("status",),
    ],
)
def test_command_has_help(cli, command):
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.stdout
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) > 3  # a sentence of help beyond the usage line
