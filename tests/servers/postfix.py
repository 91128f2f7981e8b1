"""A real MTA for the bounce tests: a private Postfix (Debian's package) on loopback high ports, in a
temp dir, that relays everything to a next hop the test runs (aiosmtpd; it refuses chosen recipients)
and writes its delivery reports (DSNs) for the sender's domain into a Dovecot user's Maildir through
virtual(8). How and why: /work/shared/notes/postfix-for-tests.md. Postfix only starts as root; without
root or without the package the tests skip and say so.

- `Postfix(smtp_port, relay_port, maildir_base, mailboxes={address: "user/Maildir/"}, uid, gid)`:
  `start()`, `stop()` (SIGTERM to the master, the temp dir removed), `log()` (its maillog), `queue()`.
- `NextHop`: the aiosmtpd handler Postfix relays to: local part `refuse` gets 550 5.1.1 at RCPT,
  `tempfail` 451 4.3.0; the rest is accepted and kept in `messages`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTQUEUE = shutil.which("postqueue") or "/usr/sbin/postqueue"

_MAIN_CF = string.Template(r"""
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
maillog_file = $d/maillog
maillog_file_prefixes = $d
syslog_name = postfix-test
myhostname = mta.test
myorigin = mta.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$relay_port
alias_maps =
alias_database =
virtual_mailbox_domains = $domains
virtual_mailbox_base = $maildir_base
virtual_mailbox_maps = inline:{ $mailboxes }
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
recipient_delimiter = +
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 1s
delay_warning_time = 1s
maximal_queue_lifetime = 2s
bounce_queue_lifetime = 2s
bounce_template_file = $d/etc/bounce.cf
""")

# Postfix's delay template with seconds: the built-in one counts hours ("0 hour(s)") and warns
_BOUNCE_CF = r"""delay_template = <<EOF
Charset: us-ascii
From: Mail Delivery System <MAILER-DAEMON>
Subject: Delayed Mail (still being retried)
Postmaster-Subject: Postmaster Warning: Delayed Mail

This is the mail system at host $myhostname.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than $delay_warning_time_seconds second(s).
It will be retried until it is $maximal_queue_lifetime_seconds second(s) old.

                   The mail system
EOF
"""

# only what this setup uses (Debian's master.cf binds *:25); no chroot: it could not resolve loopback
_MASTER_CF = string.Template(r"""
127.0.0.1:$smtp_port inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
""")


def postfix_unavailable() -> str | None:
    """Why a private Postfix cannot run here, or None."""
    if not Path(POSTFIX).is_file():
        return "Postfix is not installed; scripts/install-test-servers installs it."
    if os.geteuid() != 0:
        return "Postfix starts only as root (the tests run as root in CI)."
    return None


class Postfix:
    def __init__(
        self, smtp_port: int, relay_port: int, maildir_base: Path, mailboxes: dict[str, str], uid: int, gid: int
    ) -> None:
        self.smtp_port, self.relay_port = smtp_port, relay_port
        self.maildir_base, self.mailboxes, self.uid, self.gid = maildir_base, mailboxes, uid, gid
        self.d = Path(tempfile.mkdtemp(prefix="postfix-test-"))
        os.chmod(self.d, 0o755)  # its daemons run as user postfix and must reach spool/ and data/
        self.pid: int | None = None

    def _configure(self) -> None:
        etc = self.d / "etc"
        etc.mkdir()
        (self.d / "spool").mkdir()  # Postfix does not make its queue directory
        domains = sorted({a.rsplit("@", 1)[1] for a in self.mailboxes})
        (etc / "main.cf").write_text(
            _MAIN_CF.substitute(
                d=self.d,
                relay_port=self.relay_port,
                domains=", ".join(domains),
                maildir_base=self.maildir_base,
                mailboxes=", ".join(f"{a}={p}" for a, p in self.mailboxes.items()),
                uid=self.uid,
                gid=self.gid,
            )
        )
        (etc / "master.cf").write_text(_MASTER_CF.substitute(smtp_port=self.smtp_port))
        (etc / "bounce.cf").write_text(_BOUNCE_CF)
        old = time.time() - 60  # a main.cf younger than ~2 s makes every Postfix command wait for it
        for name in ("main.cf", "master.cf", "bounce.cf"):
            os.utime(etc / name, (old, old))

    def start(self, timeout: float = 20.0) -> Postfix:
        self._configure()
        try:
            # without a tty Postfix says nothing on failure: its maillog goes into the error
            done = subprocess.run(
                [POSTFIX, "-c", str(self.d / "etc"), "start"], capture_output=True, text=True, stdin=subprocess.DEVNULL
            )
            if done.returncode != 0:
                raise RuntimeError(f"postfix start exited {done.returncode}: {done.stderr}\n{self.log()}")
            self.pid = int((self.d / "spool" / "pid" / "master.pid").read_text().split()[0])
            deadline = time.monotonic() + timeout
            while True:
                try:
                    socket.create_connection(("127.0.0.1", self.smtp_port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("postfix smtpd does not answer:\n" + self.log()) from None
                    time.sleep(0.02)
        except Exception:
            self.stop()
            raise
        return self

    def _processes(self) -> list[int]:
        """Our daemons: every Postfix process sits in our queue directory."""
        spool, found = str(self.d / "spool"), []
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    if os.readlink(f"/proc/{p}/cwd") == spool:
                        found.append(int(p))
                except OSError:
                    pass
        return found

    def stop(self, timeout: float = 10.0) -> None:
        if self.pid is not None and self.pid in self._processes():  # never signal a recycled pid
            os.kill(self.pid, signal.SIGTERM)  # the master takes its children down with it
        deadline = time.monotonic() + timeout
        while self._processes() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.pid = None
        shutil.rmtree(self.d, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.d / "maillog").read_text(errors="replace")
        except OSError:
            return ""

    def queue(self) -> str:
        return subprocess.run(
            [POSTQUEUE, "-c", str(self.d / "etc"), "-p"], capture_output=True, text=True, stdin=subprocess.DEVNULL
        ).stdout


class NextHop:
    """aiosmtpd handler for the server Postfix relays to."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.fixed: set[str] = set()  # addresses refused before whose mailbox exists now

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        local = address.split("@")[0].lower()
        if local == "refuse" and address.lower() not in self.fixed:
            return f"550 5.1.1 <{address}>: no such mailbox here (test)"
        if local == "tempfail":
            return "451 4.3.0 try again later (test)"
        envelope.rcpt_tos.append(address)  # with a handle_RCPT hook this is ours to do
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 OK queued"
