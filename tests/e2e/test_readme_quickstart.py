"""The README's install and quickstart, followed as written on a fresh machine, against a real IMAP
mailbox (Dovecot) holding years of mail and a real SMTP server (aiosmtpd).

The commands are read from the README's `<!-- quickstart: ... -->` blocks, so this test breaks when
they drift. They run in one shell, in order, with only what a reader changes for their own site put in:
the host names, ports and passwords, and folders under a scratch root in place of `/opt`, `/srv` and
`/usr/local/bin`. Two things stand in for what a test machine cannot do: `apt install` is not run (the
package is named, and Python's venv is there), and pip installs ticketctl with `--no-deps` into the
fresh venv, its dependencies made visible from the test's own venv (the same versions; fetching them
all again is what pip does, not what the README says). `SSL_CERT_FILE` makes the servers' test
certificates trusted, as a public CA's are.
"""

from __future__ import annotations

import getpass
import os
import re
import site
import stat
import subprocess
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.servers.dovecot import Dovecot, make_message
from tests.servers.fixtures import _require_dovecot
from tests.servers.smtp import SmtpServer

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BLOCK = re.compile(r"<!-- quickstart: (\w+)(?: (\S+))? -->\n```\w*\n(.*?)```", re.S)
MAILBOX = "support@example.com"
MAILBOX_PASSWORD = "mailbox-pw-7f3a"
SMTP_PASSWORD = "smtp-pw-91c2"
OLD_MAIL = 60  # more than limits.first_run_backlog: years of mail in the inbox
MARK = "@@@ quickstart"


def blocks() -> list[tuple[str, str | None, str]]:
    found = [(kind, path, text) for kind, path, text in BLOCK.findall(README.read_text())]
    kinds = [kind for kind, _path, _text in found]
    assert kinds.count("install") == 1 and kinds.count("cron") == 1 and "run" in kinds and "file" in kinds, kinds
    return [(kind, path or None, text) for kind, path, text in found]


def commands(text: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comments and blank lines left out."""
    joined = text.replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture
def imap() -> Dovecot:
    _require_dovecot()
    server = Dovecot({MAILBOX: MAILBOX_PASSWORD}).start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_cert) -> SmtpServer:
    server = SmtpServer(*smtp_cert, users={MAILBOX.encode(): SMTP_PASSWORD.encode()}).start()
    yield server
    server.stop()


@pytest.fixture
def machine(tmp_path, imap, smtp, smtp_cert):
    """A scratch root standing for `/`, the substitutions a reader makes, and the environment."""
    root = tmp_path / "machine"
    (root / "usr" / "local" / "bin").mkdir(parents=True)
    (root / "opt").mkdir()
    (root / "srv").mkdir()
    trusted = tmp_path / "trusted.pem"
    trusted.write_bytes(imap.cert_file.read_bytes() + smtp_cert[0].read_bytes())
    places = [("/opt/ticketctl", f"{root}/opt/ticketctl"), ("/srv/ticketctl", f"{root}/srv/ticketctl"),
              ("/usr/local/bin", f"{root}/usr/local/bin")]  # fmt: skip
    site_values = [
        ("imap.example.com", imap.tls_host),
        ("--port 993", f"--port {imap.ports['imaps']}"),
        ("smtp.example.com", "127.0.0.1"),
        ("port: 587", f"port: {smtp.port}"),
        ("SUPPORT_PW='…'", f"SUPPORT_PW='{MAILBOX_PASSWORD}'"),
        ("SMTP_PW='…'", f"SMTP_PW='{SMTP_PASSWORD}'"),
    ]
    env = {
        "PATH": f"{root}/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "USER": getpass.getuser(),
        "LANG": "C.UTF-8",
        "SSL_CERT_FILE": str(trusted),
    }

    def local(text: str) -> str:
        for old, new in places + site_values:
            text = text.replace(old, new)
        text = re.sub(r"(^|&& )sudo ", r"\1", text, flags=re.M)  # the scratch root is ours already
        return re.sub(r"(?<!\S)\./ticketctl\b", str(REPO), text)  # "this repository's folder"

    return root, local, env


def run_install(text: str, local, env: dict[str, str], root: Path) -> None:
    for command in commands(text):
        if command.startswith("sudo apt install"):
            assert "python3-venv" in command
            continue
        command = local(command)
        if "/bin/pip install" in command:
            command = command.replace(" install ", " install -q --no-deps ", 1)
            site_packages = next((root / "opt" / "ticketctl" / "lib").glob("python3*/site-packages"))
            (site_packages / "test-dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
        done = subprocess.run(
            ["bash", "-c", command], env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"


def shell_script(parts: list[tuple[str, str | None, str]], local) -> tuple[str, list[str]]:
    """One shell session for the run and file blocks in their order: files are written where the reader
    writes them, and each command's output is marked so it can be read back."""
    lines, run = ["exec 2>&1"], []
    for kind, path, text in parts:
        if kind == "file":
            lines += [f"cat > {local(path)} <<'QUICKSTART_FILE'", local(text).rstrip("\n"), "QUICKSTART_FILE"]
        elif kind == "run":
            for command in commands(text):
                run.append(command)
                lines += [f"echo '{MARK} {len(run) - 1}'", local(command), f'echo "{MARK} exit $?"']
    return "\n".join(lines) + "\n", run


def outputs(stdout: str, run: list[str]) -> dict[str, tuple[int, str]]:
    """Each command's (exit code, output with lines joined) by the command as the README writes it."""
    found = {}
    for index, chunk in re.findall(rf"{MARK} (\d+)\n(.*?){MARK} exit \d+\n", stdout, re.S):
        code = re.search(rf"{MARK} {index}\n.*?{MARK} exit (\d+)\n", stdout, re.S)
        found[run[int(index)]] = (int(code[1]), " ".join(chunk.split()))
    return found


def output_of(found: dict[str, tuple[int, str]], start: str) -> str:
    (command,) = [c for c in found if c.startswith(start)]
    code, said = found[command]
    assert code == 0, f"`{command}` exited {code}: {said}"
    return said


def test_the_readme_quickstart_does_what_it_says(machine, imap, smtp):
    root, local, env = machine
    parts = blocks()
    imap.deliver(MAILBOX, [make_message(f"Old question {i}") for i in range(OLD_MAIL)])

    install = next(text for kind, _path, text in parts if kind == "install")
    run_install(install, local, env, root)
    ticketctl = root / "usr" / "local" / "bin" / "ticketctl"
    assert ticketctl.is_symlink() and ticketctl.resolve() == (root / "opt" / "ticketctl" / "bin" / "ticketctl")
    python = str(root / "opt/ticketctl/bin/python")
    where = subprocess.run([python, "-c", "import ticketctl; print(ticketctl.__file__)"],
                           env=env, cwd=env["HOME"], capture_output=True, text=True, check=True)  # fmt: skip
    assert where.stdout.startswith(str(root / "opt")), "the venv's own copy runs, not the checkout"

    script, run = shell_script([p for p in parts if p[0] in ("run", "file")], local)
    session = subprocess.run(
        ["bash", "-c", script], env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=300
    )
    said = outputs(session.stdout, run)
    assert len(said) == len(run), f"not every command ran:\n{session.stdout}\n{session.stderr}"
    failed = {command: out for command, (code, out) in said.items() if code != 0}
    assert not failed, f"commands of the quickstart failed: {failed}"
    desk = root / "srv" / "ticketctl"
    desk_mode = stat.S_IMODE(os.stat(desk).st_mode)

    assert "was created" in output_of(said, "ticketctl init")
    assert stat.S_IMODE(os.stat(desk / "ticketctl.db").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(desk / "ticketctl-data").st_mode) == 0o700
    added = output_of(said, "ticketctl mailbox add")
    assert f"Mailbox 'support' is reachable: {OLD_MAIL} message(s) waiting" in added
    assert "`ticketctl process` records each message, then deletes it from the server" in added
    backlog = f"This is a first run with {OLD_MAIL} messages waiting, over limits.first_run_backlog (50)"
    assert backlog in added and "without notifying anyone" in added
    tested = output_of(said, "ticketctl mailbox test")
    assert f"{OLD_MAIL} message(s) waiting" in tested and backlog in tested
    processed = output_of(said, "ticketctl process")
    assert re.search(r"\d\d:\d\d:\d\d support: 60 message\(s\): 60 new_ticket; taken in as a backlog", processed)
    assert "nobody was notified" in processed
    assert "All healthy." in output_of(said, "ticketctl status")
    assert smtp.messages == [], "the old mail notified nobody"
    assert imap.count(MAILBOX) == 0, "each message was deleted once it was recorded"

    imap.deliver(MAILBOX, [make_message("A new question")])
    cron = next(text for kind, _path, text in parts if kind == "cron").strip()
    schedule, command = cron.split(None, 5)[:5], cron.split(None, 5)[5]
    assert schedule == ["*/10", "*", "*", "*", "*"]
    assert re.search(r"&& /\S+/ticketctl process", command), "cron runs ticketctl by its absolute path"
    cron_env = {"PATH": "/usr/bin:/bin", "HOME": env["HOME"], "SSL_CERT_FILE": env["SSL_CERT_FILE"]}
    done = subprocess.run(
        ["sh", "-c", local(command)], env=cron_env, cwd="/", capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (notice,) = smtp.messages
    assert notice["rcpt_tos"] == ["helpdesk-lead@example.com"]
    mail = message_from_bytes(notice["data"], policy=policy.default)
    assert re.fullmatch(r"\[Support #61-\d+\] A new question", str(mail["Subject"]))
    assert "A new question" in mail.get_body(("plain",)).get_content()
    log = (desk / "process.log").read_text()
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d support: 1 message\(s\): 1 new_ticket$", log, re.M), log
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d queue: 1 sent through 127\.0\.0\.1", log, re.M), log
    assert stat.S_IMODE(os.stat(desk).st_mode) == desk_mode, "the desk's folder was left as it was made"
