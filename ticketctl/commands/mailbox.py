"""`ticketctl mailbox`: add, list, show, edit, remove and test the mailboxes mail is read from."""

from __future__ import annotations

from pathlib import Path

import typer

from ticketctl.commands.common import JsonOption, lazy, print_json, print_record, print_table, safe, say, state
from ticketctl.commands.secrets_input import read_secret

mailboxes = lazy("ticketctl.engine.admin.mailboxes")

app = typer.Typer(help="Manage the mailboxes mail is read from.", no_args_is_help=True)

Name = typer.Argument(..., help="The mailbox's name.")
Kind = typer.Option(None, "--kind", help="imap, pop3 or maildir.")
Host = typer.Option(None, help="Server host name.")
Port = typer.Option(None, help="Server port (default: by kind and security).")
Security = typer.Option(None, help="ssl (implicit TLS), starttls or none.")
Username = typer.Option(None, help="Login name on the server.")
Auth = typer.Option(None, help="password or oauth2.")
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
Folder = typer.Option(None, help="Folder to read (default INBOX); non-ASCII names work as typed.")
Processed = typer.Option(None, "--processed-folder", help="Move processed mail here instead of deleting it.")
MaildirPath = typer.Option(None, "--path", help="The Maildir directory (kind maildir).")
VerifyTls = typer.Option(None, "--verify-tls/--no-verify-tls", help="Verify the server's certificate.")
CaFile = typer.Option(None, "--ca-file", help="A CA bundle to verify the server's certificate with.")
Provider = typer.Option(None, "--oauth-provider", help="OAuth2 provider: microsoft.")
Tenant = typer.Option(None, "--tenant-id", help="Azure directory (tenant) id.")
Client = typer.Option(None, "--client-id", help="Azure application (client) id.")
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
Redirect = typer.Option(None, "--redirect-url", help="The redirect URL registered for the application.")


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = Name,
    kind: str = Kind,
    host: str = Host,
    port: int = Port,
    security: str = Security,
    username: str = Username,
    auth: str = Auth,
    password_env: str = PasswordEnv,
    password_stdin: bool = PasswordStdin,
    password_ref: str = PasswordRef,
    allow_cleartext: bool = AllowCleartext,
    folder: str = Folder,
    processed_folder: str = Processed,
    path: Path = MaildirPath,
    verify_tls: bool = VerifyTls,
    ca_file: Path = CaFile,
    oauth_provider: str = Provider,
    tenant_id: str = Tenant,
    client_id: str = Client,
    client_secret_env: str = SecretEnv,
    client_secret_stdin: bool = SecretStdin,
    client_secret_ref: str = SecretRef,
    client_secret_expires: str = SecretExpires,
    redirect_url: str = Redirect,
) -> None:
    """Add a mailbox. Secrets come from a variable, standard input or a hidden prompt (and are stored
    sealed), or stay outside the database with --password-ref / --client-secret-ref."""
    kind = kind or "imap"
    auth = auth or "password"
    needs_password = kind != "maildir" and auth == "password" and password_ref is None
    password = read_secret("password", password_env, password_stdin, ask=needs_password)
    needs_secret = auth == "oauth2" and client_secret_ref is None
    client_secret = read_secret("client secret", client_secret_env, client_secret_stdin, ask=needs_secret)
    mailbox = mailboxes.add(
        state(ctx).store,
        name=name,
        kind=kind,
        host=host,
        port=port,
        security=security or "ssl",
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
    )
    say(f"Added mailbox '{mailbox.name}' ({mailbox.kind}).")


@app.command("list")
def list_(ctx: typer.Context, json: bool = JsonOption) -> None:
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
                safe(m.name),
                m.kind,
                safe(m.maildir_path if m.kind == "maildir" else f"{m.host}:{m.port} ({m.security})"),
                safe(m.username),
                m.auth,
                safe(m.folder),
                m.last_success_at or "never",
            )
            for m in boxes
        ],
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
    new_name: str = typer.Option(None, "--name", help="Rename the mailbox."),
    kind: str = Kind,
    host: str = Host,
    port: int = Port,
    security: str = Security,
    username: str = Username,
    auth: str = Auth,
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
    oauth_provider: str = Provider,
    tenant_id: str = Tenant,
    client_id: str = Client,
    client_secret_env: str = SecretEnv,
    client_secret_stdin: bool = SecretStdin,
    client_secret_ref: str = SecretRef,
    client_secret_expires: str = SecretExpires,
    redirect_url: str = Redirect,
) -> None:
    """Change fields of a mailbox; options left out keep their value."""
    password = read_secret("password", password_env, password_stdin, ask=ask_password)
    client_secret = read_secret("client secret", client_secret_env, client_secret_stdin, ask=False)
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
    )
    say(f"Updated mailbox '{mailbox.name}'.")


@app.command("remove")
def remove(ctx: typer.Context, name: str = Name) -> None:
    """Remove a mailbox that no ticket type or ticket uses."""
    mailboxes.remove(state(ctx).store, name)
    say(f"Removed mailbox '{name}'.")


@app.command("test")
def test_mailbox(ctx: typer.Context, name: str = Name) -> None:
    """Connect and log in, then report how many messages wait and their total size (changes nothing)."""
    from ticketctl.engine.intake.sources.probe import probe
    from ticketctl.engine.oauth.tokens import token_source

    st = state(ctx)
    mailbox = mailboxes.get(st.store, name)
    tokens = token_source(st.store, mailbox) if mailbox.auth == "oauth2" else None
    result = probe(mailbox, st.config.limits, tokens)
    size = _size(result.total_bytes)
    say(f"Mailbox '{name}' is reachable: {result.count} message(s) waiting, {size} in all.")


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"
