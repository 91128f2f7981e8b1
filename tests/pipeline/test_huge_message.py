"""A 30 MB message over a real Dovecot (IMAP and POP3) through `ticketctl process` in a child process:
stored byte for byte, its attachment intact (in the store and in the notice sent on), and the run's
peak RSS under the issue's bound of 64 MB plus twice the message."""

import hashlib
import os
import random
import subprocess
import sys
from email import message_from_binary_file
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from tests.pipeline.helpers import add_question_type, deliver, setup_support
from tests.servers.fixtures import mailbox_fields
from ticketctl.engine.admin import mailboxes

MB = 1024 * 1024

# Linux carries a process's peak RSS across fork and exec, so the child must not be forked from this
# (large) test process: a small launcher forks it and reports the peak of that grandchild (wait4).
LAUNCHER = (
    "import os, subprocess, sys\n"
    "proc = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(proc.pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def huge_mail(payload: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Jane Customer <jane@customer.example>"
    msg["To"] = "support@example.com"
    msg["Subject"] = "The whole archive"
    msg["Message-ID"] = "<huge@customer.example>"
    msg.set_content("Here is everything.\n")
    msg.add_attachment(payload, maintype="application", subtype="zip", filename="archive.zip")
    return msg.as_bytes(policy=SMTP)  # CRLF line ends, as the servers hand messages out


@pytest.mark.parametrize("kind", ["imap", "pop3"])
def test_a_30_mb_message_is_kept_whole_within_the_memory_bound(kind, store, dovecot, mail_user, workdir):
    payload = random.Random(kind).randbytes(23 * MB)
    raw = huge_mail(payload)
    assert len(raw) > 30 * MB
    (workdir / "ticketctl.yaml").write_text(f"limits:\n  max_message_bytes: {64 * MB}\n")
    mailboxes.add(store, **mailbox_fields(dovecot, mail_user, kind, "none", "password", name="support"))
    add_question_type(store, "support")
    dovecot.deliver(mail_user.name, [raw])

    rss_file = workdir / "maxrss"
    command = [sys.executable, "-m", "ticketctl", "process", "--json", "--wait", "0"]
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, str(rss_file), *command],
        cwd=workdir,
        env={k: v for k, v in os.environ.items() if not k.startswith("TICKETCTL_")},
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    peak_mb = int(rss_file.read_text()) / 1024
    print(f"{kind}: peak RSS {peak_mb:.1f} MB")
    bound_mb = 64 + 2 * len(raw) / MB
    assert peak_mb < bound_mb, f"peak RSS {peak_mb:.0f} MB for a {len(raw) / MB:.0f} MB message"
    assert dovecot.count(mail_user.name) == 0

    ledger = store.one("SELECT sha256, size, raw_path, disposition FROM ledger")
    assert (ledger["disposition"], ledger["size"]) == ("new_ticket", len(raw))
    assert ledger["sha256"] == hashlib.sha256(raw).hexdigest()
    data_dir = workdir / "ticketctl-data"
    assert hashlib.sha256((data_dir / ledger["raw_path"]).read_bytes()).hexdigest() == ledger["sha256"]
    attachment = store.one("SELECT filename, size, sha256 FROM attachments")
    expected = hashlib.sha256(payload).hexdigest()
    assert (attachment["filename"], attachment["size"], attachment["sha256"]) == ("archive.zip", len(payload), expected)
    blob = data_dir / "attachments" / expected[:2] / expected
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == expected
    assert list((data_dir / "spool").iterdir()) == []

    [sent] = (data_dir / "outbox").glob("*.eml")  # the notice to the type's admin carries the file on
    with sent.open("rb") as f:
        notice = message_from_binary_file(f)
    [part] = [p for p in notice.walk() if p.get_filename() == "archive.zip"]
    assert hashlib.sha256(part.get_payload(decode=True)).hexdigest() == expected


def test_spool_files_are_private(tmp_path: Path):
    from ticketctl.engine.intake.sources import SpoolWriter

    with SpoolWriter(tmp_path / "spool") as out:
        out.write(b"Subject: x\r\n\r\nbody\r\n")
        spool = out.finish()
    assert (spool.path.stat().st_mode & 0o777, spool.dir.stat().st_mode & 0o777) == (0o600, 0o700)
    assert spool.sha256 == hashlib.sha256(b"Subject: x\r\n\r\nbody\r\n").hexdigest() and spool.size == 20
    spool.discard()
    assert list((tmp_path / "spool").iterdir()) == []


def test_a_bounce_returning_a_large_mail_is_read_from_its_start(cli, store, workdir):
    """bounce_back.record() reads the first SCAN_BYTES of a report: the report's own parts come first."""
    maildir = workdir / "mail"
    setup_support(store, maildir)
    report = (Path(__file__).resolve().parents[1] / "fixtures" / "mail" / "bounce-dsn.eml").read_bytes()
    returned = b"--r1\nContent-Type: message/rfc822\n\nFrom: support@example.org\nSubject: big\n\n"
    returned += (b"y" * 76 + b"\n") * 60_000  # 4.6 MB
    deliver(maildir, report.replace(b"--r1--", returned + b"--r1--"))
    result = cli("process", "--json")
    assert result.exit_code == 0, result.stderr
    bounce = store.one("SELECT address, kind, status_code FROM bounces")
    assert tuple(bounce) == ("gone@example.net", "permanent", "5.1.1")
