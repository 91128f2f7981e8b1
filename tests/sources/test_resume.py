"""A connection cut between two steps of an IMAP disposal (a server crash, or a kill): the next run
finishes the job on our own messages only, and never copies one to the processed folder twice."""

from __future__ import annotations

from imapclient import IMAPClient

from tests.pipeline.helpers import add_question_type
from tests.servers.dovecot import make_message
from tests.servers.fixtures import mailbox_fields
from tests.servers.imap_proxy import ImapProxy
from ticketctl.engine.admin import mailboxes


def _mailbox(store, dovecot, user, proxy, **fields) -> None:
    box = mailbox_fields(dovecot, user, "imap", "none", name="support", port=proxy.port, **fields)
    mailboxes.add(store, **box)
    add_question_type(store, "support")


def _flagged(dovecot, user, folder="INBOX") -> int:
    return dovecot.count(user.name, folder, include_deleted=True) - dovecot.count(user.name, folder)


def test_our_flagged_messages_are_expunged_by_the_next_run_and_nobody_elses(cli, store, dovecot):
    user = dovecot.new_user()
    dovecot.deliver(user.name, [make_message(f"ours {i}") for i in range(3)] + [make_message("theirs")])
    with IMAPClient(dovecot.host, port=dovecot.ports["imap"], ssl=False) as other:  # another mail client
        other.login(user.name, user.password)
        other.select_folder("INBOX")
        other.add_flags(other.search(["SUBJECT", "theirs"]), [b"\\Deleted"])
    proxy = ImapProxy(dovecot.ports["imap"])
    try:
        _mailbox(store, dovecot, user, proxy)
        proxy.on_command(rb"UID EXPUNGE", 1, lambda: None)  # the connection drops before the expunge
        assert cli("process").exit_code == 1
        assert _flagged(dovecot, user) == 4, "ours flagged, not expunged; theirs as it was"

        assert cli("process").exit_code == 0
        assert dovecot.subjects(user.name, include_deleted=True) == {"theirs"}
        assert _flagged(dovecot, user) == 1, "another client's flagged mail is theirs to expunge"
        assert store.one("SELECT count(*) FROM ledger")[0] == 3
        assert [c for c in proxy.commands if c.startswith(b"UID EXPUNGE")] == [b"UID EXPUNGE 1,2,3"] * 2  # 4 is theirs
    finally:
        proxy.close()


def test_a_copy_made_before_the_cut_is_not_made_again_even_without_a_message_id(cli, store, dovecot):
    user = dovecot.new_user()
    plain = make_message("with an id")
    no_id = b"\r\n".join(line for line in make_message("no id").split(b"\r\n") if not line.startswith(b"Message-ID"))
    bare = b"\r\n".join(
        line for line in make_message("no id no date").split(b"\r\n") if not line.startswith((b"Message-ID", b"Date"))
    )
    dovecot.deliver(user.name, [plain, no_id, bare])
    proxy = ImapProxy(dovecot.ports["imap"], hide=("MOVE",))
    try:
        _mailbox(store, dovecot, user, proxy, processed_folder="Done")
        proxy.on_command(rb"UID STORE", 1, lambda: None)  # copied, then cut before the flag
        assert cli("process").exit_code == 1
        assert dovecot.count(user.name, "Done") == 3 and dovecot.count(user.name, include_deleted=True) == 3

        assert cli("process").exit_code == 0
        assert not any(c.startswith(b"UID MOVE") for c in proxy.commands), "MOVE was hidden"
        assert dovecot.count(user.name, include_deleted=True) == 0
        assert sorted(dovecot.messages(user.name, "Done")) == sorted([plain, no_id, bare]), "each once"
    finally:
        proxy.close()
