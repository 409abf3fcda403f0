"""Tiny scripted raw-socket HTTP servers for byte-exact cases LocalServer does not produce.

``RawServer`` answers every connection with one head and byte pieces sent one ``sendall`` at a time
with a short pause, so the client sees them as separate reads. ``SequenceServer`` answers the Nth
connection with the Nth scripted response (the last one repeats).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence


def chunked(*pieces: bytes) -> list[bytes]:
    """HTTP/1.1 chunked framing: one chunk per piece, then the terminator."""
    return [b"%X\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]


def read_request(conn: socket.socket) -> bytes | None:
    """Read one request (head, and body by Content-Length); None if the client went away."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return None
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(rest) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        rest += piece
    return head


class _ScriptedServer:
    """Listener on 127.0.0.1, one connection at a time, ``_answer(conn)`` per connection."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.heads: list[bytes] = []  # the head of every request received, in order

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/api/paas/v4"

    def __enter__(self):  # noqa: ANN204 - returns the subclass
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:  # wake a blocked accept(): closing the listener alone does not, on Linux
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    head = read_request(conn)
                    if head is not None:
                        self.heads.append(head)
                        self._answer(conn)
                except OSError:
                    pass

    def _answer(self, conn: socket.socket) -> None:
        raise NotImplementedError


class RawServer(_ScriptedServer):
    """``with RawServer(head, pieces) as srv: srv.base_url``."""

    def __init__(self, head: bytes, pieces: Sequence[bytes] = (), *, pause: float = 0.02) -> None:
        super().__init__()
        self.head = head
        self.pieces = list(pieces)
        self.pause = pause

    def _answer(self, conn: socket.socket) -> None:
        conn.sendall(self.head)
        for piece in self.pieces:
            time.sleep(self.pause)
            conn.sendall(piece)
        time.sleep(self.pause)


class SequenceServer(_ScriptedServer):
    """Answers the Nth connection with the Nth whole response (the last one repeats)."""

    def __init__(self, responses: list[bytes]) -> None:
        super().__init__()
        self.responses = responses
        self.served = 0

    def _answer(self, conn: socket.socket) -> None:
        response = self.responses[min(self.served, len(self.responses) - 1)]
        self.served += 1
        conn.sendall(response)
