"""Migration 4 gives tickets made before it the participants they had: their customer, who wrote into
them, and whom the customer's mails copied; never a type's own address or its staff."""

from __future__ import annotations

import sqlite3

from ticketctl.engine.store.connection import Store, _split
from ticketctl.engine.store.schema import MIGRATIONS

T0 = "2026-01-01T00:00:00Z"


def test_tickets_from_before_the_participants_table_keep_their_participants(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:3]:
        for statement in _split(migration):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.executescript(
        f"""
        INSERT INTO mailboxes (id, name, kind, created_at, updated_at) VALUES (1, 'support', 'maildir', '{T0}', '{T0}');
        INSERT INTO ticket_types (id, name, task, email_to, workflow_tag, mailbox_id, admin_email, email_forward,
            created_at, updated_at) VALUES (1, 'Support', 'simple_storage', '["support@example.com"]', 'Support', 1,
            'lead@example.com', 'desk@example.com', '{T0}', '{T0}');
        INSERT INTO tickets (id, type_id, subject, from_email, from_name, created_at, updated_at)
            VALUES (1, 1, 'Printer', 'jane@customer.example', 'Jane', '{T0}', '{T0}');
        INSERT INTO ticket_logs (ticket_id, direction, from_email, cc, created_at) VALUES
            (1, 'in', 'jane@customer.example', 'carl@customer.example, Support@Example.com', '{T0}'),
            (1, 'out', 'support@example.com', 'desk@example.com', '{T0}'),
            (1, 'in', 'lead@example.com', 'boss@example.com', '{T0}'),
            (1, 'in', 'Dora@customer.example', '', '{T0}');
        """
    )
    conn.commit()
    conn.close()

    store = Store(path, tmp_path / "data")
    rows = store.query("SELECT email, role FROM ticket_participants WHERE ticket_id = 1 ORDER BY email")
    assert [tuple(r) for r in rows] == [
        ("carl@customer.example", "cc"),
        ("dora@customer.example", "from"),
        ("jane@customer.example", "customer"),
    ]
    store.close()
