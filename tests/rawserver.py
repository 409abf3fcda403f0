"""A tiny scripted raw-socket HTTP server for byte-exact cases LocalServer does not produce.

Each connection reads one request head (and body by Content-Length), then sends the scripted
byte pieces one ``sendall`` at a time with a short pause, so the client sees them as separate reads.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence


def chunked(*pieces: bytes) -> list[bytes]:
    """HTTP/1.1 chunked framing: one chunk per piece, then the terminator."""
    return [b"%X\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]


class RawServer:
    """``with RawServer(head, pieces) as srv: srv.base_url``."""

    def __init__(self, head: bytes, pieces: Sequence[bytes] = (), *, pause: float = 0.02) -> None:
        self.head = head
        self.pieces = list(pieces)
        self.pause = pause
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/api/paas/v4"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
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
                    self._answer(conn)
                except OSError:
                    pass

    def _answer(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                return
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
        conn.sendall(self.head)
        for piece in self.pieces:
            time.sleep(self.pause)
            conn.sendall(piece)
        time.sleep(self.pause)
