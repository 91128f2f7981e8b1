"""The app as a whole: help for every command, config discovery and its errors, import hygiene."""

import subprocess
import sys

import pytest


def test_help_lists_groups_with_descriptions(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for group in ("mailbox", "type", "init"):
        assert group in result.stdout


# Every command's help, --json and choices: tests/cli/test_conventions.py.


def test_config_file_env_and_db_override(cli, workdir):
    (workdir / "conf").mkdir()
    (workdir / "conf" / "t.yaml").write_text("database: db/tickets.sqlite\nlimits:\n  max_message_bytes: 1000\n")
    result = cli("--config", "conf/t.yaml", "init")
    assert result.exit_code == 0, result.stderr
    assert (workdir / "conf" / "db" / "tickets.sqlite").exists()
    result = cli("init", env={"TICKETCTL_CONFIG": "conf/t.yaml", "TICKETCTL_DB": str(workdir / "other.db")})
    assert result.exit_code == 0
    assert (workdir / "other.db").exists()


def test_config_errors_are_one_sentence(cli, workdir):
    (workdir / "ticketctl.yaml").write_text("database: [unclosed\n")
    bad_yaml = cli("mailbox", "list")
    assert bad_yaml.exit_code == 1
    assert "ticketctl.yaml is not valid YAML at line" in bad_yaml.stderr
    (workdir / "ticketctl.yaml").write_text("limits:\n  max_mesage_bytes: 10\n")
    unknown = cli("mailbox", "list")
    assert unknown.exit_code == 1
    assert "'limits.max_mesage_bytes' is not a known key" in unknown.stderr
    (workdir / "ticketctl.yaml").write_text("outbox:\n  max_attempts: many\n")
    wrong_type = cli("mailbox", "list")
    assert wrong_type.exit_code == 1
    assert "'outbox.max_attempts' is 'many'; expected a whole number" in wrong_type.stderr
    missing = cli("--config", "nope.yaml", "mailbox", "list")
    assert missing.exit_code == 1
    assert "nope.yaml does not exist" in missing.stderr
    for result in (bad_yaml, unknown, wrong_type, missing):
        assert "Traceback" not in result.stderr


def test_example_config_is_valid(workdir):
    from pathlib import Path

    from ticketctl.engine.config import load_config

    example = Path(__file__).resolve().parents[2] / "config.example.yaml"
    config = load_config(example)
    assert config.limits.max_message_bytes == 25 * 1024 * 1024
    defaults = load_config(None)
    assert (config.rate_limits, config.suppression) == (defaults.rate_limits, defaults.suppression)
    assert [str(w) for w in config.rate_limits.per_address] == ["30 in 10 minutes", "300 in 24 hours"]


def test_a_rate_window_that_cannot_be_read_is_one_sentence(cli, workdir):
    for value, expected in (
        ('["10 per 10m"]', "'rate_limits.per_address[0]' is '10 per 10m'; expected a window like \"10 in 10m\""),
        ('["0 in 10m"]', "'rate_limits.per_address[0]' is '0 in 10m'; expected a window like"),
        ('"10 in 10m"', "'rate_limits.per_address' is '10 in 10m'; expected a list of values ([] for none)."),
    ):
        (workdir / "ticketctl.yaml").write_text(f"rate_limits:\n  per_address: {value}\n")
        result = cli("queue", "list")
        assert result.exit_code == 1 and expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_engine_imports_no_terminal_libraries():
    code = (
        "import sys, pkgutil, importlib, ticketctl.engine as e\n"
        "for m in pkgutil.walk_packages(e.__path__, 'ticketctl.engine.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [m for m in ('typer', 'rich', 'click') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


HELP_IMPORTS = (
    "import sys\n"
    "sys.argv = ['ticketctl', *sys.argv[1:]]\n"
    "from ticketctl.cli import main\n"
    "try:\n"
    "    main()\n"
    "except SystemExit as exc:\n"
    "    assert exc.code in (0, None), exc.code\n"
    "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
)


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        *(
            (group, "--help")
            for group in (
                "mailbox",
                "type",
                "tickets",
                "mail",
                "queue",
                "canned",
                "oauth",
                "contacts",
                "courses",
                "assignments",
            )
        ),
    ],
)
def test_help_loads_no_engine_database_or_yaml(args):
    """Help is what people type first; it must not wait for the engine, SQLite, YAML or Jinja to load."""
    run = subprocess.run([sys.executable, "-c", HELP_IMPORTS, *args], capture_output=True, text=True, check=True)
    assert "Usage: ticketctl" in run.stdout
    loaded = set(run.stderr.split())
    engine = {m for m in loaded if m.startswith("ticketctl.engine.")}
    # plain data the help lists (statuses, roles): no engine behind them
    cheap = {
        "ticketctl.engine.errors",
        "ticketctl.engine.enums",
        "ticketctl.engine.desk",
        "ticketctl.engine.desk.statuses",
    }
    assert engine <= cheap, sorted(engine)
    assert not loaded & {"sqlite3", "yaml", "jinja2"}
    if args == ("--help",):  # a group's help runs the root callback, and typer checks its --config with pydantic
        assert not loaded & {"email", "json", "logging", "tempfile"}
