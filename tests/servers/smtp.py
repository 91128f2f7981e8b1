"""A real SMTP server for tests: aiosmtpd on loopback with STARTTLS (or implicit TLS), AUTH PLAIN/LOGIN
and XOAUTH2, that keeps every accepted mail and refuses recipients at `refused.invalid`, and any address
a test puts in `refuse` with the reply given there (e.g. "451 4.2.1 Mailbox busy").

XOAUTH2 accepts the tokens of `tokens` (user -> token) or, given `check_token(user, token)`, whatever
that callable accepts (e.g. only what a fake identity platform issued); every XOAUTH2 attempt is kept in
`xoauth2_logins` as (user, token, accepted), so a test can show what a client really sent."""

from __future__ import annotations

import base64
import socket
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

REFUSED_DOMAIN = "refused.invalid"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for 127.0.0.1 (it is its own CA: use it as ca_file)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class SinkHandler:
    """Collects every accepted message in `messages`."""

    def __init__(
        self,
        users: dict[bytes, bytes],
        tokens: dict[str, str],
        check_token: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.users = users
        self.tokens = tokens
        self.check_token = check_token or (lambda user, token: self.tokens.get(user) == token)
        self.messages: list[dict[str, Any]] = []
        self.refuse: dict[str, str] = {}  # address (lower case) -> the RCPT reply that refuses it
        self.xoauth2_logins: list[tuple[str, str, bool]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        if address.lower().endswith("@" + REFUSED_DOMAIN):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "data": envelope.content,
                "auth_login": getattr(session.auth_data, "login", None),
            }
        )
        return "250 2.0.0 OK queued"

    def authenticator(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        if isinstance(auth_data, LoginPassword) and self.users.get(auth_data.login) == auth_data.password:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:
        if len(args) == 2:
            raw = args[1]
        else:
            raw = (await server.challenge_auth("", encode_to_b64=False)) or b""
            raw = raw.decode() if isinstance(raw, bytes) else ""
        try:
            parts = dict(p.split("=", 1) for p in base64.b64decode(raw).decode().split("\x01") if p)
            user, token = parts["user"], parts["auth"].removeprefix("Bearer ")
        except (ValueError, KeyError):
            return AuthResult(success=False, handled=False)
        accepted = bool(self.check_token(user, token))
        self.xoauth2_logins.append((user, token, accepted))
        if accepted:
            return AuthResult(success=True, auth_data=LoginPassword(user, b""))
        return AuthResult(success=False, handled=False)


class SmtpServer:
    """One aiosmtpd server: `implicit_tls` for security ssl, else STARTTLS required before AUTH and MAIL."""

    def __init__(
        self,
        cert: Path,
        key: Path,
        *,
        port: int | None = None,
        implicit_tls: bool = False,
        users: dict[bytes, bytes] | None = None,
        tokens: dict[str, str] | None = None,
        check_token: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.handler = SinkHandler(users or {b"smtpuser": b"smtppw"}, tokens or {}, check_token)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
        # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; with implicit TLS all of it is TLS
        options: dict[str, Any] = {"ssl_context": context, "auth_require_tls": False} if implicit_tls else {
            "tls_context": context, "require_starttls": True, "auth_require_tls": True
        }  # fmt: skip
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self.handler.authenticator,
            auth_required=True,
            **options,
        )

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.handler.messages

    @property
    def xoauth2_logins(self) -> list[tuple[str, str, bool]]:
        return self.handler.xoauth2_logins

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
