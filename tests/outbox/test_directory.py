"""The embedded default sender: each mail becomes a parseable .eml file in outbox.directory."""

from __future__ import annotations

from tests.outbox.conftest import make_ticket, parse, queue_mail
from ticketctl.engine.config import load_config
from ticketctl.engine.mail import msgid
from ticketctl.engine.outbound import delivery
from ticketctl.engine.store import settings


def test_queue_send_writes_parseable_eml_files(cli, store, workdir):
    ticket = make_ticket(store)
    attached = workdir / "report.bin"
    attached.write_bytes(bytes(range(256)) * 4)
    cli("tickets", "reply", str(ticket.id), "-m", "First answer.", "--attach", str(attached))
    cli("tickets", "reply", str(ticket.id), "-m", "Second answer.")
    result = cli("queue", "send")
    assert result.exit_code == 0, result.stderr
    outbox = workdir / "ticketctl-data" / "outbox"
    assert (
        result.stdout.strip() == f"Written 2 to {outbox} (the directory outbox sends nothing), will retry 0, failed 0."
    )

    files = sorted((workdir / "ticketctl-data" / "outbox").glob("*.eml"))
    assert len(files) == 2
    mails = {m["Message-ID"]: m for m in (parse(f.read_bytes()) for f in files)}
    rows = store.query("SELECT * FROM email_queue ORDER BY id")
    secret = settings.installation_secret(store)
    for row in rows:
        mail = mails[f"<{row['message_id']}>"]
        assert mail["To"] == "Carla Customer <carla@example.org>"
        assert mail["Subject"] == row["subject"]
        assert msgid.parse_verp(secret, mail["Return-Path"].strip("<>")) == row["id"]
        assert row["status"] == "sent"
    first = mails[f"<{rows[0]['message_id']}>"]
    assert first.get_body(("plain",)).get_content().strip() == "First answer."
    (part,) = first.iter_attachments()
    assert part.get_payload(decode=True) == attached.read_bytes()
    again = cli("queue", "send").stdout.strip()
    assert again == f"Written 0 to {outbox} (the directory outbox sends nothing), will retry 0, failed 0."


def test_queue_list_and_show(cli, store):
    ticket = make_ticket(store)
    cli("tickets", "reply", str(ticket.id), "-m", "hello")
    listed = cli("queue", "list")
    assert listed.exit_code == 0
    assert "carla@example.org" in listed.stdout and "pending" in listed.stdout
    missing = cli("queue", "show", "42")
    assert missing.exit_code == 1 and "There is no queued mail 42" in missing.stderr
    bad = cli("queue", "list", "--status", "lost")
    statuses = "'pending', 'held', 'suppressed', 'sending', 'sent', 'failed'"
    assert bad.exit_code == 2 and f"'lost' is not one of {statuses}" in bad.stderr
    cli("queue", "send")
    refused = cli("queue", "retry", "1")
    assert refused.exit_code == 1 and "already sent" in refused.stderr


def test_a_file_that_cannot_be_written_fails_only_its_row(cli, store, workdir):
    ticket = make_ticket(store)
    cli("tickets", "reply", str(ticket.id), "-m", "First answer.")
    cli("tickets", "reply", str(ticket.id), "-m", "Second answer.")
    first, second = store.query("SELECT id, message_id FROM email_queue ORDER BY id")
    outbox = workdir / "ticketctl-data" / "outbox"
    blocked = "".join(c if c.isalnum() or c in ".-_" else "_" for c in first["message_id"])
    (outbox / f".{blocked}.tmp").mkdir(parents=True)  # where the file would be written: it cannot be opened
    result = cli("queue", "send")
    assert (
        result.stdout.strip() == f"Written 1 to {outbox} (the directory outbox sends nothing), will retry 1, failed 0."
    )
    rows = {r["id"]: r for r in store.query("SELECT id, status, last_error FROM email_queue")}
    assert rows[first["id"]]["status"] == "pending" and "Cannot write" in rows[first["id"]]["last_error"]
    assert rows[second["id"]]["status"] == "sent"
    (written,) = outbox.glob("*.eml")
    assert parse(written.read_bytes())["Message-ID"] == f"<{second['message_id']}>"


def test_the_outbox_folder_is_synced_after_the_rename_and_before_the_mail_counts_as_sent(
    cli, store, workdir, monkeypatch
):
    from ticketctl.engine.outbound import senders

    ticket = make_ticket(store)
    cli("tickets", "reply", str(ticket.id), "-m", "First answer.")
    outbox = workdir / "ticketctl-data" / "outbox"
    synced = []
    real = senders.fsync_dir

    def spy(directory):
        status = store.one("SELECT status FROM email_queue")["status"]
        synced.append((directory, status, len(list(directory.glob("*.eml")))))
        real(directory)

    monkeypatch.setattr(senders, "fsync_dir", spy)
    assert cli("queue", "send").exit_code == 0
    assert synced == [(outbox, "sending", 1)], "the file is in place, the row not yet marked"
    assert store.one("SELECT status FROM email_queue")["status"] == "sent"


def test_a_drain_records_each_batch_in_the_commit_that_claims_the_next(store, workdir):
    """A run taking mail in holds the write lock most of the time: the background sender waits for it
    once a batch, not twice (claim, then record)."""
    (workdir / "ticketctl.yaml").write_text("rate_limits:\n  per_address: []\n  per_ticket: []\n")
    config = load_config()
    ticket = make_ticket(store)
    count = 2 * delivery.CLAIM_BATCH + 50
    for i in range(count):
        queue_mail(store, config, ticket, to=f"c{i}@example.org")
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        report = delivery.drain(store, config)
    finally:
        store.conn.set_trace_callback(None)
    assert len(report.sent) == count
    assert len(list((workdir / "ticketctl-data" / "outbox").glob("*.eml"))) == count
    assert statements.count("COMMIT") == 4, "claim; record + claim; record + claim; record"
    assert store.one("SELECT count(*) FROM email_queue WHERE status = 'sent'")[0] == count
