"""Large messages are spooled to a file and parsed from it; with the spool threshold forced to 0, a run
over the fixtures and the shared corpus writes what the in-memory run writes, blobs included."""

import hashlib
import json
import shutil
from pathlib import Path

from tests.conftest import CORPUS
from tests.pipeline.helpers import setup_support, waiting
from ticketctl.engine.config import load_config
from ticketctl.engine.mail import message
from ticketctl.engine.store import rawstore
from ticketctl.engine.store.connection import Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"

TABLES = {
    "ledger": "uid, message_id, sha256, size, disposition, rule, reason, ticket_id, log_id",
    "tickets": "type_id, contact_id, kind, status, subject, from_email, from_name, error_reason",
    "ticket_logs": "ticket_id, direction, from_email, from_name, to_email, cc, subject, body_text, body_html",
    "attachments": "log_id, filename, content_type, size, sha256, content_id, inline",
    "email_queue": "ticket_id, to_email, subject, body_text, body_html, attachments",
}


def run(cli, monkeypatch, folder: Path, spool_bytes: int | None) -> dict[str, object]:
    folder.mkdir()
    monkeypatch.chdir(folder)
    from_files = []
    if spool_bytes is not None:
        monkeypatch.setattr("ticketctl.engine.intake.sources.maildir.SPOOL_BYTES", spool_bytes)
        parse_file = message.parse_file

        def counted(path: Path, scratch: Path) -> message.ParsedMessage:
            from_files.append(path)
            return parse_file(path, scratch)

        monkeypatch.setattr(message, "parse_file", counted)
    config = load_config()
    store = Store(config.database, config.data_dir, create=True)
    try:
        maildir = folder / "mail"
        setup_support(store, maildir)
        files = sorted(FIXTURES.iterdir())
        if CORPUS.is_dir():
            files += sorted(p for p in CORPUS.glob("*/messages/**/*") if p.is_file())
        for i, path in enumerate(files):
            shutil.copyfile(path, maildir / "new" / f"{i:05d}.{path.name}")
        result = cli("process", "--json", "--notify")
        assert result.exit_code == 0, result.stderr
        assert waiting(maildir) == []
        assert len(from_files) == (0 if spool_bytes is None else len(files))
        rows = {t: [tuple(r) for r in store.query(f"SELECT {c} FROM {t} ORDER BY id")] for t, c in TABLES.items()}
        # small originals live in the database in one run and in files in the other: compare the bytes
        rows["originals"] = [
            hashlib.sha256(rawstore.read(store, r["raw_id"], r["raw_path"]) or b"").hexdigest()
            for r in store.query("SELECT raw_id, raw_path FROM ledger ORDER BY id")
        ]
    finally:
        store.close()
    blobs = {
        str(p.relative_to(config.data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (config.data_dir / "attachments").rglob("*")
        if p.is_file()
    }
    spool = config.data_dir / "spool"
    counts = json.loads(result.stdout)
    assert counts.pop("outbox") == {"kind": "directory", "directory": str(config.outbox.directory)}
    return {"rows": rows, "blobs": blobs, "counts": counts, "spool": list(spool.glob("*/*"))}


def test_a_run_with_every_message_spooled_writes_the_same(cli, monkeypatch, workdir):
    in_memory = run(cli, monkeypatch, workdir / "memory", None)
    spooled = run(cli, monkeypatch, workdir / "spooled", 0)
    assert spooled["spool"] == [], "every spooled message's scratch files are gone after the run"
    assert len(in_memory["rows"]["ledger"]) >= len(list(FIXTURES.iterdir()))
    for name in ("counts", "blobs", "rows"):
        assert spooled[name] == in_memory[name], name
