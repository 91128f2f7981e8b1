"""YAML configuration with environment overrides, validated into frozen dataclasses.

Lookup order: an explicit path (`--config`), then `$TICKETCTL_CONFIG`, then `./ticketctl.yaml`;
with none of them, defaults that work in the current directory. `$TICKETCTL_DB` overrides the
database path. Relative paths in a file are taken relative to that file's folder.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ticketctl.engine.errors import ConfigError

DEFAULT_FILE = "ticketctl.yaml"
MIB = 1024 * 1024


@dataclass(frozen=True)
class LimitsConfig:
    max_message_bytes: int = 25 * MIB
    batch_messages: int = 100
    connect_timeout: float = 30.0
    read_timeout: float = 120.0
    first_run_backlog: int = 50


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 587
    security: Literal["ssl", "starttls", "none"] = "starttls"
    auth: Literal["none", "password", "oauth2"] = "none"
    username: str | None = None
    password_env: str | None = None
    oauth_mailbox: str | None = None
    verify_tls: bool = True
    ca_file: Path | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class OutboxConfig:
    kind: Literal["directory", "smtp"] = "directory"
    directory: Path = Path("ticketctl-data/outbox")
    from_address: str = "ticketctl@localhost"
    max_attempts: int = 8
    retry_base_seconds: int = 60
    smtp: SmtpConfig = field(default_factory=SmtpConfig)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_UNIT_NAMES = {1: "second", 60: "minute", 3600: "hour", 86_400: "day"}


@dataclass(frozen=True)
class RateWindow:
    """At most `count` mails within `seconds`; written in the configuration as "10 in 10m"."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> RateWindow:
        found = re.fullmatch(r"\s*(\d+)\s+in\s+(\d+)\s*([smhd])\s*", text.lower())
        if not found or int(found[1]) == 0 or int(found[2]) == 0:
            raise ValueError(text)
        return cls(int(found[1]), int(found[2]) * _UNITS[found[3]])

    def __str__(self) -> str:
        unit = max(u for u in _UNIT_NAMES if self.seconds % u == 0 and (u < 86_400 or self.seconds > 86_400))
        n = self.seconds // unit
        return f"{self.count} in {n} {_UNIT_NAMES[unit]}{'s' if n != 1 else ''}"


@dataclass(frozen=True)
class RateLimitsConfig:
    """How much mail the engine sends by itself (notices, relays; not a staff member's own reply)."""

    per_address: tuple[RateWindow, ...] = (RateWindow(30, 600), RateWindow(300, 86_400))
    per_ticket: tuple[RateWindow, ...] = (RateWindow(10, 600), RateWindow(40, 86_400))


@dataclass(frozen=True)
class SuppressionConfig:
    """When an address that bounced gets no mail until staff resolve the bounce."""

    temporary_failures: int = 3  # this many unresolved temporary failures count as permanent; 0: never
    within_days: int = 7


@dataclass(frozen=True)
class Config:
    database: Path = Path("ticketctl.db")
    data_dir: Path = Path("ticketctl-data")
    lock_file: Path | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    templates_dir: Path | None = None
    secret_key_file: Path | None = None  # None: the database's path with .key (store/secrets.py)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    rate_limits: RateLimitsConfig = field(default_factory=RateLimitsConfig)
    suppression: SuppressionConfig = field(default_factory=SuppressionConfig)
    source: Path | None = None  # the file this came from; not a key
    database_origin: str = "the default"  # where `database` came from, for messages; not a key

    @property
    def lock_path(self) -> Path:
        return self.lock_file or self.database.with_name(self.database.name + ".lock")


def find_config_file(explicit: Path | None = None) -> Path | None:
    """The config file to read, or None to run on defaults."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"The configuration file {explicit} does not exist; check the --config path.")
        return explicit
    env = os.environ.get("TICKETCTL_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"TICKETCTL_CONFIG names {path}, which does not exist; fix or unset the variable.")
        return path
    local = Path(DEFAULT_FILE)
    return local if local.is_file() else None


def load_config(explicit: Path | None = None) -> Config:
    """Find, read and validate the configuration, then apply environment overrides."""
    path = find_config_file(explicit)
    data: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        data = _read_yaml(path)
        base = path.resolve().parent
    config = _build(Config, data, where=str(path or "defaults"), prefix="")
    config = _resolve_paths(config, base)
    if os.environ.get("TICKETCTL_DB"):
        config = dataclasses.replace(config, database=Path(os.environ["TICKETCTL_DB"]).resolve())
        origin = "from $TICKETCTL_DB"
    elif "database" in data:
        origin = f"from 'database' in {path}"
    elif path is not None:
        origin = f"the default, as {path} sets no 'database'"
    else:
        origin = f"the default, as no configuration file was found: no --config, $TICKETCTL_CONFIG or ./{DEFAULT_FILE}"
    return dataclasses.replace(config, source=path, database_origin=origin)


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the configuration file {path}: {exc}.") from exc
    try:
        _refuse_duplicate_keys(path, yaml.compose(text, Loader=yaml.SafeLoader))
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"The configuration file {path} is not valid YAML{at}; fix the syntax there.") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"The configuration file {path} must hold a mapping of keys to values.")
    return data


def _refuse_duplicate_keys(path: Path, node: Any, prefix: str = "") -> None:
    """PyYAML keeps the last of a key given twice without a word; we refuse it, naming both lines."""
    import yaml

    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(path, item, prefix)
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[str, int] = {}
    for key, value in node.value:
        name = f"{prefix}{key.value}"
        line = key.start_mark.line + 1
        if name in seen:
            raise ConfigError(f"In {path}, '{name}' is given twice (lines {seen[name]} and {line}); keep one of them.")
        seen[name] = line
        _refuse_duplicate_keys(path, value, name + ".")


def _build(cls: type, data: Any, where: str, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"In {where}, '{prefix.rstrip('.')}' must be a mapping of keys to values.")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.name not in ("source", "database_origin")}
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in known:
            raise ConfigError(f"In {where}, '{name}' is not a known key; expected one of: {', '.join(sorted(known))}.")
        values[key] = _coerce(hints[key], value, where, name)
    return cls(**values)


def _coerce(hint: Any, value: Any, where: str, name: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, where, name)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(str(a) for a in args)
            raise ConfigError(f"In {where}, '{name}' is {value!r}; expected one of: {choices}.")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"In {where}, '{name}' is {value!r}; expected a list of values ([] for none).")
        return tuple(_coerce(args[0], item, where, f"{name}[{n}]") for n, item in enumerate(value))
    if hint is RateWindow:
        try:
            return RateWindow.parse(value if isinstance(value, str) else "")
        except ValueError:
            raise ConfigError(
                f"In {where}, '{name}' is {value!r}; expected a window like \"10 in 10m\" "
                "(a count, 'in', and a duration in s, m, h or d)."
            ) from None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, where, name + ".")
    expected = {
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        str: "a string",
        Path: "a path",
    }[hint]
    ok = (
        isinstance(value, bool)
        if hint is bool
        else isinstance(value, int) and not isinstance(value, bool)
        if hint is int
        else isinstance(value, (int, float)) and not isinstance(value, bool)
        if hint is float
        else isinstance(value, str)
    )
    if not ok:
        raise ConfigError(f"In {where}, '{name}' is {value!r}; expected {expected}.")
    if hint is Path:
        return Path(value).expanduser()
    if hint in (int, float) and value < 0:
        raise ConfigError(f"In {where}, '{name}' is {value!r}; expected a number that is not negative.")
    return hint(value)


def _resolve_paths(config: Config, base: Path) -> Config:
    def absolute(p: Path) -> Path:
        return p if p.is_absolute() else base / p

    def maybe(p: Path | None) -> Path | None:
        return None if p is None else absolute(p)

    smtp = dataclasses.replace(config.outbox.smtp, ca_file=maybe(config.outbox.smtp.ca_file))
    outbox = dataclasses.replace(config.outbox, directory=absolute(config.outbox.directory), smtp=smtp)
    return dataclasses.replace(
        config,
        database=absolute(config.database),
        data_dir=absolute(config.data_dir),
        lock_file=maybe(config.lock_file),
        templates_dir=maybe(config.templates_dir),
        secret_key_file=maybe(config.secret_key_file),
        outbox=outbox,
    )
