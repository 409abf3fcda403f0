"""The local server's HTTP side: the request handler (routing, chat, SSE streaming, mid-stream faults)
and the threading HTTP server it runs in.

Request checks (auth, model, chat body) are in :mod:`.server_checks`, the faults that strike before
the answer in :mod:`.server_faults`, the non-chat endpoints (video, images, embeddings, tokenizer,
models, async results, asset files) in :mod:`.server_endpoints`; their names are re-exported here.
What each endpoint, directive and error does is documented in :mod:`zhipu_magic.server`, which owns
the state the handler shares (:class:`~zhipu_magic.server.LocalServer`: records, tasks, attempts).
Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import answers
from . import endpoints as endpoints
from .checks import (
    _Fail,
    _validate_chat,
    check_auth,
    check_model,
)
from .endpoints import PREFIX, _new_id, _request_id
from .faults import _float, request_faults

if TYPE_CHECKING:
    from . import LocalServer

JSON_TYPE = "application/json; charset=UTF-8"
SSE_TYPE = "text/event-stream;charset=UTF-8"


class _Disconnected(Exception):
    """The streaming client went away."""


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _peer_closed(conn: socket.socket) -> bool:
    """True when the client has closed its end (readable with EOF, or reset)."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        if not readable:
            return False
        return conn.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    app: LocalServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up is normal here; anything else is still reported."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "zhipu-magic-local/0.1"
    server: _HTTPServer

    # -- plumbing ----------------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.app._lock:
            self.server.app._conns.add(self.connection)

    def finish(self) -> None:
        with self.server.app._lock:
            self.server.app._conns.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: tests and notebooks do not want access logs on stderr."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _read_body(self) -> bytes:
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

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, obj: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send(status, _dumps(obj), JSON_TYPE, headers)

    def _send_error(self, err: _Fail) -> None:
        if err.html is not None:
            return self._send(err.status, err.html, "text/html", err.headers)
        body: dict[str, Any] = dict(err.extra)
        body["error"] = {"code": err.code, "message": err.message}
        body["request_id"] = _new_id()
        self._send_json(err.status, body, err.headers)

    # -- routing -----------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        path = urlsplit(self.path).path
        raw = self._read_body() if method in ("POST", "PUT") else b""
        body: dict[str, Any] | None = None
        bad_json = False
        if raw.strip():
            try:
                parsed = json.loads(raw)
                body = parsed if isinstance(parsed, dict) else None
                bad_json = body is None
            except ValueError:
                bad_json = True
        app._record(method, path, body)
        try:
            if not path.startswith(PREFIX + "/"):
                raise _Fail(404, "1222", f"API not found: {path}")
            route = path[len(PREFIX) + 1 :].strip("/")
            if method in ("GET", "HEAD") and route.startswith("files/"):
                return endpoints.asset(self, route[len("files/") :])
            check_auth(self.headers.get("Authorization"), self.server.app.api_key)
            if bad_json:
                raise _Fail(400, "1210", "The request body is not a valid JSON object.")
            body = body or {}
            if method == "POST" and route == "chat/completions":
                return self._chat(body, raw, async_=False)
            if method == "POST" and route == "async/chat/completions":
                return self._chat(body, raw, async_=True)
            if method == "GET" and route.startswith("async-result/"):
                return endpoints.result(self, route[len("async-result/") :])
            if method == "POST" and route == "videos/generations":
                return endpoints.video(self, body, raw)
            if method == "POST" and route == "images/generations":
                return endpoints.image(self, body)
            if method == "POST" and route == "embeddings":
                return endpoints.embeddings(self, body)
            if method == "POST" and route == "tokenizer":
                return endpoints.tokenizer(self, body)
            if method == "GET" and route == "models":
                return endpoints.models(self)
            raise _Fail(404, "1222", f"API not found: {method} {path}")
        except _Fail as err:
            self._send_error(err)
        except _Disconnected:  # the client left while we were waiting to answer
            self._client_left()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
        except Exception as exc:  # a bug here must look like a server error, not a hung socket
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send_error(_Fail(500, "500", f"Local server error: {type(exc).__name__}: {exc}"))

    # -- chat ------------------------------------------------------------------------------------

    def _chat(self, body: dict[str, Any], raw: bytes, *, async_: bool) -> None:
        info = check_model(body, "chat")
        stream = body.get("stream")
        if stream not in (None, True, False):
            raise _Fail(400, "1214", "Invalid parameter stream: must be a boolean.")
        if async_ and not info.async_ or stream and not info.stream:
            raise _Fail(400, "1212", f"The model {info.name} does not support this call method.")
        messages = _validate_chat(body)
        last_user = next(m for m in reversed(messages) if m.get("role") == "user")
        prompt, directives = answers.parse_directives(answers.text_of(last_user.get("content")))
        request_faults(self.server.app, directives, self.path, raw, self.connection)
        plan = answers.plan_reply(info, body, messages, prompt, directives)
        rid = _request_id(body)
        cid = _new_id()
        if async_:
            result: dict[str, Any] = {"model": info.name, "id": cid, "request_id": rid or cid}
            if directives.fault("task_fail"):
                result["task_status"] = "FAIL"
            else:
                result.update(_completion(plan, cid, rid), task_status="SUCCESS")
            self.server.app._add_task(cid, rid or cid, info.name, result)
            return self._send_json(
                200, {"model": info.name, "id": cid, "request_id": rid or cid, "task_status": "PROCESSING"}
            )
        if stream:
            return self._stream(plan, cid)
        if directives.fault("drop"):
            return self._hang_up()
        self._send_json(200, _completion(plan, cid, rid))

    def _hang_up(self) -> None:
        """Close the socket abruptly, without a response or the chunked terminator."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _stream(self, plan: answers.Plan, cid: str) -> None:
        app = self.server.app
        d = plan.directives
        created = int(time.time())
        head = {"id": cid, "created": created, "object": "chat.completion.chunk", "model": plan.model}
        self.send_response(200)
        self.send_header("Content-Type", SSE_TYPE)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        times: list[float] = []
        app.last_write_times = times
        conn = self.connection
        start = time.monotonic()
        sent = 0

        def write(payload: bytes) -> None:
            if _peer_closed(conn):
                raise _Disconnected()
            frame = b"data: " + payload + b"\n\n"
            self.wfile.write(b"%X\r\n" % len(frame) + frame + b"\r\n")
            self.wfile.flush()
            times.append(time.perf_counter())

        def pace() -> None:
            nonlocal sent
            if sent:
                if d.interval is not None:
                    app._sleep(d.interval, conn)
                elif app.token_rate > 0:
                    app._sleep(start + sent / app.token_rate - time.monotonic(), conn)
            sent += 1

        def delta(**kw: Any) -> bytes:
            return _dumps({**head, "choices": [{"index": 0, "delta": {"role": "assistant", **kw}}]})

        try:
            for piece in plan.reasoning:
                pace()
                write(delta(reasoning_content=piece))
            half = len(plan.content) // 2
            for i, piece in enumerate(plan.content):
                if i == half and self._midstream(d, head, write):
                    return
                pace()
                write(delta(content=piece))
            if not plan.content and self._midstream(d, head, write):
                return
            if plan.tool_calls:
                pace()
                write(delta(tool_calls=plan.tool_calls))
            if d.fault("no_done") and d.arg("no_done") != "finish":
                return self._end_chunks()
            pace()
            final = {
                "index": 0,
                "finish_reason": plan.finish_reason,
                "delta": {"role": "assistant", "content": ""},
            }
            write(_dumps({**head, "choices": [final], "usage": plan.usage()}))
            if not d.fault("no_done"):
                write(b"[DONE]")
            self._end_chunks()
        except (_Disconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self._client_left()

    def _client_left(self) -> None:
        """A client that went away mid-answer: count it (unless the server itself is stopping)."""
        self.close_connection = True
        if not self.server.app._stopping.is_set():
            self.server.app._note_disconnect()

    def _midstream(self, d: answers.Directives, head: dict[str, Any], write: Any) -> bool:
        """Stream faults that strike halfway; True when the stream is over."""
        if d.fault("stall"):
            self.server.app._sleep(_float(d.arg("stall"), 5.0), self.connection)
        if d.fault("drop"):
            self._hang_up()
            return True
        if d.fault("error_frame"):
            error = {
                "code": d.arg("error_frame") or "1301",
                "message": "An error occurred during generation (injected).",
            }
            frame = _dumps({"error": error})
        elif d.fault("garbage"):
            frame = b"this is not json"
        elif d.fault("no_choices"):
            frame = _dumps({**head, "note": "no choices here"})
        else:
            return False
        write(frame)  # the last frame: the body ends right after it
        self._end_chunks()
        return True

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _completion(plan: answers.Plan, cid: str, request_id: str | None) -> dict[str, Any]:
    choice = {"finish_reason": plan.finish_reason, "index": 0, "message": plan.message()}
    return {
        "choices": [choice],
        "created": int(time.time()),
        "id": cid,
        "model": plan.model,
        "object": "chat.completion",
        "request_id": request_id or cid,
        "usage": plan.usage(),
    }
