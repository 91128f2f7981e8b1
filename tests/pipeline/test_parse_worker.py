"""A long backlog is parsed in a child process while the run records: the same messages, read the same
way; a worker that dies leaves the run to parse on its own; a killed run's worker does not outlive it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pipeline.helpers import deliver, mail, setup_support
from ticketctl.engine.intake import parsing
from ticketctl.engine.intake.sources import Fetched
from ticketctl.engine.mail import quotes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
ROOT = Path(__file__).resolve().parents[2]


def _fixtures() -> list[Fetched]:
    raws = [p.read_bytes() for p in sorted(FIXTURES.glob("*.eml"))]
    raws.append(b"\xff\xfe not a mail at all \x00\r\n\r\n")  # the parser's fallback
    raws.append(
        b"From: Carla <carla@example.org>\r\nTo: support@example.com\r\nSubject: AW: Drucker\r\n"
        b"In-Reply-To: <t1.l2.x@example.com>\r\n\r\nDanke, geht wieder.\r\n\r\n"
        b"Am 1. Dez. 2026 um 10:00 schrieb Support <support@example.com>:\r\n> Bitte neu starten.\r\n"
    )
    return [Fetched(f"1/{i}", len(raw), raw) for i, raw in enumerate(raws)]


def test_the_worker_reads_every_message_as_the_run_itself_would():
    batch = _fixtures()
    worker = parsing.ParseWorker()
    try:
        parsed = worker.parse_many(batch)
    finally:
        worker.close()
    ahead = [m.history for m in parsed]
    for m in parsed:
        m.history = None
    assert parsed == [parsing.parse_fetched(f) for f in batch]
    assert any(m.defects for m in parsed) and any(m.attachments for m in parsed)  # the fixtures do test both
    replies = [i for i, m in enumerate(parsed) if quotes.looks_like_reply(m.in_reply_to, m.references, m.subject)]
    assert replies, "the fixtures hold a reply"
    assert quotes.new_text(parsed[-1].body_text, [], ahead[-1]) == "Danke, geht wieder."
    for i, m in enumerate(parsed):
        assert ahead[i] == (quotes.history_of(m.body_text) if i in replies else None)
        ours = ["We sent this"]
        assert quotes.new_text(m.body_text, ours, ahead[i]) == quotes.new_text(m.body_text, ours)


def test_the_workers_look_at_delivery_reports_decides_as_the_bounce_rule_would():
    """The worker says, for each message, whether it may be a delivery report; the rule then skips
    the look, and reads every report as it would have without it."""
    from ticketctl.engine.mail import bouncereport

    batch = _fixtures()
    worker = parsing.ParseWorker()
    try:
        parsed = list(worker.parse_many(batch))
    finally:
        worker.close()
    here = [parsing.parse_fetched(f) for f in batch]
    assert [m.report_hint for m in parsed] == [bouncereport.may_be_report(m) for m in here]
    assert all(m.report_hint is None for m in here), "parsed on the run's thread: no look ahead"
    assert [bouncereport.read(m) for m in parsed] == [bouncereport.read(m) for m in here]
    reports = [i for i, m in enumerate(here) if bouncereport.read(m) is not None]
    assert reports and len(reports) < len(here), "the fixtures hold a report and mail that is none"
    assert all(parsed[i].report_hint for i in reports)


def test_a_worker_that_dies_leaves_the_parsing_to_the_run(caplog):
    batch = _fixtures()
    worker = parsing.ParseWorker()
    try:
        os.kill(worker._process.pid, signal.SIGKILL)
        worker._process.join()
        parsed = worker.parse_many(batch)
        again = worker.parse_many(batch)
    finally:
        worker.close()
    assert parsed == again == [parsing.parse_fetched(f) for f in batch]
    assert "the parsing process stopped" in caplog.text


def test_the_worker_ends_with_the_run_that_was_killed(tmp_path):
    started = tmp_path / "pid"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from ticketctl.engine.intake.parsing import ParseWorker\n"
            "w = ParseWorker()\n"
            "open(sys.argv[1], 'w').write(str(w._process.pid))\n"
            "time.sleep(60)\n",
            str(started),
        ],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while not started.exists() or not started.read_text():
            assert time.monotonic() < deadline, "the worker never started"
            time.sleep(0.05)
        child = int(started.read_text())
        os.kill(child, 0)  # it runs
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while _running(child):
            assert time.monotonic() < deadline, "the parse worker outlived the run that was killed"
            time.sleep(0.05)
    finally:
        parent.kill()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended; only its parent (gone) would reap it


def test_a_backlog_is_parsed_by_the_worker_and_recorded_in_full(cli, store, workdir, monkeypatch):
    maildir = workdir / "mail"
    setup_support(store, maildir)
    count = parsing.PARSE_AHEAD_MIN + 10
    deliver(maildir, *(mail(frm=f"c{i}@customer.example", subject=f"Frage {i} über Drucker") for i in range(count)))
    used = []
    real = parsing.ParseWorker.parse_many

    def counted(self, batch, where=""):
        used.append(len(batch))
        return real(self, batch, where)

    monkeypatch.setattr(parsing.ParseWorker, "parse_many", counted)
    result = cli("process", "--backlog")
    assert result.exit_code == 0, result.stderr
    assert sum(used) == count, "every batch went through the worker"
    rows = store.query("SELECT subject, from_email FROM tickets")
    assert sorted((r["subject"], r["from_email"]) for r in rows) == sorted(
        (f"Frage {i} über Drucker", f"c{i}@customer.example") for i in range(count)
    )
    assert not list(maildir.glob("new/*")) and not list(maildir.glob("cur/*"))


def test_the_worker_parses_far_ahead_of_the_run_through_wide_pipes():
    """In a 64 KiB pipe the worker stalled a few messages ahead of the run, and a message with an
    attachment came back in pieces; where the system allows it (Linux: up to 1 MiB for anyone) the
    pipes are PIPE_BYTES long, and a batch's results wait in them while the run is busy elsewhere."""
    import fcntl
    import termios
    from array import array

    if not hasattr(fcntl, "F_GETPIPE_SZ"):
        pytest.skip("the pipe size cannot be read on this system")
    attachment = [("report.pdf", os.urandom(60_000))]
    batch = [mail(frm=f"c{i}@example.org", subject=f"Q {i}", attachments=attachment) for i in range(8)]
    worker = parsing.ParseWorker()
    try:
        sizes = [fcntl.fcntl(end.fileno(), fcntl.F_GETPIPE_SZ) for end in (worker._jobs, worker._results)]
        parsed = worker.parse_many([Fetched(f"1/{i}", len(raw), raw) for i, raw in enumerate(batch)])
        waiting = array("i", [0])
        deadline = time.monotonic() + 20
        while waiting[0] < 6 * 60_000 and time.monotonic() < deadline:  # the run has read nothing yet
            time.sleep(0.05)
            fcntl.ioctl(worker._results.fileno(), termios.FIONREAD, waiting)
        assert [m.subject for m in parsed] == [f"Q {i}" for i in range(8)]
    finally:
        worker.close()
    assert sizes == [parsing.PIPE_BYTES] * 2
    assert waiting[0] >= 6 * 60_000, f"only {waiting[0]} bytes of results parsed ahead of the run"
