"""`ticketctl mailbox`: add, list, show, edit, remove and test the mailboxes mail is read from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ticketctl.commands.common import (
    JsonOption,
    WideOption,
    YesOption,
    confirm,
    lazy,
    plural,
    print_json,
    print_record,
    print_table,
    safe,
    say,
    state,
    warn,
    when,
)
from ticketctl.commands.secrets_input import read_secret
from ticketctl.engine.enums import MailboxAuth, MailboxKind, OAuthProvider, Security
from ticketctl.engine.errors import TicketctlError, detail, typed

if TYPE_CHECKING:
    from ticketctl.engine.admin.mailboxes import MailboxCheck

mailboxes = lazy("ticketctl.engine.admin.mailboxes")

app = typer.Typer(help="Manage the mailboxes mail is read from.", no_args_is_help=True)

Name = typer.Argument(..., help="The mailbox's name.")
KIND_HELP = "Where mail is read from: an IMAP or POP3 server, or a local Maildir directory."
SECURITY_HELP = "ssl: implicit TLS (IMAP 993, POP3 995); starttls: a plain port that switches to TLS (143, 110); none."
AUTH_HELP = "password, or oauth2 (Microsoft 365: see `ticketctl oauth`)."
Kind = typer.Option(None, "--kind", help=KIND_HELP)
KindDefault = typer.Option(MailboxKind.IMAP, "--kind", help=KIND_HELP, show_default=True)
Host = typer.Option(None, help="Server host name.")
Port = typer.Option(None, help="Server port (default: by kind and security).", metavar="PORT")
SecurityOption = typer.Option(None, "--security", help=SECURITY_HELP)
Username = typer.Option(None, help="Login name on the server.", metavar="NAME")
Auth = typer.Option(None, "--auth", help=AUTH_HELP)
PasswordEnv = typer.Option(None, "--password-env", metavar="VAR", help="Read the password from this variable.")
PasswordStdin = typer.Option(False, "--password-stdin", help="Read the password from standard input.")
PasswordRef = typer.Option(
    None,
    "--password-ref",
    metavar="REF",
    help="Store no password, only where to read it at each run: env:NAME, file:/path or credential:NAME "
    "(a systemd credential).",
)
AllowCleartext = typer.Option(
    None, "--allow-cleartext/--no-allow-cleartext", help="Allow a login over --security none to another host."
)
Folder = typer.Option(None, help="Folder to read (default INBOX); non-ASCII names work as typed.", metavar="FOLDER")
Processed = typer.Option(
    None,
    "--processed-folder",
    metavar="FOLDER",
    help="Move processed mail to this folder (created when needed) instead of deleting it; IMAP and Maildir.",
)
MaildirPath = typer.Option(None, "--path", metavar="DIR", help="The Maildir directory (kind maildir).")
VerifyTls = typer.Option(None, "--verify-tls/--no-verify-tls", help="Verify the server's certificate.")
CaFile = typer.Option(None, "--ca-file", metavar="FILE", help="A CA bundle to verify the server's certificate with.")
Provider = typer.Option(None, "--oauth-provider", help="OAuth2 provider (only Microsoft for now).")
Tenant = typer.Option(None, "--tenant-id", metavar="ID", help="Azure directory (tenant) id.")
Client = typer.Option(None, "--client-id", metavar="ID", help="Azure application (client) id.")
SecretEnv = typer.Option(None, "--client-secret-env", metavar="VAR", help="Read the client secret from this variable.")
SecretStdin = typer.Option(False, "--client-secret-stdin", help="Read the client secret from standard input.")
SecretRef = typer.Option(
    None,
    "--client-secret-ref",
    metavar="REF",
    help="Store no client secret, only where to read it at each run: env:NAME, file:/path or credential:NAME.",
)
SecretExpires = typer.Option(
    None,
    "--client-secret-expires",
    metavar="YYYY-MM-DD",
    help="When the Azure client secret expires (they live at most 730 days).",
)
RefreshEnv = typer.Option(
    None,
    "--refresh-token-env",
    metavar="VAR",
    help="An OAuth2 refresh token you already have (e.g. from another system), from this variable; "
    "it then needs no `oauth url`/`oauth exchange`.",
)
RefreshStdin = typer.Option(
    False, "--refresh-token-stdin", help="The same, from standard input (after any other secret read there)."
)
Redirect = typer.Option(None, "--redirect-url", metavar="URL", help="The redirect URL registered for the application.")


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = Name,
    kind: MailboxKind = KindDefault,
    host: str = Host,
    port: int = Port,
    security: Security = typer.Option(Security.SSL, "--security", help=SECURITY_HELP, show_default=True),
    username: str = Username,
    auth: MailboxAuth = typer.Option(MailboxAuth.PASSWORD, "--auth", help=AUTH_HELP, show_default=True),
    password_env: str = PasswordEnv,
    password_stdin: bool = PasswordStdin,
    password_ref: str = PasswordRef,
    allow_cleartext: bool = AllowCleartext,
    folder: str = Folder,
    processed_folder: str = Processed,
    path: Path = MaildirPath,
    verify_tls: bool = VerifyTls,
    ca_file: Path = CaFile,
    oauth_provider: OAuthProvider = Provider,
    tenant_id: str = Tenant,
    client_id: str = Client,
    client_secret_env: str = SecretEnv,
    client_secret_stdin: bool = SecretStdin,
    client_secret_ref: str = SecretRef,
    client_secret_expires: str = SecretExpires,
    redirect_url: str = Redirect,
    refresh_token_env: str = RefreshEnv,
    refresh_token_stdin: bool = RefreshStdin,
    check: bool = typer.Option(
        True, "--check/--no-check", help="Connect once to say what waits and what `process` will do with it."
    ),
    json: bool = JsonOption,
) -> None:
    """Add a mailbox, then connect to it once: how many messages wait, and what `ticketctl process` will
    do with them. Secrets come from a variable, standard input or a hidden prompt, never an argument, and
    are stored sealed; or they stay outside the database with --password-ref / --client-secret-ref."""
    needs_password = kind != MailboxKind.MAILDIR and auth == MailboxAuth.PASSWORD and password_ref is None
    password = read_secret("password", password_env, password_stdin, ask=needs_password)
    oauth2 = auth == MailboxAuth.OAUTH2
    needs_secret = oauth2 and client_secret_ref is None
    client_secret = read_secret("client secret", client_secret_env, client_secret_stdin, ask=needs_secret)
    refresh_token = read_secret("refresh token", refresh_token_env, refresh_token_stdin, ask=False)
    st = state(ctx)
    mailbox = mailboxes.add(
        st.store,
        name=name,
        kind=kind,
        host=host,
        port=port,
        security=security,
        username=username,
        auth=auth,
        password=password,
        password_ref=password_ref,
        allow_cleartext=allow_cleartext,
        folder=folder or "INBOX",
        processed_folder=processed_folder,
        maildir_path=str(path.resolve()) if path else None,
        verify_tls=True if verify_tls is None else verify_tls,
        ca_file=str(ca_file) if ca_file else None,
        oauth_provider=oauth_provider,
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret=client_secret,
        client_secret_ref=client_secret_ref,
        client_secret_expires_at=client_secret_expires,
        redirect_url=redirect_url,
        refresh_token=refresh_token,
    )
    name_ = typed(mailbox.name)
    found, problem = None, None
    unauthorized = oauth2 and not mailbox.refresh_token  # nothing to log in with before `oauth exchange`
    if check and not unauthorized:
        try:
            found = mailboxes.check(st.store, st.config, mailbox.name)
        except TicketctlError as exc:  # saved all the same: e.g. a --password-ref set only in cron's environment
            problem = str(exc)
    if json:
        print_json({"mailbox": mailbox.public(), "check": found, "problem": problem})
        return
    say(f"Added mailbox '{mailbox.name}' ({mailbox.kind}).")
    if found is not None:
        _say_check(found)
    if problem is not None:
        warn(
            f"{detail(problem, f'Mailbox {mailbox.name!r}')}; the mailbox is saved: fix it with "
            f"`ticketctl mailbox edit {name_} …`, then `ticketctl mailbox test {name_}`."
        )
    if unauthorized:
        say(
            f"Authorize it next (`ticketctl oauth url {name_}`); `ticketctl mailbox test {name_}` then says what waits."
        )


@app.command("list")
def list_(ctx: typer.Context, wide: bool = WideOption, json: bool = JsonOption) -> None:
    """List the mailboxes (secrets masked)."""
    boxes = mailboxes.list_all(state(ctx).store)
    if json:
        print_json([m.public() for m in boxes])
        return
    print_table(
        "Mailboxes",
        ["Name", "Kind", "Server", "User", "Auth", "Folder", "Last success"],
        [
            (
                safe(m.name, oneline=True),
                m.kind,
                safe(m.maildir_path if m.kind == "maildir" else f"{m.host}:{m.port} ({m.security})", oneline=True),
                safe(m.username, oneline=True),
                m.auth,
                safe(m.folder, oneline=True),
                when(m.last_success_at, "never"),
            )
            for m in boxes
        ],
        wide=wide,
        footer=plural(len(boxes), "mailbox", "mailboxes") + ".",
        empty="No mailboxes yet; add one with `ticketctl mailbox add NAME …`.",
    )


@app.command("show")
def show(ctx: typer.Context, name: str = Name, json: bool = JsonOption) -> None:
    """Show one mailbox with every field (secrets masked)."""
    mailbox = mailboxes.get(state(ctx).store, name).public()
    if json:
        print_json(mailbox)
    else:
        print_record(f"Mailbox {mailbox['name']}", mailbox)


@app.command("edit")
def edit(
    ctx: typer.Context,
    name: str = Name,
    new_name: str = typer.Option(None, "--name", metavar="NEW_NAME", help="Rename the mailbox."),
    kind: MailboxKind = Kind,
    host: str = Host,
    port: int = Port,
    security: Security = SecurityOption,
    username: str = Username,
    auth: MailboxAuth = Auth,
    password_env: str = PasswordEnv,
    password_stdin: bool = PasswordStdin,
    ask_password: bool = typer.Option(False, "--ask-password", help="Prompt for a new password."),
    password_ref: str = PasswordRef,
    allow_cleartext: bool = AllowCleartext,
    folder: str = Folder,
    processed_folder: str = Processed,
    path: Path = MaildirPath,
    verify_tls: bool = VerifyTls,
    ca_file: Path = CaFile,
    oauth_provider: OAuthProvider = Provider,
    tenant_id: str = Tenant,
    client_id: str = Client,
    client_secret_env: str = SecretEnv,
    client_secret_stdin: bool = SecretStdin,
    client_secret_ref: str = SecretRef,
    client_secret_expires: str = SecretExpires,
    redirect_url: str = Redirect,
    refresh_token_env: str = RefreshEnv,
    refresh_token_stdin: bool = RefreshStdin,
    json: bool = JsonOption,
) -> None:
    """Change fields of a mailbox; options left out keep their value."""
    password = read_secret("password", password_env, password_stdin, ask=ask_password)
    client_secret = read_secret("client secret", client_secret_env, client_secret_stdin, ask=False)
    refresh_token = read_secret("refresh token", refresh_token_env, refresh_token_stdin, ask=False)
    mailbox = mailboxes.edit(
        state(ctx).store,
        name,
        name=new_name,
        kind=kind,
        host=host,
        port=port,
        security=security,
        username=username,
        auth=auth,
        password=password,
        password_ref=password_ref,
        allow_cleartext=allow_cleartext,
        folder=folder,
        processed_folder=processed_folder,
        maildir_path=str(path.resolve()) if path else None,
        verify_tls=verify_tls,
        ca_file=str(ca_file) if ca_file else None,
        oauth_provider=oauth_provider,
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret=client_secret,
        client_secret_ref=client_secret_ref,
        client_secret_expires_at=client_secret_expires,
        redirect_url=redirect_url,
        refresh_token=refresh_token,
    )
    if json:
        print_json(mailbox.public())
    else:
        say(f"Updated mailbox '{mailbox.name}'.")


@app.command("remove")
def remove(ctx: typer.Context, name: str = Name, yes: bool = YesOption, json: bool = JsonOption) -> None:
    """Remove a mailbox that no ticket type or ticket uses; asks first (--yes does not)."""
    store = state(ctx).store
    mailbox = mailboxes.removable(store, name)
    confirm(f"Remove mailbox '{mailbox.name}' ({mailboxes.describe(mailbox)})?", yes)
    removed = mailboxes.remove(store, name)
    if json:
        print_json({"removed": removed.public()})
    else:
        say(f"Removed mailbox '{removed.name}' ({mailboxes.describe(removed)}).")


@app.command("test")
def test_mailbox(ctx: typer.Context, name: str = Name, json: bool = JsonOption) -> None:
    """Connect and log in, then say how many messages wait and what `ticketctl process` will do with
    them (changes nothing)."""
    st = state(ctx)
    found = mailboxes.check(st.store, st.config, name)
    if json:
        print_json(found)
    else:
        _say_check(found)


def _say_check(found: MailboxCheck) -> None:
    """What waits, and what the next `ticketctl process` does with it."""
    name = typed(found.mailbox)
    say(
        f"Mailbox '{found.mailbox}' is reachable: {found.waiting} message(s) waiting, "
        f"{_size(found.total_bytes)} in all."
    )
    say(f"`ticketctl process` records each message, then {found.after_processing}.")
    if found.backlog and found.waiting:
        say(
            f"This is {found.backlog}: `process` takes them in as tickets without notifying anyone "
            "(`ticketctl process --notify` would send every notice)."
        )
    elif found.waiting:
        say("Each new ticket is announced to its type's admin as usual (`process --backlog` would not).")
    if not found.read_by:
        say(
            "No active ticket type reads this mailbox yet, so `process` leaves it alone: "
            f"add one with `ticketctl type add NAME --mailbox {name} …`."
        )


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"
