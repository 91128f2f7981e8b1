"""Every message of the shared corpus goes through `ticketctl process` without a crash and gets a
disposition; bounce reports are recognised as bounces."""

import json
import shutil

import pytest

from tests.conftest import CORPUS
from tests.pipeline.helpers import setup_support, waiting


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared mail corpus is not at {CORPUS}")
def test_the_whole_corpus_gets_a_disposition(cli, store, workdir):
    maildir = workdir / "mail"
    setup_support(store, maildir)
    files = sorted(p for p in CORPUS.glob("*/messages/**/*") if p.is_file())
    for i, path in enumerate(files):
        shutil.copyfile(path, maildir / "new" / f"{i:05d}.{path.parent.name}.{path.name}")
    result = cli("process", "--json")
    assert result.exit_code == 0, result.stderr
    counts = json.loads(result.stdout)["mailboxes"][0]["counts"]
    assert sum(counts.values()) == len(files) > 800
    assert waiting(maildir) == []
    assert store.one("SELECT count(*) FROM ledger")[0] == len(files)
    bounces = json.loads((CORPUS / "flufl-bounce" / "expected.json").read_text())
    rows = store.query("SELECT uid, disposition FROM ledger")
    flufl = {r["uid"].split(".", 2)[2]: r["disposition"] for r in rows if ".messages." in r["uid"]}
    found = [name for name in bounces if flufl.get(name) == "bounce"]
    print(f"corpus dispositions: {counts}; flufl-bounce reports seen as bounces: {len(found)}/{len(bounces)}")
    assert len(found) >= 69, "bounce recognition fell below what it reached (69 of 77)"
