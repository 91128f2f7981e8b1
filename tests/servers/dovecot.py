"""A throw-away Dovecot 2.3 for tests: loopback, high ports, a temporary directory, IMAP, IMAPS, POP3,
POP3S, password logins and XOAUTH2/OAUTHBEARER with JWTs validated locally (tokens the test mints).

Recipe and pitfalls: /work/shared/notes/mail-servers-for-tests.md. The certificate is self-signed for
the name `localhost` only (no IP address), so a client that verifies against `cert_file` succeeds with
host `localhost` and sees a name mismatch with host `127.0.0.1`.
"""

from __future__ import annotations

import base64
import grp
import itertools
import os
import pwd
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path

DOVECOT_BIN = shutil.which("dovecot") or "/usr/sbin/dovecot"
ISSUER = "https://issuer.test"
PORT_NAMES = ("imap", "imaps", "pop3", "pop3s")
POOL_SIZE = 400  # spare users for new_user()

_CONF = string.Template(r"""
instance_name = $name
base_dir = $d/run
state_dir = $d/state
protocols = imap pop3
listen = 127.0.0.1
log_path = $d/dovecot.log
auth_verbose = yes
auth_debug = no

default_internal_user = $internal_user
default_internal_group = $internal_group
default_login_user = $login_user

ssl = yes
ssl_cert = <$d/cert.pem
ssl_key = <$d/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer

# failed logins: answer at once, no per-IP penalty that would slow the next good login
auth_failure_delay = 0
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

# mail processes may never run as root
mail_uid = $mail_uid
mail_gid = $mail_gid
mail_location = maildir:~/Maildir

passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $d/dovecot-oauth2.conf.ext
}
passdb {
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $d/users
  default_fields = home=$d/home/%u
}

service ipc {
  chroot =
}
service old-stats {
  chroot =
}
service imap-urlauth-login {
  chroot =
}
service imap-login {
  chroot =
  inet_listener imap {
    port = $imap
  }
  inet_listener imaps {
    port = $imaps
    ssl = yes
  }
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    port = $pop3
  }
  inet_listener pop3s {
    port = $pop3s
    ssl = yes
  }
}
""")

_OAUTH2_CONF = """introspection_mode = local
local_validation_key_dict = fs:posix:prefix={d}/oauth2-keys/
username_attribute = email
issuers = {issuer}
"""


def _wait_until_gone(group: int, timeout: float = 5.0) -> None:
    """Wait until no live process of the process group `group` is left (a restart binds the same ports;
    zombies hold no sockets, and an init that does not reap may keep them for ever)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _live_members(group):
        time.sleep(0.01)


def _live_members(group: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":  # fields after the name: state, ppid, pgrp
            return True
    return False


def free_port() -> int:
    """A loopback port nobody listens on (at the moment of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reachable_tmp() -> str | None:
    """A temp directory whose every ancestor others may traverse: as root, Dovecot's auth and mail
    processes run as other users and must reach the instance directory (some machines have a 0700
    /tmp)."""
    if os.geteuid() != 0:
        return None
    for candidate in (tempfile.gettempdir(), "/var/tmp", "/dev/shm"):
        path = Path(candidate).resolve()
        if path.is_dir() and all(p.stat().st_mode & 0o001 for p in (path, *path.parents)):
            return str(path)
    raise RuntimeError("No temporary directory that the dovecot user can reach; set TMPDIR to one.")


def dovecot_available() -> bool:
    return Path(DOVECOT_BIN).is_file()


@dataclass(frozen=True)
class MailUser:
    name: str
    password: str


class Dovecot:
    """One private Dovecot instance. `start()`, then `deliver`/`count`/`subjects` by Maildir, and
    `mint_token` for XOAUTH2. `stop(cleanup=False)` then `start()` restarts it on the same ports."""

    host = "127.0.0.1"
    tls_host = "localhost"  # the name in the certificate

    def __init__(self, users: dict[str, str] | None = None) -> None:
        self.users: dict[str, str] = dict(users or {})
        self.ports: dict[str, int] = {k: free_port() for k in PORT_NAMES}
        self.d = Path(tempfile.mkdtemp(prefix="dovecot-test-", dir=_reachable_tmp()))
        os.chmod(self.d, 0o755)  # the auth process (another uid) must read the users file
        self.hs_key = os.urandom(32)
        self.proc: subprocess.Popen[bytes] | None = None
        self._seq = itertools.count(1)
        self._configured = False
        self._pool: list[MailUser] = []
        if os.geteuid() == 0:
            self._internal = ("dovecot", "dovecot", "dovenull")
            mail_user, mail_group = "nobody", "nogroup"
        else:
            me = pwd.getpwuid(os.geteuid()).pw_name
            group = grp.getgrgid(os.getegid()).gr_name
            self._internal = (me, group, me)
            mail_user, mail_group = me, group
        self._mail_names = (mail_user, mail_group)
        self.mail_uid = pwd.getpwnam(mail_user).pw_uid
        self.mail_gid = grp.getgrnam(mail_group).gr_gid

    # --- paths ---
    @property
    def conf(self) -> Path:
        return self.d / "dovecot.conf"

    @property
    def cert_file(self) -> Path:
        """The server's self-signed certificate (for `ca_file` in tests; name `localhost`)."""
        return self.d / "cert.pem"

    @property
    def key_file(self) -> Path:
        return self.d / "key.pem"

    def log(self) -> str:
        try:
            return (self.d / "dovecot.log").read_text(errors="replace")
        except OSError:
            return ""

    # --- lifecycle ---
    def start(self, timeout: float = 10.0) -> Dovecot:
        if not self._configured:
            self._configure()
        self.proc = subprocess.Popen([DOVECOT_BIN, "-F", "-c", str(self.conf)], start_new_session=True)
        deadline = time.monotonic() + timeout
        for port in self.ports.values():
            while True:
                try:
                    with socket.create_connection((self.host, port), timeout=1):
                        break
                except OSError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("dovecot did not start:\n" + self.log()) from None
                    time.sleep(0.01)
        return self

    def stop(self, cleanup: bool = True) -> None:
        """Kill the whole process group at once (connections drop as on a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            _wait_until_gone(self.proc.pid)  # its login processes hold the listening ports until they die
        self.proc = None
        if cleanup:
            shutil.rmtree(self.d, ignore_errors=True)

    def _configure(self) -> None:
        d = self.d
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
            + ["-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]
            + ["-keyout", str(self.key_file), "-out", str(self.cert_file)],
            check=True,
            capture_output=True,
        )
        (d / "home").mkdir()
        os.chown(d / "home", self.mail_uid, self.mail_gid)
        self._write_users()
        key_file = d / "oauth2-keys" / "default" / "HS256" / "hs1"
        key_file.parent.mkdir(parents=True)
        key_file.write_text(base64.b64encode(self.hs_key).decode())
        for p in (key_file, *key_file.parents):
            if p == d:
                break
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        (d / "dovecot-oauth2.conf.ext").write_text(_OAUTH2_CONF.format(d=d, issuer=ISSUER))
        internal_user, internal_group, login_user = self._internal
        self.conf.write_text(
            _CONF.substitute(
                name=d.name,
                d=d,
                internal_user=internal_user,
                internal_group=internal_group,
                login_user=login_user,
                mail_uid=self._mail_names[0],
                mail_gid=self._mail_names[1],
                **self.ports,
            )
        )
        self._configured = True

    # --- users ---
    def new_user(self) -> MailUser:
        """A fresh user with an empty INBOX, for a test that must not see other tests' mail. Users come
        from a pool written before the server starts: Dovecot notices a changed users file only once
        a second, so adding users to a running server is not reliable."""
        if not self._pool:
            raise RuntimeError(f"All {POOL_SIZE} spare users are taken; raise POOL_SIZE in {__file__}.")
        user = self._pool.pop(0)
        self._make_maildir(self.maildir(user.name))
        return user

    def _write_users(self) -> None:
        self._pool = [MailUser(f"user{i:04d}", f"pw-{i}-{os.urandom(4).hex()}") for i in range(POOL_SIZE)]
        lines = [f"{name}:{{PLAIN}}{pw}::::\n" for name, pw in self.users.items()]
        lines += [f"{u.name}:{{PLAIN}}{u.password}::::\n" for u in self._pool]
        (self.d / "users").write_text("".join(lines))
        for name in self.users:
            self._make_maildir(self.maildir(name))

    def _make_maildir(self, path: Path) -> None:
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        top = self.d / "home"
        for p in (path / "cur", path / "new", path / "tmp", path, *path.parents):
            if p == top:
                break
            os.chown(p, self.mail_uid, self.mail_gid)

    # --- tokens ---
    def mint_token(self, user: str, ttl: int = 300, **claims: object) -> str:
        """A JWT the server accepts for `user` (HS256, locally validated). A negative ttl gives an
        expired token; override claims (e.g. iss) to make other bad tokens."""
        import jwt

        now = int(time.time())
        body: dict[str, object] = {"iss": ISSUER, "sub": "id-" + user, "email": user, "exp": now + ttl}
        if ttl > 0:
            # a little in the past: Dovecot compares iat with its cached loop time, which can still be
            # the previous second, and refuses a token "issued in the future"
            body["iat"] = now - 30
        body.update(claims)
        return jwt.encode(body, self.hs_key, algorithm="HS256", headers={"kid": "hs1"})

    # --- mail on disk ---
    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        """The Maildir of a user's folder (Maildir++ layout, names in modified UTF-7 as Dovecot 2.3
        stores them)."""
        base = self.d / "home" / user / "Maildir"
        if folder.upper() == "INBOX":
            return base
        from imapclient import imap_utf7

        return base / ("." + imap_utf7.encode(folder).decode("ascii"))

    def deliver(self, user: str, messages: list[bytes], folder: str = "INBOX") -> None:
        """Put messages in a folder (created if missing) as an MTA would: write tmp/, rename to new/.
        Dovecot assigns UIDs in the order given."""
        md = self.maildir(user, folder)
        if not (md / "new").is_dir():
            self._make_maildir(md)
        host = socket.gethostname().replace("/", "_").replace(":", "_")
        now = int(time.time())
        for raw in messages:
            n = next(self._seq)
            name = f"{now}.M{n:08d}P{os.getpid()}Q{n}.{host}"
            tmp = md / "tmp" / name
            tmp.write_bytes(raw)
            os.chown(tmp, self.mail_uid, self.mail_gid)
            os.rename(tmp, md / "new" / name)

    def _files(self, user: str, folder: str, include_deleted: bool) -> list[Path]:
        md = self.maildir(user, folder)
        files: list[Path] = []
        for sub in ("new", "cur"):
            if not (md / sub).is_dir():
                continue
            for p in sorted((md / sub).iterdir()):
                flags = p.name.split(":2,", 1)[1] if ":2," in p.name else ""
                if include_deleted or "T" not in flags:
                    files.append(p)
        return files

    def count(self, user: str, folder: str = "INBOX", include_deleted: bool = False) -> int:
        """How many messages are left in the folder; by default not counting those flagged \\Deleted
        but not yet expunged."""
        return len(self._files(user, folder, include_deleted))

    def messages(self, user: str, folder: str = "INBOX", include_deleted: bool = False) -> list[bytes]:
        return [p.read_bytes() for p in self._files(user, folder, include_deleted)]

    def subjects(self, user: str, folder: str = "INBOX", include_deleted: bool = False) -> set[str]:
        """The Subject of every message left in the folder."""
        parse = BytesHeaderParser().parsebytes
        return {str(parse(raw)["Subject"]) for raw in self.messages(user, folder, include_deleted)}


def make_message(subject: str, body_lines: int = 20, to: str = "support@example.com") -> bytes:
    """A small RFC 5322 message with CRLF line endings (what IMAP and POP3 return byte for byte);
    one body line starts with a dot, to exercise POP3 dot-stuffing."""
    body = "".join(f"line {i} of {subject}\r\n" for i in range(body_lines))
    return (
        f"From: Customer <customer@example.org>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}.{os.urandom(4).hex()}@example.org>\r\n"
        f"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\n.leading dot\r\n{body}"
    ).encode()
