"""The Maildir source: the embedded default, and what a local MTA delivers into."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.servers.dovecot import make_message
from ticketctl.engine.admin.mailboxes import Mailbox
from ticketctl.engine.config import LimitsConfig
from ticketctl.engine.errors import SourceError
from ticketctl.engine.intake.sources import open_source


def maildir(root: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def deliver(root: Path, raw: bytes, name: str, sub: str = "new", mtime: int = 1_700_000_000) -> Path:
    path = root / sub / name
    path.write_bytes(raw)
    os.utime(path, (mtime, mtime))
    return path


def source_for(root: Path, processed: str | None = None):
    box = Mailbox(id=0, name="local", kind="maildir", maildir_path=str(root), processed_folder=processed)
    return open_source(box, LimitsConfig())


def test_lists_new_and_cur_in_arrival_order_and_fetches_byte_identical(tmp_path):
    root = maildir(tmp_path / "Maildir")
    first, second = make_message("first"), make_message("second")
    deliver(root, second, "200.M2P1.host", mtime=1_700_000_200)
    deliver(root, first, "100.M1P1.host:2,S", sub="cur", mtime=1_700_000_100)
    source = source_for(root)
    waiting = source.waiting()
    assert [w.uid for w in waiting] == ["100.M1P1.host", "200.M2P1.host"]
    assert [w.size for w in waiting] == [len(first), len(second)]
    assert [source.fetch(w.uid, 10**6).raw for w in waiting] == [first, second]


def test_dispose_deletes_only_that_message(tmp_path):
    root = maildir(tmp_path / "Maildir")
    deliver(root, make_message("a"), "1.a.host")
    deliver(root, make_message("b"), "2.b.host")
    source = source_for(root)
    source.waiting()
    source.dispose("1.a.host")
    source.close()
    assert [p.name for p in (root / "new").iterdir()] == ["2.b.host"]


def test_dispose_moves_to_processed_subfolder(tmp_path):
    root = maildir(tmp_path / "Maildir")
    raw = make_message("done")
    deliver(root, raw, "1.a.host")
    source = source_for(root, processed="Processed")
    source.waiting()
    source.dispose("1.a.host")
    assert not any((root / "new").iterdir())
    assert (root / ".Processed" / "cur" / "1.a.host").read_bytes() == raw


def test_set_aside_leaves_the_message(tmp_path):
    root = maildir(tmp_path / "Maildir")
    deliver(root, make_message("a"), "1.a.host")
    source = source_for(root)
    source.set_aside(source.waiting()[0].uid)
    assert len(source_for(root).waiting()) == 1


def test_uid_survives_a_mail_client_moving_the_file_to_cur(tmp_path):
    root = maildir(tmp_path / "Maildir")
    path = deliver(root, make_message("a"), "1.a.host")
    [before] = source_for(root).waiting()
    path.rename(root / "cur" / "1.a.host:2,S")
    [after] = source_for(root).waiting()
    assert before.uid == after.uid


def test_oversized_gives_headers_only(tmp_path):
    root = maildir(tmp_path / "Maildir")
    raw = make_message("large", body_lines=5000)
    deliver(root, raw, "1.a.host")
    source = source_for(root)
    [waiting] = source.waiting()
    fetched = source.fetch(waiting.uid, max_bytes=1000)
    assert fetched.oversized and fetched.size == len(raw)
    assert fetched.headers == raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"


def test_message_gone_between_list_and_fetch(tmp_path):
    root = maildir(tmp_path / "Maildir")
    path = deliver(root, make_message("a"), "1.a.host")
    source = source_for(root)
    [waiting] = source.waiting()
    path.unlink()
    with pytest.raises(SourceError, match="no longer in the Maildir"):
        source.fetch(waiting.uid, 10**6)


def test_mailbox_test_command_on_a_maildir(cli, workdir):
    root = maildir(workdir / "Maildir")
    deliver(root, make_message("a"), "1.a.host")
    assert cli("mailbox", "add", "local", "--kind", "maildir", "--path", str(root)).exit_code == 0
    result = cli("mailbox", "test", "local")
    assert result.exit_code == 0, result.stderr
    assert "1 message(s) waiting" in result.stdout


def test_mailbox_test_command_on_a_directory_that_is_not_a_maildir(cli, workdir):
    (workdir / "plain").mkdir()
    assert cli("mailbox", "add", "local", "--kind", "maildir", "--path", "plain").exit_code == 0
    result = cli("mailbox", "test", "local")
    assert result.exit_code == 1
    assert "is not a Maildir (it needs new/ and cur/)" in " ".join(result.stderr.split())
