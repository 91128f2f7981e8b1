"""An SMTP outbox that logs in with OAuth2 (Microsoft 365's SMTP): the sending mailbox is added and
authorized with the real commands against the fake Entra, and aiosmtpd accepts only an access token that
the fake Entra actually issued. Nothing but the identity platform is faked (through MSAL's HTTP client)."""

from __future__ import annotations

from tests.e2e.conftest import ADMIN, SUPPORT, customer_mail
from tests.servers.fake_entra import CLIENT_ID, CLIENT_SECRET, TENANT

REDIRECT = "https://support.example.com/oauth"


def authorize_sending_mailbox(desk, fake_entra, name: str, user: str) -> None:
    """`mailbox add --auth oauth2`, `oauth url`, the browser's sign-in, `oauth exchange`."""
    desk.run(
        "mailbox", "add", name, "--kind", "imap", "--host", "outlook.office365.com", "--username", user,
        "--auth", "oauth2", "--tenant-id", TENANT, "--client-id", CLIENT_ID, "--client-secret-env", "CS",
        "--redirect-url", REDIRECT,
        env={"CS": CLIENT_SECRET},
    )  # fmt: skip
    shown = desk.run("oauth", "url", name)
    url = next(line for line in shown.stdout.splitlines() if line.startswith("https://login.microsoftonline.com/"))
    desk.run("oauth", "exchange", name, "--redirect-url", fake_entra.sign_in(url, user))


def test_smtp_oauth2_logs_in_with_the_access_token_entra_issued(open_desk, start_smtp, fake_entra):
    server = start_smtp(check_token=lambda user, token: user == SUPPORT and token in fake_entra.access_tokens)
    desk = open_desk(server, auth="oauth2", username=None, password_env=None, oauth_mailbox="m365")
    authorize_sending_mailbox(desk, fake_entra, "m365", SUPPORT)

    desk.deliver(customer_mail("Sent through Microsoft 365", "Does the notice about this reach the admin?\n"))
    result = desk.cli("process")

    assert server.xoauth2_logins, f"ticketctl never tried XOAUTH2 on the SMTP server:\n{result.stdout}{result.stderr}"
    for user, token, _accepted in server.xoauth2_logins:
        assert user == SUPPORT, f"XOAUTH2 logged in as {user!r}, not as the mailbox's user {SUPPORT}"
        assert token in fake_entra.access_tokens, (
            f"The SMTP server got the bearer token {token!r}, not an access token the identity platform "
            f"issued ({fake_entra.access_tokens})"
        )
    assert result.exit_code == 0, result.stderr
    notice = desk.postbox.new_mail_to(ADMIN)
    assert "Sent through Microsoft 365" in notice.subject
    assert server.messages[-1]["auth_login"] == SUPPORT
    for token in fake_entra.issued:
        assert token not in result.stdout + result.stderr, "a token reached the output"
