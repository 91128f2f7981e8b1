"""`ticketctl process` against a real Dovecot over IMAP and POP3: every disposition, the rows
written, the mail queued (to whom, with which tag) and what is left on the server."""

import json

import pytest

from tests.pipeline.helpers import add_question_type, mail
from tests.servers.fixtures import mailbox_fields
from ticketctl.engine.admin import mailboxes


@pytest.fixture(params=["imap", "pop3"])
def server_box(request, cli, store, dovecot, mail_user, workdir):
    (workdir / "ticketctl.yaml").write_text("limits:\n  max_message_bytes: 20000\n")
    fields = mailbox_fields(dovecot, mail_user, request.param, "starttls", "password", name="support")
    mailboxes.add(store, **fields)
    add_question_type(store, "support")
    return dovecot, mail_user.name


def run(cli):
    result = cli("process", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["mailboxes"][0]["counts"]


def test_every_disposition_over_a_real_server(cli, store, server_box):
    dovecot, user = server_box
    dovecot.deliver(
        user,
        [
            mail(message_id="<first@customer.example>"),
            mail(to="sales@example.com", subject="Unroutable"),
            b"\x00\x01 not mail \xff\n",
            mail(subject="Huge", body="x" * 30000 + "\n"),
            mail(frm="lead@example.com", subject="Note to self"),
        ],
    )
    assert run(cli) == {"new_ticket": 1, "invalid_ticket": 1, "error_ticket": 2, "rejected": 1}
    assert dovecot.subjects(user) == {"Huge"}, "only the oversized message stays on the server"
    notice = store.one("SELECT * FROM email_queue WHERE ticket_id = 1")
    assert notice["to_email"] == "lead@example.com"
    tag = notice["subject"].split("]")[0] + "]"
    assert tag.startswith("[Support #1-")

    dovecot.deliver(
        user,
        [
            mail(frm="lead@example.com", subject=f"Re: {notice['subject']}", body="Answer by tag"),
            mail(frm="jane@customer.example", subject="Re: no tag here", In_Reply_To=f"<{notice['message_id']}>"),
            mail(frm="mallory@evil.example", subject=f"Re: {notice['subject']}"),
            mail(message_id="<first@customer.example>", Delivered_To="support@example.com"),
        ],
    )
    assert run(cli) == {"reply": 2, "rejected": 1, "duplicate": 1, "error_ticket": 1}
    replies = store.query("SELECT rule, ticket_id FROM ledger WHERE disposition = 'reply' ORDER BY id")
    assert [(r["rule"], r["ticket_id"]) for r in replies] == [("subject-tag", 1), ("references", 1)]
    relays = store.query("SELECT to_email, subject FROM email_queue WHERE purpose = 'relay' ORDER BY id")
    assert [r["to_email"] for r in relays] == ["jane@customer.example", "lead@example.com"]
    assert all(r["subject"].startswith("[Support #1-") for r in relays)
    assert store.one("SELECT count(*) FROM tickets")[0] == 4
    assert dovecot.subjects(user) == {"Huge"}
    assert store.one("SELECT count(*) FROM ledger WHERE raw_id IS NOT NULL OR raw_path IS NOT NULL")[0] == 8
