"""Mail staff send from the terminal threads back through the pipeline: `tickets reply` answered by
the customer, and the notice of `tickets reassign` answered by the admin."""

import pytest

from tests.pipeline.helpers import deliver, mail, setup_support


@pytest.fixture
def maildir(workdir, store):
    path = workdir / "mail"
    setup_support(store, path)
    return path


def last_queued(store):
    return store.one("SELECT * FROM email_queue ORDER BY id DESC LIMIT 1")


@pytest.mark.parametrize("keep_tag", [True, False])
def test_customer_answer_to_tickets_reply_joins_the_ticket(cli, store, maildir, keep_tag):
    deliver(maildir, mail())
    assert cli("process").exit_code == 0
    assert cli("tickets", "reply", "1", "--message", "Have you tried turning it off?").exit_code == 0
    sent = last_queued(store)
    assert sent["to_email"] == "jane@customer.example"
    subject = f"Re: {sent['subject']}" if keep_tag else "Re: Printer on fire"
    deliver(maildir, mail(subject=subject, body="Yes, twice.", In_Reply_To=f"<{sent['message_id']}>"))
    assert cli("process").exit_code == 0
    ledger = store.one("SELECT disposition, rule, ticket_id FROM ledger ORDER BY id DESC")
    assert (ledger["disposition"], ledger["ticket_id"]) == ("reply", 1)
    assert ledger["rule"] == ("subject-tag" if keep_tag else "references")
    assert store.one("SELECT count(*) FROM tickets")[0] == 1
    assert last_queued(store)["to_email"] == "lead@example.com"


def test_admin_answer_to_a_reassigned_ticket_joins_it(cli, store, maildir):
    deliver(maildir, mail(to="sales@example.com"))
    assert cli("process").exit_code == 0
    assert store.one("SELECT kind FROM tickets")["kind"] == "invalid"
    assert cli("tickets", "reassign", "1", "--type", "Support").exit_code == 0
    notice = last_queued(store)
    assert notice["to_email"] == "lead@example.com"
    deliver(maildir, mail(frm="lead@example.com", subject=f"Re: {notice['subject']}", body="On it."))
    assert cli("process").exit_code == 0
    ledger = store.one("SELECT disposition, ticket_id FROM ledger ORDER BY id DESC")
    assert (ledger["disposition"], ledger["ticket_id"]) == ("reply", 1)
    assert last_queued(store)["to_email"] == "jane@customer.example"
