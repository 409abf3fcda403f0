"""A client-bound SSE server for benchmarks: pre-rendered bodies written as fast as the socket takes.

Run in its own process (so it never shares the client's GIL)::

    python bench/sse_server.py CHUNKS      # prints the port, serves until stdin closes

The path picks the framing (``/FRAMING/api/paas/v4/chat/completions``):

- ``event``: one HTTP chunk per SSE event (what the GLM API and the local server send),
- ``64k``: 64 KiB HTTP chunks, events cut anywhere,
- ``eof``: no Transfer-Encoding and no length, the body ends when the connection closes
  (``Connection: close``, what HTTP/1.0-style proxies send),
- ``crlf``: like ``64k`` with CRLF line ends (a CR at the end of one read, its LF in the next),
- ``ascii``: like ``event`` with 4 ASCII characters a chunk (the memory measurement).

Every body is rendered once at start-up; each request is answered with one ``sendall``.
"""

from __future__ import annotations

import json
import socket
import socketserver
import sys
import threading

FRAMINGS = ("event", "64k", "eof", "crlf")
WORDS = ("tok", "en", " stream", "ing", " 你好", " fast", "er", " 👋", " than", " ever")
ASCII = ("tok ", "en, ", "str ", "eam ")  # 4 characters a chunk: the 800,000-char answer


def events(n: int, eol: bytes = b"\n", words: tuple[str, ...] = WORDS) -> list[bytes]:
    """``n`` realistic GLM chunks (about 4 characters of content each), a final one, ``[DONE]``."""
    out = []
    base = {"id": "20260313050247abcdef", "created": 1773349367, "model": "glm-4-flash"}
    for i in range(n):
        delta = {"role": "assistant", "content": words[i % len(words)]}
        body = {**base, "choices": [{"index": 0, "delta": delta}]}
        out.append(b"data: " + json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
    usage = {"prompt_tokens": 9, "completion_tokens": n, "total_tokens": n + 9}
    last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
    out.append(b"data: " + json.dumps(last, separators=(",", ":")).encode())
    out.append(b"data: [DONE]")
    return [e + eol + eol for e in out]


def answer_text(n: int) -> str:
    return "".join(WORDS[i % len(WORDS)] for i in range(n))


def render(n: int) -> dict[str, bytes]:
    """The whole HTTP response for each framing."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n"
    lf = events(n)
    body = b"".join(lf)
    crlf = b"".join(events(n, b"\r\n"))

    def chunked(pieces: list[bytes]) -> bytes:
        return b"".join(b"%X\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"

    def cut(data: bytes, size: int = 65536) -> list[bytes]:
        return [data[i : i + size] for i in range(0, len(data), size)]

    te = head + b"Transfer-Encoding: chunked\r\n\r\n"
    return {
        "event": te + chunked(lf),
        "64k": te + chunked(cut(body)),
        "crlf": te + chunked(cut(crlf)),
        "eof": head + b"Connection: close\r\n\r\n" + body,
        "ascii": te + chunked(events(n, words=ASCII)),
    }


class Handler(socketserver.BaseRequestHandler):
    bodies: dict[str, bytes] = {}

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                piece = sock.recv(65536)
                if not piece:
                    return
                buf += piece
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            while len(buf) < length:
                piece = sock.recv(65536)
                if not piece:
                    return
                buf += piece
            buf = buf[length:]
            framing = head.split(b" ", 2)[1].split(b"/")[1].decode()
            sock.sendall(self.bodies.get(framing, self.bodies["event"]))
            if framing == "eof":
                sock.shutdown(socket.SHUT_WR)
                return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def serve(n: int) -> Server:
    Handler.bodies = render(n)
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    server = serve(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
    print(server.server_address[1], flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
