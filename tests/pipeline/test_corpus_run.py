"""Every message of the shared corpus goes through `ticketctl process` without a crash and gets a
disposition; the bounces table it leaves reads the bounce files as well as the reader alone does
(tests/corpus/test_bounces.py), and no ordinary mail is in it."""

import collections
import json
import shutil

import pytest

from tests.conftest import CORPUS
from tests.corpus import bounce_truth
from tests.pipeline.helpers import add_question_type, setup_support, waiting
from ticketctl.engine.admin import mailboxes
from ticketctl.engine.mail.message import parse_headers


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared mail corpus is not at {CORPUS}")
def test_the_whole_corpus_gets_a_disposition(cli, store, workdir):
    """Copies of one Message-ID (the CRLF and CR-only twins, fixtures that share one) go to different
    mailboxes: within one, the second copy is rightly a duplicate."""
    files = sorted(p for p in CORPUS.glob("*/messages/**/*") if p.is_file())
    maildirs, names, copies = [], {}, collections.Counter()
    for i, path in enumerate(files):
        key = parse_headers(path.read_bytes().split(b"\n\n", 1)[0]).message_id or f"none-{i}"
        box = copies[key]
        copies[key] += 1
        if box == len(maildirs):
            maildirs.append(workdir / f"mail{box}")
            if box == 0:
                setup_support(store, maildirs[0])
            else:
                for sub in ("new", "cur", "tmp"):
                    (maildirs[box] / sub).mkdir(parents=True)
                mailboxes.add(store, name=f"local{box}", kind="maildir", maildir_path=str(maildirs[box]))
                add_question_type(store, f"local{box}", name=f"Support{box}")
        names[f"{i:05d}.corpus"] = path.relative_to(CORPUS).as_posix()
        shutil.copyfile(path, maildirs[box] / "new" / f"{i:05d}.corpus")
    result = cli("process", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # flufl.bounce's detectors raise on reports they do not know: never seen here
    counts = collections.Counter()
    for box in json.loads(result.stdout)["mailboxes"]:
        counts.update(box["counts"])
    assert sum(counts.values()) == len(files) > 800
    assert all(waiting(m) == [] for m in maildirs)
    assert store.one("SELECT count(*) FROM ledger")[0] == len(files)

    taken = {
        names[r["uid"]]: (r["id"], r["disposition"]) for r in store.query("SELECT id, uid, disposition FROM ledger")
    }
    rows: dict[int, dict[str, str]] = {}
    originals: dict[int, dict[str, str]] = {}
    for r in store.query("SELECT ledger_id, address, original_address, kind FROM bounces WHERE address IS NOT NULL"):
        rows.setdefault(r["ledger_id"], {})[r["address"]] = "permanent" if r["kind"] == "permanent" else "temporary"
        if r["original_address"]:
            originals.setdefault(r["ledger_id"], {})[r["address"]] = r["original_address"]

    def read(path: str) -> bounce_truth.Reading:
        ledger_id, disposition = taken[path]
        return bounce_truth.Reading(disposition == "bounce", rows.get(ledger_id, {}), originals.get(ledger_id, {}))

    scores = bounce_truth.score(bounce_truth.load(CORPUS), read)
    every = scores["all"]
    print(f"\ncorpus dispositions in {len(maildirs)} mailboxes: {dict(counts)}")
    print("\n".join(s.line(n) for n, s in scores.items()))
    assert every.recognised_share >= 0.99 and every.not_failures_recorded == 0
    assert every.recall >= 0.97 and every.precision >= 0.995 and every.class_share >= 0.97
    ordinary = bounce_truth.ordinary_mails(CORPUS)
    assert [f for f in ordinary if taken[f][1] == "bounce"] == []
    # a report whose address could not be read is still a bounce row, never dropped
    reports = {ledger_id for ledger_id, disposition in taken.values() if disposition == "bounce"}
    assert reports == {r["ledger_id"] for r in store.query("SELECT DISTINCT ledger_id FROM bounces")}
