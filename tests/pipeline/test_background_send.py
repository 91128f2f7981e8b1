"""A run with a backlog sends from a child process while it takes mail in; nothing goes twice."""

import json

from tests.pipeline.helpers import deliver, mail, setup_support
from tests.servers.smtp import free_port
from ticketctl.engine.config import load_config
from ticketctl.engine.intake import pipeline

COUNT = pipeline.BACKGROUND_SEND_MIN + 20
# every notice goes to the one admin: no rate window here, these tests are about sending a backlog
NO_WINDOWS = "rate_limits:\n  per_address: []\n  per_ticket: []\n"


def test_a_backlog_is_sent_while_it_is_taken_in(cli, store, workdir, monkeypatch):
    maildir = workdir / "mail"
    setup_support(store, maildir)
    (workdir / "ticketctl.yaml").write_text(NO_WINDOWS)
    deliver(maildir, *(mail(frm=f"c{i}@customer.example", subject=f"Question {i}") for i in range(COUNT)))
    left_for_the_run = []
    drain = pipeline._drain

    def final_drain(store, config, report):
        before = report.sent
        drain(store, config, report)
        left_for_the_run.append(report.sent - before)

    monkeypatch.setattr(pipeline, "_drain", final_drain)
    result = cli("process", "--json", "--notify")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sent"] == COUNT and report["send_failed"] == 0
    assert left_for_the_run == [0], "the background sender sent everything before the run's own drain"
    rows = store.query("SELECT status, attempts FROM email_queue")
    assert len(rows) == COUNT and {(r["status"], r["attempts"]) for r in rows} == {("sent", 1)}
    assert len(list((workdir / "ticketctl-data" / "outbox").glob("*.eml"))) == COUNT


def test_the_background_sender_leaves_the_checkpoint_to_the_runs_wal_threshold(store, workdir):
    """A commit of the sender's (a claim, a record) does not copy into the database the WAL the run
    wrote (under INTAKE_WAL_PAGES): SQLite's own threshold of 1,000 pages would have it do so at every
    commit while a run takes mail in."""
    from tests.outbox.conftest import make_ticket, queue_mail
    from ticketctl.engine.outbound.background import BackgroundDrain
    from ticketctl.engine.store.connection import INTAKE_WAL_PAGES

    (workdir / "ticketctl.yaml").write_text(NO_WINDOWS)
    config = load_config()
    store.tune_for_intake()
    ticket = make_ticket(store)
    with store.transaction():
        queue_mail(store, config, ticket)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    database = config.database.stat().st_size
    pages = INTAKE_WAL_PAGES // 4  # what a run writes between two of its checkpoints: 2,000 pages of raw mail
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO raw_messages (sha256, data) VALUES (?, ?)",
            [(f"{i:064x}", bytes([i % 251]) * 4000) for i in range(pages)],
        )
    assert config.database.stat().st_size == database, "the run's own commit did not checkpoint"

    sent = BackgroundDrain(config).finish()

    assert sent.sent == 1 and sent.error is None
    assert store.one("SELECT status FROM email_queue")["status"] == "sent"
    assert config.database.stat().st_size == database, "the sender copied the run's WAL into the database"


def test_a_mail_server_that_is_down_is_reported_once_and_counts_one_attempt(cli, store, workdir):
    maildir = workdir / "mail"
    setup_support(store, maildir)
    (workdir / "ticketctl.yaml").write_text(
        f"outbox:\n  kind: smtp\n  smtp:\n    host: 127.0.0.1\n    port: {free_port()}\n    security: none\n"
        + NO_WINDOWS
    )
    assert load_config().outbox.kind == "smtp"
    deliver(maildir, *(mail(frm=f"c{i}@customer.example", subject=f"Question {i}") for i in range(COUNT)))
    result = cli("process", "--json", "--notify")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["mailboxes"][0]["counts"] == {"new_ticket": COUNT}
    assert "Cannot reach the mail server" in report["send_error"]
    rows = store.query("SELECT status, attempts FROM email_queue")
    assert {(r["status"], r["attempts"]) for r in rows} == {("pending", 1)}
