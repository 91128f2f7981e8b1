"""The server dies in the middle of a fetch: nothing is deleted, and the next session gets every message."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.servers.dovecot import make_message
from tests.servers.fixtures import mailbox_fields, record
from ticketctl.engine.config import LimitsConfig
from ticketctl.engine.errors import SourceError
from ticketctl.engine.intake.sources import open_source

LIMITS = LimitsConfig(connect_timeout=5, read_timeout=5)


@pytest.mark.parametrize("kind", ["imap", "pop3"])
def test_server_stopped_mid_fetch_deletes_nothing_and_next_fetch_gets_everything(dovecot_factory, relay_factory, kind):
    server = dovecot_factory()
    user = server.new_user()
    sent = [make_message(f"big{i}", body_lines=10_000) for i in range(3)]  # ~300 KB each
    server.deliver(user.name, sent)
    relay = relay_factory(server.ports[kind])
    box = record(mailbox_fields(server, user, kind, "none", port=relay.port))

    source = open_source(box, LIMITS)
    waiting = source.waiting()
    assert source.fetch(waiting[0].uid, 10**7).raw == sent[0]
    if kind == "pop3":
        source.dispose(waiting[0].uid)  # only marked: a POP3 deletion needs a clean QUIT
    relay.hold_after(50_000)  # the server's stream stops part way through the next message
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(source.fetch, waiting[1].uid, 10**7)
        assert relay.held.wait(5)
        server.stop(cleanup=False)
        with pytest.raises(SourceError, match="connection to .* was lost while fetching message"):
            pending.result(timeout=10)
    source.abort()

    server.start()
    assert server.count(user.name, include_deleted=True) == 3
    again = open_source(record(mailbox_fields(server, user, kind, "none")), LIMITS)
    assert [again.fetch(w.uid, 10**7).raw for w in again.waiting()] == sent
    again.close()
