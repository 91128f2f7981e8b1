"""Shared fixtures: an isolated working directory per test and a CLI runner bound to it (`cli`, with the
database `ticketctl init` makes; `bare_cli`, before any `init`, as on a fresh machine)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ticketctl.cli import app
from ticketctl.engine.config import load_config
from ticketctl.engine.store.connection import Store

pytest_plugins = ("tests.servers.fake_entra", "tests.servers.fixtures")

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh current directory with no config file and no TICKETCTL_* variables: the defaults."""
    for key in list(os.environ):
        if key.startswith("TICKETCTL_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def bare_cli(workdir: Path) -> Callable[..., Result]:
    """Run `ticketctl ARGS` through Typer's CLI runner in the isolated directory, where nothing was set
    up yet (no database: every command but `init` refuses)."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        result = CliRunner().invoke(app, list(args), input=input, env=env)
        return Result(result.exit_code, result.stdout, result.stderr, result.exception)

    return run


@pytest.fixture
def cli(bare_cli: Callable[..., Result]) -> Callable[..., Result]:
    """`bare_cli` after `ticketctl init` made the default database of the directory."""
    done = bare_cli("init")
    assert done.exit_code == 0, done.stderr
    return bare_cli


@pytest.fixture
def store(workdir: Path) -> Store:
    """The store the CLI would open in the isolated directory (created if `init` did not run yet)."""
    config = load_config()
    st = Store(config.database, config.data_dir, create=True)
    yield st
    st.close()
