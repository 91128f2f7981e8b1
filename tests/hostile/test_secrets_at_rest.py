"""Secrets at rest: a copy of the database alone holds no password, client secret or token in any form;
with its key everything works; without it, one sentence. References keep the secret out entirely."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.oauth.test_oauth_e2e import authorized_mailbox
from tests.pipeline.helpers import add_question_type, mail
from tests.servers.dovecot import ISSUER
from tests.servers.fake_entra import CLIENT_ID, CLIENT_SECRET, TENANT, hs256_minter
from tests.servers.fixtures import cli_add_args, mailbox_fields
from ticketctl.engine.admin import mailboxes as admin
from ticketctl.engine.oauth import microsoft as oauth
from ticketctl.engine.store import mailboxes

SUPPORT = "support@example.com"


@pytest.fixture
def jwt_entra(fake_entra, dovecot):
    """The fake Entra handing out access tokens the session Dovecot validates for XOAUTH2."""
    fake_entra.mint = hs256_minter(dovecot.hs_key, issuer=ISSUER, kid="hs1")
    return fake_entra


def forms(secret: str) -> list[bytes]:
    """The ways a secret could sit in a file: as text, UTF-16, hex, base64 (with or without padding,
    standard or URL-safe) and percent-encoded."""
    raw = secret.encode()
    return [
        raw,
        secret.encode("utf-16-le"),
        raw.hex().encode(),
        raw.hex().upper().encode(),
        base64.b64encode(raw).rstrip(b"="),
        base64.urlsafe_b64encode(raw).rstrip(b"="),
        quote(secret, safe="").encode(),
    ]


def stolen_copy(database: Path, into: Path) -> list[Path]:
    """Copy the database file and its WAL as they are on disk (a connection is open: the WAL exists)."""
    into.mkdir()
    copies = []
    for suffix in ("", "-wal"):
        source = database.with_name(database.name + suffix)
        if source.exists():
            copies.append(Path(shutil.copy(source, into / source.name)))
    return copies


def assert_holds_none(copies: list[Path], secrets: dict[str, str]) -> None:
    assert len(secrets) >= 5 and all(len(s) >= 8 for s in secrets.values())
    found = [
        (what, path.name)
        for path in copies
        for what, secret in secrets.items()
        for form in forms(secret)
        if form in path.read_bytes()
    ]
    assert found == []
    conn = sqlite3.connect(copies[0])  # and what sqlite3 itself shows of the copy
    try:
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    assert "CREATE TABLE mailboxes" in dump and "sealed:" in dump
    assert [what for what, secret in secrets.items() if secret in dump] == []


def test_a_stolen_database_holds_no_secret_and_works_with_its_key(cli, store, workdir, dovecot, jwt_entra):
    init = cli("init")
    assert init.exit_code == 0, init.stderr
    key_file = workdir / "ticketctl.key"
    assert f"secrets are sealed with the key file {key_file}" in init.stdout
    assert key_file.stat().st_mode & 0o777 == 0o600

    password_user, oauth_user = dovecot.new_user(), dovecot.new_user()
    args, env = cli_add_args(mailbox_fields(dovecot, password_user, "imap", "none", "password", name="support"))
    assert cli(*args, env=env).exit_code == 0
    add_question_type(store, "support")
    authorized_mailbox(store, jwt_entra, dovecot, oauth_user.name, "imap", "m365")
    add_question_type(store, "m365", name="Cloud", domain="contoso.com")
    admin.add(  # a third mailbox waits in its sign-in: its PKCE verifier is stored
        store,
        name="pending",
        kind="pop3",
        host="outlook.office365.com",
        username="other@contoso.com",
        auth="oauth2",
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret="cs~another-Client-Secret-42",
        redirect_url="https://support.example.com/oauth",
    )
    oauth.authorize_url(store, "pending")
    verifier = json.loads(mailboxes.get(store, "pending").oauth_state.reveal())["code_verifier"]

    dovecot.deliver(password_user.name, [mail(to=SUPPORT, subject="Printer on fire")])
    dovecot.deliver(oauth_user.name, [mail(to="cloud@contoso.com", subject="Sync is stuck")])
    run = cli("process")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "support: 1 message(s): 1 new_ticket" in run.stdout
    assert "m365: 1 message(s): 1 new_ticket" in run.stdout

    secrets = {
        "IMAP password": password_user.password,
        "client secret": CLIENT_SECRET,
        "second client secret": "cs~another-Client-Secret-42",
        "PKCE verifier": verifier,
        "secret key": key_file.read_text().strip(),
        **{f"token {i}": token for i, token in enumerate(jwt_entra.issued)},
    }
    assert len(jwt_entra.access_tokens) >= 2  # exchange and the run's login: refresh tokens rotated
    assert_holds_none(stolen_copy(store.path, workdir / "stolen"), secrets)

    # with its key, the next run reads both mailboxes again (the rotated refresh token still opens)
    dovecot.deliver(password_user.name, [mail(to=SUPPORT, subject="Still on fire")])
    dovecot.deliver(oauth_user.name, [mail(to="cloud@contoso.com", subject="Still stuck")])
    again = cli("process")
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "support: 1 message(s): 1 new_ticket" in again.stdout and "m365: 1 message(s)" in again.stdout

    # without it: one sentence, per mailbox that needs a secret, and in `status`
    key_file.rename(workdir / "key-elsewhere")
    dovecot.deliver(password_user.name, [mail(to=SUPPORT, subject="Gone")])
    lost = cli("process")
    assert lost.exit_code == 1
    sentence = (
        f"The secrets in {store.path} are sealed with a key that is not here ($TICKETCTL_SECRET_KEY is not set "
        f"and there is no key file {key_file}); restore the key file from your backup"
    )
    assert f"Error: support: 0 message(s): nothing waiting; FAILED: {sentence}" in lost.stderr
    assert "Traceback" not in lost.stdout + lost.stderr
    assert dovecot.count(password_user.name) == 1  # nothing taken in, nothing lost
    status = cli("status")
    assert status.exit_code == 1 and sentence in status.stdout


def test_a_database_from_an_older_version_is_sealed_by_init(bare_cli, workdir):
    cli = bare_cli  # the database is made here, as an older version left it
    """Migration 4 marks the clear-text secrets; `init` seals them and rewrites the file without them."""
    from ticketctl.engine.store.schema import MIGRATIONS

    database = workdir / "ticketctl.db"
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA secure_delete = OFF")  # as most SQLite builds: what is deleted stays in the file
    before_sealing = next(i for i, script in enumerate(MIGRATIONS) if "allow_cleartext" in script)
    for number, script in enumerate(MIGRATIONS[:before_sealing], 1):
        conn.executescript(script)
        conn.execute(f"PRAGMA user_version = {number}")
    old = {"password": "Old-Clear-Password-1", "refresh": "0.AXEA-old-refresh-token-xyz"}
    conn.execute(
        "INSERT INTO mailboxes (name, kind, host, username, password, created_at, updated_at)"
        " VALUES ('old', 'imap', 'imap.example.com', 'u', 'first-password-edited-away', 'now', 'now')"
    )
    conn.execute("UPDATE mailboxes SET password = ?, refresh_token = ?", (old["password"], old["refresh"]))
    for i in range(40):  # mailboxes removed long ago: their pages are free, their passwords still in them
        conn.execute(
            "INSERT INTO mailboxes (name, kind, host, username, password, created_at, updated_at)"
            " VALUES (?, 'imap', 'imap.example.com', 'u', ?, 'now', 'now')",
            (f"gone{i}", f"password-of-removed-box-{i:02d}-" + "x" * 200),
        )
    conn.execute("DELETE FROM mailboxes WHERE name != 'old'")
    conn.close()
    leftovers = {"removed": "password-of-removed-box-", **old}
    left = [w for w, s in leftovers.items() if s.encode() in database.read_bytes()]
    assert left == ["removed", "password", "refresh"]  # what an older version leaves in the file

    result = cli("init")
    assert result.exit_code == 0, result.stderr
    assert "2 secret(s) stored in the clear by an older version are now sealed" in result.stdout
    copies = [p for p in (database, database.with_name("ticketctl.db-wal")) if p.exists()]
    assert [w for w, s in leftovers.items() for p in copies if s.encode() in p.read_bytes()] == []
    shown = json.loads(cli("mailbox", "show", "old", "--json").stdout)
    assert shown["password"] == "********" and shown["refresh_token"] == "********"
    assert cli("status").stdout.count("stored in the clear") == 0


def test_a_reference_keeps_the_secret_out_of_the_database(cli, store, workdir, dovecot, mail_user, monkeypatch):
    fields = mailbox_fields(dovecot, mail_user, "imap", "none", "password", name="support")
    args, _env = cli_add_args({**fields, "password": None})
    added = cli(*args, "--password-ref", "env:SUPPORT_IMAP_PASSWORD")
    assert added.exit_code == 0, added.stderr
    add_question_type(store, "support")
    assert json.loads(cli("mailbox", "show", "support", "--json").stdout)["password"] == "env:SUPPORT_IMAP_PASSWORD"
    assert store.one("SELECT password FROM mailboxes")["password"] == "env:SUPPORT_IMAP_PASSWORD"

    dovecot.deliver(mail_user.name, [mail(to=SUPPORT)])
    unset = cli("process")
    assert unset.exit_code == 1
    assert (
        "FAILED: The password of mailbox 'support' comes from the environment variable SUPPORT_IMAP_PASSWORD, "
        "which is not set here" in unset.stderr
    )
    monkeypatch.setenv("SUPPORT_IMAP_PASSWORD", mail_user.password)
    assert "support: 1 message(s): 1 new_ticket" in cli("process").stdout

    # a file, and a systemd credential (LoadCredential= puts it in $CREDENTIALS_DIRECTORY)
    credentials = workdir / "credentials"
    credentials.mkdir()
    (credentials / "imap-password").write_text(mail_user.password + "\n")
    assert cli("mailbox", "edit", "support", "--password-ref", f"file:{credentials / 'imap-password'}").exit_code == 0
    dovecot.deliver(mail_user.name, [mail(to=SUPPORT, subject="from a file")])
    monkeypatch.delenv("SUPPORT_IMAP_PASSWORD")
    assert "support: 1 message(s): 1 new_ticket" in cli("process").stdout
    assert cli("mailbox", "edit", "support", "--password-ref", "credential:imap-password").exit_code == 0
    dovecot.deliver(mail_user.name, [mail(to=SUPPORT, subject="from a credential")])
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert "support: 1 message(s): 1 new_ticket" in cli("process").stdout
    assert mail_user.password.encode() not in store.path.read_bytes()


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("SUPPORT_PW", "'SUPPORT_PW' is not a reference to the password of mailbox 'x'; use env:NAME, file:/"),
        ("file:relative/path", "'file:relative/path' is not a reference"),
        ("env:1BAD", "'env:1BAD' is not a reference"),
    ],
)
def test_a_malformed_reference_is_refused(cli, ref, message):
    result = cli("mailbox", "add", "x", "--host", "imap.example.com", "--username", "u", "--password-ref", ref)
    assert result.exit_code == 1
    assert message in result.stderr


def add_box(cli, password: str, check: bool = True):
    result = cli(
        "mailbox", "add", "box", "--host", "imap.example.com", "--username", "u", "--password-env", "PW",
        env={"PW": password},
    )  # fmt: skip
    assert result.exit_code == 0 or not check, result.stderr
    return result


def test_rotate_key_with_a_key_file(cli, store, workdir):
    assert cli("init").exit_code == 0
    add_box(cli, "Rotating-Password-9")
    key_file = workdir / "ticketctl.key"
    old_key = key_file.read_text()
    before = store.one("SELECT password FROM mailboxes")["password"]

    rotated = cli("secrets", "rotate-key")
    assert rotated.exit_code == 0, rotated.stderr
    assert f"Sealed 1 secret(s) with the new key (the key file {key_file}); the old key is gone" in rotated.stdout
    assert key_file.read_text() != old_key and len(key_file.read_text().split()) == 1
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert store.one("SELECT password FROM mailboxes")["password"] != before
    fresh = type(store)(store.path, store.data_dir)
    try:
        assert mailboxes.get(fresh, "box").password.reveal() == "Rotating-Password-9"
    finally:
        fresh.close()

    key_file.write_text(old_key)  # the old key no longer fits this database
    key_file.chmod(0o600)
    wrong = cli("status")
    assert wrong.exit_code == 1
    assert f"were sealed with another key than the key file {key_file}" in wrong.stdout


def test_rotate_key_from_the_environment(bare_cli, store, monkeypatch):
    cli = bare_cli  # `init` runs below, with the key in the environment
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("TICKETCTL_SECRET_KEY", old)
    assert cli("init").exit_code == 0
    add_box(cli, "Env-Keyed-Password-7")
    refused = cli("secrets", "rotate-key")
    assert refused.exit_code == 1
    assert "put a new key in front of the old one (TICKETCTL_SECRET_KEY=NEW,OLD" in refused.stderr

    monkeypatch.setenv("TICKETCTL_SECRET_KEY", f"{new},{old}")
    rotated = cli("secrets", "rotate-key")
    assert rotated.exit_code == 0, rotated.stderr
    assert "now remove the old key from it wherever ticketctl runs" in rotated.stdout
    monkeypatch.setenv("TICKETCTL_SECRET_KEY", new)
    fresh = type(store)(store.path, store.data_dir)
    try:
        assert mailboxes.get(fresh, "box").password.reveal() == "Env-Keyed-Password-7"
    finally:
        fresh.close()
    monkeypatch.setenv("TICKETCTL_SECRET_KEY", old)
    status = cli("status")
    assert "were sealed with another key than $TICKETCTL_SECRET_KEY" in status.stdout


def test_a_key_file_others_may_read_is_refused(cli, workdir):
    assert cli("init").exit_code == 0
    (workdir / "ticketctl.key").chmod(0o644)
    result = add_box(cli, "whatever-password", check=False)
    assert result.exit_code == 1
    assert "may be read by other users; make it private with `chmod 600" in result.stderr


def test_no_record_or_object_shows_a_secret_in_its_repr(store, workdir):
    from ticketctl.engine.config import load_config
    from ticketctl.engine.store import secrets

    admin.add(
        store,
        name="box",
        kind="imap",
        host="imap.example.com",
        username="u",
        password="Repr-Password-3",
    )
    box = mailboxes.get(store, "box")
    shown = [repr(box), str(box.password), repr(box.password), repr(secrets.keys(store)), repr(load_config())]
    key = (workdir / "ticketctl.key").read_text().strip()
    assert [s for s in shown if "Repr-Password-3" in s or key in s] == []
    assert box.password.reveal() == "Repr-Password-3"
