"""The local server's HTTP plumbing: parse a request, record it, check the key, route it, and write
JSON, errors and chunked streams; plus the threading HTTP server it runs in.

What the API does lives in the route functions (:mod:`.chat`, :mod:`.endpoints`); adding an
endpoint is one line in :data:`ROUTES`. The handler reaches the shared state only through
:class:`~.state.ServerState`'s public methods. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from .batches import (
    cancel_batch,
    create_batch,
    delete_file,
    file_content,
    get_batch,
    list_batches,
    list_files,
    upload,
)
from .chat import async_completions, completions
from .checks import Fail, check_auth
from .drawing import drawn, generate
from .endpoints import asset, embeddings, models, result, tokenizer, video
from .search import web_search
from .state import Disconnected, ServerState, peer_closed
from .wire import PREFIX, Exchange, Request, dumps, new_id

JSON_TYPE = "application/json; charset=UTF-8"
SSE_TYPE = "text/event-stream;charset=UTF-8"


class Route(NamedTuple):
    methods: str  # space-separated
    pattern: str  # matched in full against the path after the prefix; a group becomes ``Request.param``
    fn: Callable[[Exchange, Request], None]
    auth: bool = True


ROUTES = (
    Route("GET", r"files/([^/]+)/content", file_content),  # before the asset files below
    Route("GET HEAD", r"files/drawn/([0-9a-f]{32}-\d{2,3}x\d{2,3})\.png", drawn, auth=False),  # --draw
    Route("GET HEAD", r"files/(.+)", asset, auth=False),  # like the real CDN links: no key needed
    Route("POST", r"files", upload, auth=False),  # multipart, not JSON: checks the key itself
    Route("GET", r"files", list_files),
    Route("DELETE", r"files/(.+)", delete_file),
    Route("POST", r"batches", create_batch),
    Route("GET", r"batches", list_batches),
    Route("GET", r"batches/([^/]+)", get_batch),
    Route("POST", r"batches/([^/]+)/cancel", cancel_batch),
    Route("POST", r"chat/completions", completions),
    Route("POST", r"async/chat/completions", async_completions),
    Route("GET", r"async-result/(.+)", result),
    Route("POST", r"videos/generations", video),
    Route("POST", r"images/generations", generate),  # a PNG drawn from the prompt
    Route("POST", r"embeddings", embeddings),
    Route("POST", r"tokenizer", tokenizer),
    Route("GET", r"models", models),
    Route("POST", r"web_search", web_search),
)


def find_route(method: str, route: str) -> tuple[Route, str] | None:
    """The first route for ``method`` whose pattern matches ``route``, and what its group matched."""
    for r in ROUTES:
        m = re.fullmatch(r.pattern, route) if method in r.methods.split() else None
        if m:
            return r, m.group(1) if m.groups() else ""
    return None


def parse_body(raw: bytes) -> dict[str, Any] | None:
    """The JSON object in ``raw``; None when there is none (empty, not JSON, or not an object)."""
    if not raw.strip():
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class HTTPServer(ThreadingHTTPServer):
    """A thread per connection; carries the state its handlers serve from."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        self.state = state
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up is normal here; anything else is still reported."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """One connection's requests; implements :class:`~.wire.Exchange` for the routes."""

    protocol_version = "HTTP/1.1"
    server_version = "zhipu-magic-local/0.1"
    server: HTTPServer

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.state.track(self.connection)

    def finish(self) -> None:
        self.state.untrack(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: tests and notebooks do not want access logs on stderr."""

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_HEAD(self) -> None:
        self.dispatch("HEAD")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_PUT(self) -> None:
        self.dispatch("PUT")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    @property
    def state(self) -> ServerState:
        return self.server.state

    @property
    def origin(self) -> str:
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"

    # -- reading and routing -----------------------------------------------------------------------

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def dispatch(self, method: str) -> None:
        """Record the request, route it, and turn whatever goes wrong into an answer."""
        path = urlsplit(self.path).path
        raw = self.read_body() if method in ("POST", "PUT") else b""
        body = parse_body(raw)
        self.state.record(method, path, body)
        try:
            self.route(method, path, body, raw)
        except Fail as err:
            self.send_fail(err)
        except Disconnected:  # the client left while we were waiting to answer
            self.client_left()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
        except Exception as exc:  # a bug here must look like a server error, not a hung socket
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.send_fail(Fail(500, "500", f"Local server error: {type(exc).__name__}: {exc}"))

    def route(self, method: str, path: str, body: dict[str, Any] | None, raw: bytes) -> None:
        if not path.startswith(PREFIX + "/"):
            raise Fail(404, "1222", f"API not found: {path}")
        found = find_route(method, path[len(PREFIX) + 1 :].strip("/"))
        if found is None or found[0].auth:
            check_auth(self.headers.get("Authorization"), self.state.api_key)
            if body is None and raw.strip():
                raise Fail(400, "1210", "The request body is not a valid JSON object.")
        if found is None:
            raise Fail(404, "1222", f"API not found: {method} {path}")
        chosen, param = found
        chosen.fn(self, Request(self.path, body or {}, raw, param))

    # -- writing -----------------------------------------------------------------------------------

    def send_body(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, obj: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.send_body(status, dumps(obj), JSON_TYPE, headers)

    def send_fail(self, err: Fail) -> None:
        """An API error as ``{"error": {...}, "request_id": ...}`` (or a proxy's HTML page)."""
        if err.html is not None:
            return self.send_body(err.status, err.html, "text/html", err.headers)
        body: dict[str, Any] = dict(err.extra)
        body["error"] = {"code": err.code, "message": err.message}
        body["request_id"] = new_id()
        self.send_json(err.status, body, err.headers)

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", SSE_TYPE)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def send_chunk(self, data: bytes) -> None:
        if peer_closed(self.connection):
            raise Disconnected()
        self.wfile.write(b"%X\r\n" % len(data) + data + b"\r\n")
        self.wfile.flush()

    def end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def client_left(self) -> None:
        """A client that went away mid-answer: count it (the state ignores it while stopping)."""
        self.close_connection = True
        self.state.note_disconnect()
