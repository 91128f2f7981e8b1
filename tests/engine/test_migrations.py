"""Upgrading a database: commands started together on a database that needs migrating (the first ones
after an upgrade: cron and a person) all succeed, and the schema is applied once."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import time
from pathlib import Path

import pytest

from ticketctl.engine.store.connection import Store, _split
from ticketctl.engine.store.schema import MIGRATIONS

COMMANDS = (["queue", "list", "--json"], ["tickets", "list", "--json"], ["status", "--json"])


def _old_database(path: Path, version: int) -> None:
    """A database as a ticketctl of schema `version` left it, with a mail waiting in its queue (due later)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for number in range(1, version + 1):
        for statement in _split(MIGRATIONS[number - 1]):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(
        "INSERT INTO email_queue (purpose, from_email, to_email, cc, subject, body_text, message_id,"
        " next_attempt_at, created_at) VALUES ('reply', 'support@example.com', 'carla@example.org',"
        " 'Deputy <deputy@example.com>', 'Hello', 'Hi.', 'old-1@example.com', '2099-01-01T00:00:00Z',"
        " '2026-01-01T00:00:00Z')"
    )
    conn.close()


def _command(workdir: str, args: list[str], barrier: multiprocessing.synchronize.Barrier, log: str) -> None:
    os.chdir(workdir)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    from ticketctl.cli import app

    barrier.wait()
    app(args, prog_name="ticketctl")  # exits with the command's code


@pytest.mark.parametrize("locked", [False, True], ids=["together", "while-another-command-writes"])
def test_three_commands_started_together_on_a_database_that_needs_migrating_all_succeed(workdir, locked):
    database = workdir / "ticketctl.db"
    _old_database(database, 1)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(COMMANDS) + 1)
    logs = [workdir / f"command{n}.log" for n in range(len(COMMANDS))]
    children = [
        context.Process(target=_command, args=(str(workdir), args, barrier, str(log)))
        for args, log in zip(COMMANDS, logs, strict=True)
    ]
    for child in children:
        child.start()
    writer = sqlite3.connect(database, isolation_level=None)
    if locked:
        writer.execute("BEGIN IMMEDIATE")  # another command is writing when they start
    barrier.wait(timeout=60)
    if locked:
        time.sleep(0.5)
        writer.execute("COMMIT")
    for child in children:
        child.join(timeout=60)
    outputs = [log.read_text() for log in logs]
    assert [child.exitcode for child in children] == [0, 0, 0], outputs
    assert not any("Error" in out for out in outputs), outputs
    assert writer.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    writer.close()
    store = Store(database, workdir / "ticketctl-data")
    recipients = store.query("SELECT address, role, status FROM email_recipients ORDER BY id")
    assert [tuple(r) for r in recipients] == [
        ("carla@example.org", "to", "pending"),
        ("deputy@example.com", "cc", "pending"),
    ], "the waiting mail got its recipients, once"
    store.close()
