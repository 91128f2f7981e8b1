"""Every staff command explains itself, and the new engine modules stay free of the terminal."""

from __future__ import annotations

import subprocess
import sys

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


def test_engine_modules_do_not_import_the_terminal():
    code = (
        "import sys; import ticketctl.engine.desk.tickets, ticketctl.engine.admin.health;"
        "import ticketctl.engine.flows.notices;"
        "print(sorted(m for m in ('typer', 'rich', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
