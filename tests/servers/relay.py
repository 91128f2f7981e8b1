"""A TCP relay between a client and a server on loopback that counts the bytes it forwards and can
hold the server's stream after a given number of bytes: to prove what crossed the wire, and to cut a
connection in the middle of a transfer deterministically."""

from __future__ import annotations

import socket
import threading

from tests.servers.dovecot import free_port


class Relay:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.to_client = 0  # bytes the server sent to the client, all connections
        self.from_client = bytearray()  # everything the clients sent, in order
        self.held = threading.Event()  # set when the hold limit is reached
        self._hold_at: int | None = None
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def hold_after(self, n: int) -> None:
        """Forward at most `n` more server bytes, then hold the rest (the client waits)."""
        with self._lock:
            self._hold_at = self.to_client + n
            self.held.clear()

    def close(self) -> None:
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, downstream: bool) -> None:
        try:
            while data := src.recv(65536):
                if downstream:
                    data = self._count(data)
                    if data is None:
                        continue
                else:
                    self.from_client += data
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):  # one side gone: close both, as a dropped connection would
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _count(self, data: bytes) -> bytes | None:
        with self._lock:
            if self._hold_at is not None:
                room = self._hold_at - self.to_client
                if room <= 0:
                    self.held.set()
                    return None
                if len(data) >= room:  # what is past the limit is dropped: the client never sees it
                    data = data[:room]
                    self.held.set()
            self.to_client += len(data)
            return data
