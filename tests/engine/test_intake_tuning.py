"""A run's connection (`Store.tune_for_intake`) holds a batch's changes in its page cache until the
commit writes them to the WAL once: spilled before it, they were written twice and read back."""

from __future__ import annotations

from pathlib import Path

from ticketctl.engine.store.connection import Store

PAGE = 4000  # bytes of one row: one page each
BATCH_PAGES = 1000  # what a batch of 2 MiB of mail changes: its raw bytes, rows and index pages


def test_a_batch_worth_of_changed_pages_reaches_the_wal_only_at_its_commit(store: Store) -> None:
    store.tune_for_intake()
    wal = Path(f"{store.conn.execute('PRAGMA database_list').fetchone()[2]}-wal")
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = wal.stat().st_size
    rows = [(f"{i:064x}", bytes([i % 251]) * PAGE) for i in range(BATCH_PAGES)]
    with store.transaction() as conn:
        conn.executemany("INSERT INTO raw_messages (sha256, data) VALUES (?, ?)", rows)
        assert wal.stat().st_size == before, "the batch's pages were spilled into the WAL before its commit"
    assert wal.stat().st_size > before + BATCH_PAGES * PAGE, "the commit wrote them"
