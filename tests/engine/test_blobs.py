"""Content-addressed blob storage under the data directory."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ticketctl.engine.errors import StoreError
from ticketctl.engine.store.blobs import STALE_PART_SECONDS, blob_path, read_blob, save_blob, synced_together


def test_save_blob_writes_a_private_file_named_by_its_sha256(tmp_path):
    sha = save_blob(tmp_path, "raw", b"From: a@example.com\n\nhello\n")
    assert sha == hashlib.sha256(b"From: a@example.com\n\nhello\n").hexdigest()
    path = tmp_path / "raw" / sha[:2] / sha
    assert path.read_bytes() == b"From: a@example.com\n\nhello\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "raw").stat().st_mode) == 0o700
    assert read_blob(tmp_path, "raw", sha) == b"From: a@example.com\n\nhello\n"


def test_save_blob_is_idempotent_and_leaves_no_temp_files(tmp_path):
    first = save_blob(tmp_path, "attachments", b"same")
    second = save_blob(tmp_path, "attachments", b"same")
    assert first == second
    assert [p.name for p in (tmp_path / "attachments" / first[:2]).iterdir()] == [first]
    assert not list(tmp_path.rglob("*.part"))


@pytest.mark.parametrize(
    ("kind", "sha"),
    [
        ("raw", "../../etc/passwd"),
        ("../raw", "a" * 64),
        ("raw", "A" * 64),
        ("raw", "a" * 63 + "/"),
        ("tmp", "a" * 64),
    ],
)
def test_blob_path_cannot_escape_the_data_directory(tmp_path, kind, sha):
    with pytest.raises(StoreError):
        blob_path(tmp_path, kind, sha)


def test_missing_blob_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="missing"):
        read_blob(tmp_path, "raw", "0" * 64)


def test_blobs_saved_together_are_in_place_when_the_block_ends(tmp_path):
    with synced_together():
        shas = [save_blob(tmp_path, "attachments", bytes([n]) * 1000) for n in range(20)]
        assert save_blob(tmp_path, "attachments", bytes([0]) * 1000) == shas[0]  # once, even before it is in place
        assert not blob_path(tmp_path, "attachments", shas[0]).exists()
    for n, sha in enumerate(shas):
        assert read_blob(tmp_path, "attachments", sha) == bytes([n]) * 1000
    assert not list(tmp_path.rglob("*.part"))


def test_blobs_of_a_failed_block_leave_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError), synced_together():
        sha = save_blob(tmp_path, "attachments", b"never committed")
        raise RuntimeError("the batch failed")
    assert not blob_path(tmp_path, "attachments", sha).exists()
    assert not list(tmp_path.rglob("*.part"))


KILLED_WRITER = """
import os, sys
from ticketctl.engine.store.blobs import save_blob, synced_together
with synced_together():
    save_blob(sys.argv[1], "raw", b"a message a killed run was storing")
    os._exit(9)
"""


def test_parts_a_killed_process_left_are_swept_by_the_next_run(cli, workdir):
    data_dir = workdir / "ticketctl-data"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for _ in range(2):
        killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(data_dir)], env=env)
        assert killed.returncode == 9
    old, fresh = sorted((data_dir / "raw" / ".parts").glob("*.part"))
    long_ago = time.time() - STALE_PART_SECONDS - 60
    os.utime(old, (long_ago, long_ago))  # the other one may belong to a run still writing it
    result = cli("process")
    assert result.exit_code == 0, result.stderr
    assert list(data_dir.rglob("*.part")) == [fresh]
