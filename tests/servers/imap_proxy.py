"""An IMAP-aware relay for crash tests. It can hide capabilities the server offers (MOVE: a server
without it, so disposal is COPY, STORE \\Deleted, UID EXPUNGE), and act at an exact command: when the
client sends the nth command that matches, the command is held back (the server never sees it), the
test's action runs (SIGKILL to the client's process group) and the connection drops. So a run dies
between two steps of a disposal, deterministically.

It reads both streams a line at a time; capability lists are rewritten only in the server's
`* OK [CAPABILITY …]`, `* CAPABILITY …` and `TAG OK [CAPABILITY …]` lines.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable

from tests.servers.relay import Relay

_CAPABILITY_LINE = re.compile(rb"^(\* |\* OK \[|[A-Za-z0-9.]+ OK \[)CAPABILITY ", re.IGNORECASE)


class ImapProxy(Relay):
    def __init__(self, target_port: int, hide: tuple[str, ...] = ()) -> None:
        self.hidden = [re.compile(rb" " + re.escape(c.encode()) + rb"(?=[ \]\r\n])", re.IGNORECASE) for c in hide]
        self.commands: list[bytes] = []  # every command line clients sent, without its tag
        self._trigger: tuple[re.Pattern[bytes], int, Callable[[], None]] | None = None
        self._seen = 0
        self.fired = threading.Event()
        super().__init__(target_port)

    def on_command(self, pattern: bytes, nth: int, action: Callable[[], None]) -> None:
        """At the `nth` client command (counted from now) matching `pattern` (a regex on the command
        without its tag, e.g. rb"UID EXPUNGE"), hold it back, call `action`, and drop the connection."""
        with self._lock:
            self._trigger = (re.compile(pattern, re.IGNORECASE), nth, action)
            self._seen = 0
            self.fired.clear()

    def _pump(self, src: socket.socket, dst: socket.socket, downstream: bool) -> None:
        pending = b""
        try:
            while data := src.recv(65536):
                pending += data
                *lines, pending = pending.split(b"\n")
                out = []
                for line in (line + b"\n" for line in lines):
                    if downstream:
                        out.append(self._rewrite(line))
                    elif self._fires(line):
                        dst.sendall(b"".join(out))
                        raise ConnectionAbortedError
                    else:
                        out.append(line)
                dst.sendall(b"".join(out))
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _rewrite(self, line: bytes) -> bytes:
        if self.hidden and _CAPABILITY_LINE.match(line):
            for pattern in self.hidden:
                line = pattern.sub(b"", line)
        return line

    def _fires(self, line: bytes) -> bool:
        command = line.split(b" ", 1)[1].rstrip(b"\r\n") if b" " in line else b""
        with self._lock:
            self.commands.append(command)
            if self._trigger is None or not self._trigger[0].match(command):
                return False
            self._seen += 1
            if self._seen < self._trigger[1]:
                return False
            action = self._trigger[2]
            self._trigger = None
        action()
        self.fired.set()
        return True
