"""IMAP and POP3 sources against a real Dovecot: every security × auth, disposal, folders, oversize."""

from __future__ import annotations

import base64
import email
import hashlib
from collections.abc import Callable

import pytest
from imapclient import IMAPClient

from tests.servers.dovecot import Dovecot, MailUser, make_message
from tests.servers.fixtures import mailbox_fields, record
from tests.servers.imap_proxy import ImapProxy
from ticketctl.engine.admin.mailboxes import Mailbox
from ticketctl.engine.config import LimitsConfig
from ticketctl.engine.errors import MailboxAuthError
from ticketctl.engine.intake.sources import Source, open_source

LIMITS = LimitsConfig(connect_timeout=5, read_timeout=5)
BIG = 10 * 1024 * 1024


def mailbox(server: Dovecot, user: MailUser, kind: str, security: str = "none", auth: str = "password", **extra):
    return record(mailbox_fields(server, user, kind, security, auth, **extra))


def connect(server: Dovecot, user: MailUser, box: Mailbox) -> Source:
    provider: Callable[[], str] | None = None
    if box.auth == "oauth2":
        provider = lambda: server.mint_token(user.name)  # noqa: E731
    return open_source(box, LIMITS, provider)


MATRIX = [
    (kind, security, auth)
    for kind in ("imap", "pop3")
    for security in ("ssl", "starttls", "none")
    for auth in ("password", "oauth2")
]


@pytest.mark.parametrize(("kind", "security", "auth"), MATRIX)
def test_fetch_is_byte_identical_and_dispose_removes_exactly_those(dovecot, mail_user, kind, security, auth):
    sent = [make_message(f"m{i}") for i in range(4)]
    dovecot.deliver(mail_user.name, sent)
    box = mailbox(dovecot, mail_user, kind, security, auth)

    source = connect(dovecot, mail_user, box)
    waiting = source.waiting()
    assert [w.size for w in waiting] == [len(m) for m in sent]
    assert [source.fetch(w.uid, BIG).raw for w in waiting] == sent
    source.dispose(waiting[0].uid)
    source.dispose(waiting[2].uid)
    source.close()

    assert dovecot.subjects(mail_user.name, include_deleted=True) == {"m1", "m3"}
    again = connect(dovecot, mail_user, box)
    assert [w.uid for w in again.waiting()] == [waiting[1].uid, waiting[3].uid]
    again.close()


def test_imap_fetch_does_not_mark_messages_seen(dovecot, mail_user):
    dovecot.deliver(mail_user.name, [make_message("unread")])
    source = connect(dovecot, mail_user, mailbox(dovecot, mail_user, "imap"))
    source.fetch(source.waiting()[0].uid, BIG)
    source.close()
    with IMAPClient(dovecot.host, dovecot.ports["imap"], ssl=False) as client:
        client.login(mail_user.name, mail_user.password)
        client.select_folder("INBOX", readonly=True)
        assert client.search(["UNSEEN"]) == [1]


@pytest.mark.parametrize("shown", [False, True], ids=["not-logged", "debug"])
def test_imap_protocol_trace_is_formatted_only_when_its_logger_shows_it(dovecot, mail_user, monkeypatch, shown):
    """IMAPClient has imaplib format every line it reads (the repr of each whole message) for its
    logger; unless that logger shows debug lines, the source turns the trace off."""
    import logging

    from imapclient.imapclient import IMAPlibLoggerAdapter

    lines: list[str] = []
    monkeypatch.setattr(IMAPlibLoggerAdapter, "debug", lambda self, msg, *a, **k: lines.append(str(msg)))
    logger = logging.getLogger("imapclient.imaplib")
    level = logger.level
    logger.setLevel(logging.DEBUG if shown else logging.WARNING)
    try:
        dovecot.deliver(mail_user.name, [make_message("a body only the trace would copy")])
        source = connect(dovecot, mail_user, mailbox(dovecot, mail_user, "imap"))
        assert b"a body only the trace would copy" in source.fetch(source.waiting()[0].uid, BIG).raw
        source.close()
    finally:
        logger.setLevel(level)
    traced = any("a body only the trace would copy" in line for line in lines)
    assert traced is shown


@pytest.mark.parametrize("has_move", [True, False], ids=["move", "copy-and-delete"])
def test_imap_dispose_moves_to_processed_folder_created_on_first_use(dovecot, mail_user, has_move):
    sent = [make_message(f"p{i}") for i in range(3)]
    dovecot.deliver(mail_user.name, sent)
    box = mailbox(dovecot, mail_user, "imap", processed_folder="Erledigt ✓")
    source = connect(dovecot, mail_user, box)
    source.has_move = has_move  # the fallback for servers without MOVE, on the same real server
    waiting = source.waiting()
    source.dispose(waiting[0].uid)
    source.dispose(waiting[1].uid)
    source.close()

    assert dovecot.subjects(mail_user.name, include_deleted=True) == {"p2"}
    assert sorted(dovecot.messages(mail_user.name, "Erledigt ✓")) == sorted(sent[:2])


def test_imap_set_aside_moves_when_a_processed_folder_is_set_and_leaves_it_otherwise(dovecot, mail_user):
    dovecot.deliver(mail_user.name, [make_message("odd")])
    plain = connect(dovecot, mail_user, mailbox(dovecot, mail_user, "imap"))
    plain.set_aside(plain.waiting()[0].uid)
    plain.close()
    assert dovecot.subjects(mail_user.name) == {"odd"}

    moving = connect(dovecot, mail_user, mailbox(dovecot, mail_user, "imap", processed_folder="Aside"))
    moving.set_aside(moving.waiting()[0].uid)
    moving.close()
    assert dovecot.count(mail_user.name, include_deleted=True) == 0
    assert dovecot.subjects(mail_user.name, "Aside") == {"odd"}


@pytest.mark.parametrize("uidplus", [True, False], ids=["uidplus", "no-uidplus"])
def test_imap_never_expunges_messages_others_marked_deleted(dovecot, mail_user, uidplus):
    dovecot.deliver(mail_user.name, [make_message(s) for s in ("ours", "keep", "theirs")])
    with IMAPClient(dovecot.host, dovecot.ports["imap"], ssl=False) as other:
        other.login(mail_user.name, mail_user.password)
        other.select_folder("INBOX")
        other.add_flags([3], [b"\\Deleted"])  # a mail client deleted it but has not expunged yet

    source = connect(dovecot, mail_user, mailbox(dovecot, mail_user, "imap"))
    source.has_uidplus = uidplus
    waiting = source.waiting()
    assert len(waiting) == 2  # the message someone else deleted is not ours to process
    source.dispose(waiting[0].uid)
    source.close()

    assert dovecot.subjects(mail_user.name, include_deleted=True) == (
        {"keep", "theirs"} if uidplus else {"ours", "keep", "theirs"}
    )
    assert dovecot.subjects(mail_user.name) == {"keep"}  # without UIDPLUS ours is flagged, not expunged
    again = connect(dovecot, mail_user, mailbox(dovecot, mail_user, "imap"))
    assert len(again.waiting()) == 1
    again.close()


def test_imap_expunges_further_apart_as_a_run_goes_on_and_the_rest_before_logout(dovecot, mail_user):
    """Each UID EXPUNGE makes the server bring the folder's index up to date. The first batch is expunged
    at once; after that the flagged ones wait until they are as many as were expunged before them."""
    dovecot.deliver(mail_user.name, [make_message(f"m{i}") for i in range(24)])
    proxy = ImapProxy(dovecot.ports["imap"])
    try:
        source = connect(dovecot, mail_user, mailbox(dovecot, mail_user, "imap", port=proxy.port))
        uids = [w.uid for w in source.waiting()]
        for start in range(0, len(uids), 2):  # twelve batches of two
            source.dispose_many(uids[start : start + 2])
        assert dovecot.count(mail_user.name) == 0, "every message flagged as its batch was disposed of"
        assert dovecot.count(mail_user.name, include_deleted=True) == 8, "the last four batches not yet expunged"
        source.close()
    finally:
        proxy.close()
    assert dovecot.count(mail_user.name, include_deleted=True) == 0
    expunges = [c.split()[2].split(b",") for c in proxy.commands if c.startswith(b"UID EXPUNGE")]
    assert [len(uids) for uids in expunges] == [2, 2, 4, 8, 8]
    assert sorted(int(u) for uids in expunges for u in uids) == list(range(1, 25)), "each once"
    assert proxy.commands[-1].startswith(b"LOGOUT") and proxy.commands[-2].startswith(b"UID EXPUNGE")


def test_imap_non_ascii_folder_works_as_typed(dovecot, mail_user):
    sent = [make_message("umlaut")]
    dovecot.deliver(mail_user.name, sent, folder="Überfällige Anfragen")
    source = connect(dovecot, mail_user, mailbox(dovecot, mail_user, "imap", folder="Überfällige Anfragen"))
    [waiting] = source.waiting()
    assert source.fetch(waiting.uid, BIG).raw == sent[0]
    source.dispose(waiting.uid)
    source.close()
    assert dovecot.count(mail_user.name, "Überfällige Anfragen", include_deleted=True) == 0


def test_imap_uid_carries_uidvalidity(dovecot, mail_user):
    dovecot.deliver(mail_user.name, [make_message("v")])
    source = connect(dovecot, mail_user, mailbox(dovecot, mail_user, "imap"))
    [waiting] = source.waiting()
    assert waiting.uid == f"{source.uidvalidity}/1"
    source.close()


def test_pop3_abort_forgets_deletions(dovecot, mail_user):
    dovecot.deliver(mail_user.name, [make_message("a"), make_message("b")])
    box = mailbox(dovecot, mail_user, "pop3")
    source = connect(dovecot, mail_user, box)
    for w in source.waiting():
        source.dispose(w.uid)
    source.abort()
    assert dovecot.subjects(mail_user.name) == {"a", "b"}


@pytest.mark.parametrize("kind", ["imap", "pop3"])
def test_oversized_message_gives_size_and_headers_without_its_body_crossing_the_wire(
    dovecot, mail_user, relay_factory, kind
):
    big = make_message("huge", body_lines=60_000)  # about 1.8 MB
    dovecot.deliver(mail_user.name, [big])
    relay = relay_factory(dovecot.ports[kind])
    box = mailbox(dovecot, mail_user, kind, port=relay.port)
    source = connect(dovecot, mail_user, box)
    [waiting] = source.waiting()

    before = relay.to_client
    fetched = source.fetch(waiting.uid, max_bytes=100_000)
    crossed = relay.to_client - before

    assert fetched.oversized and fetched.size == len(big)
    header_block = big.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    assert fetched.headers == header_block
    assert email.message_from_bytes(fetched.headers)["Subject"] == "huge"
    assert crossed < 2_000
    before = relay.to_client
    assert source.fetch(waiting.uid, max_bytes=BIG).read() == big  # the relay does count a body (spooled: 1.8 MB)
    assert relay.to_client - before > len(big)
    source.close()
    assert dovecot.count(mail_user.name) == 1


def test_pop3_xoauth2_uses_the_two_step_form(dovecot, mail_user, relay_factory):
    relay = relay_factory(dovecot.ports["pop3"])
    box = mailbox(dovecot, mail_user, "pop3", auth="oauth2", port=relay.port)
    connect(dovecot, mail_user, box).close()
    lines = bytes(relay.from_client).split(b"\r\n")
    at = lines.index(b"AUTH XOAUTH2")  # no initial response on the command line
    secret = base64.b64decode(lines[at + 1]).decode()
    assert secret.startswith(f"user={mail_user.name}\x01auth=Bearer ey") and secret.endswith("\x01\x01")


def test_pop3_refused_token_is_a_sentence(dovecot, mail_user):
    box = mailbox(dovecot, mail_user, "pop3", auth="oauth2")
    with pytest.raises(MailboxAuthError, match="refused the OAuth2 access token"):
        open_source(box, LIMITS, lambda: dovecot.mint_token(mail_user.name, ttl=-60))


@pytest.mark.parametrize("kind", ["imap", "pop3"])
def test_spooled_fetch_is_byte_identical_in_pieces_of_any_size(dovecot, mail_user, kind, monkeypatch, tmp_path):
    """Above SPOOL_BYTES a message downloads into a spool file (IMAP: in partial fetches of CHUNK bytes)."""
    monkeypatch.setattr(f"ticketctl.engine.intake.sources.{kind}.SPOOL_BYTES", 0)
    monkeypatch.setattr("ticketctl.engine.intake.sources.imap.CHUNK", 1000)
    sent = [make_message(f"m{i}", body_lines=n) for i, n in enumerate((0, 30, 200))]
    exact = make_message("exact", body_lines=40)
    sent.append(exact + b"x" * (2000 - len(exact) - 2) + b"\r\n")  # 2 whole pieces: the third comes back empty
    dovecot.deliver(mail_user.name, sent)
    source = open_source(mailbox(dovecot, mail_user, kind), LIMITS, spool_dir=tmp_path / "spool")
    fetched = [source.fetch(w.uid, BIG) for w in source.waiting()]
    source.close()
    assert all(f.raw is None and f.spool is not None for f in fetched)
    assert [f.read() for f in fetched] == sent
    assert [(f.size, f.spool.sha256) for f in fetched] == [(len(m), hashlib.sha256(m).hexdigest()) for m in sent]
    assert all(f.spool.dir.parent == tmp_path / "spool" for f in fetched)
    for f in fetched:
        f.spool.discard()
    assert list((tmp_path / "spool").iterdir()) == []
