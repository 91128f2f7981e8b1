"""`ticketctl status`: exit 0 when healthy, 1 naming what needs a person."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.staff import builders as b
from ticketctl.engine.admin.health import health
from ticketctl.engine.config import load_config


def ago(**delta):
    return (datetime.now(UTC) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def read(store, name, **fields):
    """A mailbox that `process` reads: an active ticket type names it."""
    box = b.mailbox(store, name, **fields)
    b.ticket_type(store, f"Type-{name}", tag=f"T{box}", mailbox_id=box, email_to=(f"{name}@example.org",))
    return box


@pytest.fixture
def own_from(workdir):
    """A configuration with an address of our own, so that status has nothing to warn about."""
    (workdir / "ticketctl.yaml").write_text("outbox:\n  from_address: desk@example.org\n")


def test_healthy_exits_zero(cli, store, own_from):
    read(store, "alpha")
    b.queued(store, status="sent")
    b.bounce(store, resolved=1)
    result = cli("status")
    assert result.exit_code == 0, result.stdout
    assert "alpha" in result.stdout
    assert "Email queue: 0 pending, 0 sending, 0 failed." in result.stdout
    assert "All healthy." in result.stdout


def test_failed_runs_exit_one_naming_the_mailbox(cli, store):
    read(store, "alpha")
    read(
        store,
        "beta",
        failed_runs=3,
        last_success_at=ago(hours=1),
        last_error="The server refused the login; check the password.",
    )
    result = cli("status")
    assert result.exit_code == 1
    assert (
        "- Mailbox 'beta' failed its last 3 run(s): The server refused the login; check the password." in result.stdout
    )
    assert "'alpha'" not in result.stdout


def test_json_for_monitoring(cli, store):
    read(store, "beta", failed_runs=1, last_error="timeout")
    result = cli("status", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["healthy"] is False
    assert data["mailboxes"][0]["name"] == "beta" and data["mailboxes"][0]["failed_runs"] == 1
    assert data["problems"] == ["Mailbox 'beta' failed its last 1 run(s): timeout."]


def test_a_mailbox_that_silently_stopped(cli, store):
    read(store, "alpha", last_success_at=ago(days=10))
    result = cli("status")
    assert result.exit_code == 1
    assert "Mailbox 'alpha' has not been read successfully since" in result.stdout


def test_a_new_mailbox_not_yet_read_is_not_a_problem(cli, store):
    read(store, "fresh", last_run_at=None, last_success_at=None)
    assert cli("status").exit_code == 0


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_oauth_token_and_client_secret_close_to_expiry(store, workdir):
    read(
        store,
        "m365",
        kind="imap",
        host="outlook.office365.com",
        username="u",
        auth="oauth2",
        refresh_token="secret-token",
        refresh_token_issued_at="2025-12-11T12:00:00Z",
        client_secret_expires_at="2026-03-11",
    )
    read(
        store,
        "fine",
        kind="imap",
        host="outlook.office365.com",
        username="u",
        auth="oauth2",
        refresh_token="secret-token",
        refresh_token_issued_at="2026-02-28T12:00:00Z",
        client_secret_expires_at="2026-12-31",
    )
    report = health(store, load_config(), now=NOW)
    assert not report.healthy
    assert report.problems == [
        "The OAuth refresh token of mailbox 'm365' expires on 2026-03-11, in 10 day(s); sign in again.",
        "The client secret of mailbox 'm365' expires on 2026-03-11, in 9 day(s); "
        "make a new secret in Azure and set it with `ticketctl mailbox edit`.",
    ]
    assert {m.name: m.refresh_token_expires_at for m in report.mailboxes}["m365"] == "2026-03-11T12:00:00Z"


def test_expired_token_and_missing_token(store, workdir):
    read(
        store,
        "old",
        kind="imap",
        host="h",
        username="u",
        auth="oauth2",
        refresh_token="t",
        refresh_token_issued_at=ago(days=91),
    )
    read(store, "unsigned", kind="imap", host="h", username="u", auth="oauth2")
    problems = health(store, load_config()).problems
    assert any(p.startswith("The OAuth refresh token of mailbox 'old' expired on ") for p in problems)
    assert "Mailbox 'unsigned' has no OAuth refresh token; complete its OAuth sign-in." in problems


def test_queue_failures_backlog_and_bounces(cli, store):
    read(store, "alpha")
    b.queued(store, status="failed")
    b.queued(store, status="pending", next_attempt_at=ago(hours=3))
    b.queued(store, status="pending")
    b.bounce(store)
    result = cli("status")
    assert result.exit_code == 1
    out = result.stdout
    assert "Email queue: 2 pending, 0 sending, 1 failed, oldest pending since" in out
    assert "1 outgoing mail(s) failed for good" in out
    assert "1 outgoing mail(s) are overdue by more than 1 hour(s)" in out
    assert "1 bounce(s) are unresolved" in out
    assert "Unresolved bounces: 1." in out


def test_secrets_are_never_printed(cli, store):
    read(
        store,
        "m365",
        kind="imap",
        host="h",
        username="u",
        auth="oauth2",
        refresh_token="super-secret-refresh",
        client_secret="super-secret-client",
    )
    for args in (("status",), ("status", "--json")):
        out = cli(*args).stdout
        assert "super-secret" not in out


def test_a_mailbox_no_active_type_reads_is_listed_not_checked(cli, store, own_from):
    read(store, "alpha")
    b.mailbox(store, "spare", failed_runs=2, last_success_at=ago(days=30), last_error="Mailbox 'spare': gone.")
    result = cli("status")
    assert result.exit_code == 0, result.stdout
    assert "Not read, no active ticket type: spare." in result.stdout
    assert "'spare'" not in result.stdout and "All healthy." in result.stdout
    data = json.loads(cli("status", "--json").stdout)
    assert [m["name"] for m in data["mailboxes"]] == ["alpha"] and data["not_read"] == ["spare"]


def test_a_failed_run_names_the_mailbox_once(cli, store, own_from):
    read(store, "beta", failed_runs=1, last_error="Mailbox 'beta': the host 'x.invalid' cannot be found; check it.")
    result = cli("status")
    assert "- Mailbox 'beta' failed its last 1 run(s): the host 'x.invalid' cannot be found; check it." in result.stdout
    assert result.stdout.count("Mailbox 'beta'") == 1 and ".." not in result.stdout


def test_warns_when_server_mail_only_goes_to_a_directory_and_from_is_the_default(cli, store):
    read(store, "imapbox", kind="imap", host="imap.example.org", username="u")
    result = cli("status")
    assert result.exit_code == 0, "a warning alone does not need a person"
    warning = " ".join(result.stderr.split())
    assert "Warning: Mail is read from 'imapbox' on a server, but the outbox only writes files to" in warning
    assert "Set outbox.kind to smtp" in warning
    assert "outbox.from_address is still the default ticketctl@localhost" in warning
    assert "All healthy." not in result.stdout and "Healthy, but see the warning(s) above." in result.stdout
    assert len(json.loads(cli("status", "--json").stdout)["warnings"]) == 2


def test_mail_left_sending_by_a_send_that_stopped(cli, store):
    import subprocess
    import sys

    from ticketctl.engine.outbound import claims

    b.mailbox(store, "alpha")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    b.queued(store, status="sending", claimed_by=f"{claims.this_process().split('/')[0]}/{gone.pid}/1")
    b.queued(store, status="sending", claimed_by=claims.this_process())  # at work right now
    result = cli("status")
    assert result.exit_code == 1
    assert "Email queue: 0 pending, 2 sending (1 left by a send that stopped), 0 failed." in result.stdout
    assert "1 outgoing mail(s) were left in `sending` by a send that stopped" in result.stdout
    assert cli("status", "--json").stdout.count('"stuck": 1') == 1
