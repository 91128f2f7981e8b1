"""What a write transaction remembers instead of reading again (`Store.locked`): the next log and queue
ids, the bounce address, the ids of contacts met already. Each must stay true through this process's
own writes, and be forgotten when the writes that made it are undone or the transaction ends."""

from __future__ import annotations

import pytest

from ticketctl.engine.enums import Direction, TicketKind
from ticketctl.engine.store import contacts, queue, tickets, types
from ticketctl.engine.store.connection import Store


def _ticket(store: Store) -> int:
    return tickets.open_ticket(
        store, kind=TicketKind.NORMAL, type_id=None, mailbox_id=None, contact_id=None, subject="s",
        from_email="a@example.com", from_name="",
    ).id  # fmt: skip


def _log(store: Store, ticket_id: int, log_id: int | None = None) -> int:
    return tickets.add_log(store, tickets.NewLog(ticket_id=ticket_id, direction=Direction.IN), log_id=log_id)


def test_log_ids_follow_every_log_written_in_the_transaction(store: Store) -> None:
    with store.transaction():
        ticket_id = _ticket(store)
        first = tickets.next_log_id(store)
        assert _log(store, ticket_id) == first  # a log without an id given takes the next one
        allocated = tickets.next_log_id(store)
        assert allocated == first + 1
        assert _log(store, ticket_id, allocated) == allocated
        assert tickets.next_log_id(store) == allocated + 1


def test_ids_allocated_in_an_undone_savepoint_are_read_again(store: Store) -> None:
    with store.transaction():
        ticket_id = _ticket(store)
        _log(store, ticket_id)
        with pytest.raises(RuntimeError), store.transaction():
            _log(store, ticket_id, tickets.next_log_id(store))
            _log(store, ticket_id, tickets.next_log_id(store))
            raise RuntimeError("undo the savepoint")
        row = store.one("SELECT max(id) FROM ticket_logs")
        assert tickets.next_log_id(store) == row[0] + 1


def test_another_process_writing_between_transactions_is_seen(store: Store) -> None:
    other = Store(store.path, store.data_dir)
    try:
        with store.transaction():
            ticket_id = _ticket(store)
            tickets.next_log_id(store)
        with other.transaction():
            written = _log(other, ticket_id)
        with store.transaction():
            assert tickets.next_log_id(store) == written + 1
    finally:
        other.close()


def test_queue_ids_follow_the_rows_queued(store: Store) -> None:
    mail = queue.NewMail(
        ticket_id=None, log_id=None, purpose="reply", from_email="f@example.com", from_name="", to_email="t@x.org",
        to_name="", cc="", reply_to=None, subject="s", body_text="b", body_html=None, message_id="m1@example.com",
        in_reply_to=None, references="", envelope_from="", attachments=(), auto_submitted=False,
    )  # fmt: skip
    with store.transaction():
        first = queue.next_id(store)
        queue.add(store, first, mail, (("t@x.org", "to"),))
        assert queue.next_id(store) == first + 1


def test_a_contact_whose_address_changed_is_looked_up_again(store: Store) -> None:
    with store.transaction():
        admin = contacts.upsert(store, "admin@example.com", role="admin")
        contacts.update(store, admin, contacts.NewContact("boss@example.com", "", "admin"))  # type: ignore[arg-type]
        again = contacts.upsert(store, "admin@example.com", role="admin")
        assert again != admin
        assert contacts.upsert(store, "boss@example.com") == admin


def test_a_contact_made_in_an_undone_savepoint_is_made_again(store: Store) -> None:
    with store.transaction():
        with pytest.raises(RuntimeError), store.transaction():
            contacts.upsert(store, "admin@example.com", role="admin")
            raise RuntimeError("undo the savepoint")
        made = contacts.upsert(store, "admin@example.com", role="admin")
        assert contacts.get(store, made) is not None


def test_the_bounce_address_follows_a_type_written_in_the_transaction(store: Store) -> None:
    store.conn.execute("INSERT INTO mailboxes (name, kind, created_at, updated_at) VALUES ('b', 'maildir', '', '')")
    with store.transaction():
        assert types.bounce_address(store) is None
        types.insert(
            store,
            {"name": "Bounces", "task": "bounce_back", "email_to": '["bounces@example.com"]', "workflow_tag": "B",
             "mailbox_id": 1, "active": 1},
        )  # fmt: skip
        assert types.bounce_address(store) == "bounces@example.com"
