"""A local GLM-compatible server (Zhipu BigModel / Z.ai API v4) for offline demos, tests and faults.

Standard library only. It speaks the real wire format under `/api/paas/v4`: chat completions (sync,
and SSE streams over HTTP/1.1 chunked encoding, one chunk per event, sent at once), async chat
tasks, CogVideoX-style video tasks whose result URLs point back at this server, embeddings,
tokenizer, image generation and a model list. Answers are deterministic (derived from the prompt)
and exercise a renderer: Markdown, code, a table, math, Chinese text, emoji.

Run it:

    python -m zhipu_magic.server [--host 127.0.0.1] [--port 8765] [--key K] [--rate TOKENS_PER_S]
    export ZHIPUAI_BASE_URL=http://127.0.0.1:8765/api/paas/v4 ZHIPUAI_API_KEY=any.key

or in Python: `with LocalServer(port=0) as srv: ...` and point a client at `srv.base_url`.
The magics use `start_local_server()` (one shared instance, ~40 tokens/s so streaming is visible;
`ZHIPU_MAGIC_LOCAL_RATE` overrides).

**Auth.** `Authorization: Bearer <key>` or the bare key. Missing or empty: 401/1001. Without
`--key` any key is accepted; with it, another key gives 401/1000 (an SDK-style HS256 JWT signed with
the key's secret is accepted too; bad signature 401/1002, expired 401/1003). The video and cover
files under `/files/` need no key, like the real CDN links.

**Answers** (from the last user message; deterministic, so tests and demos are stable):

- `echo: TEXT`: the answer is exactly TEXT. "hi" / "你好": a short greeting.
- Shaped by what the prompt asks for: a haiku / poem / limerick (3, 5 or N lines), a story (N
  sentences), N bullet points or items, an explanation (heading and list), a summary in N sentences,
  a table (or an A-vs-B comparison), code, math (a real primality check, arithmetic, a proof), a
  translation. Chinese prompts get Chinese answers. Anything else gets a full Markdown demo
  (heading, list, code block, table, `$E=mc^2$`, `$$...$$`, Chinese, emoji). Later turns mention the
  turn number and the first question.
- `response_format: {"type": "json_object"}`: a JSON object (with the list the prompt names).
- Function `tools` and a user message last: the model calls the first tool; after a `tool` message
  it answers from the tool result.
- Reasoning models (glm-4.5*, glm-4.6*, glm-4.7*, glm-5*, glm-4.5v, glm-4.6v, ...) stream
  `reasoning_content` first unless `"thinking": {"type": "disabled"}`; glm-z1-* put the reasoning
  inside `content` as `<think>...</think>`. `max_tokens` cuts the answer (finish_reason `length`).

**Directives** (anywhere in the last user message, or in a video prompt; stripped from the answer):

- `[[chunks:N]]`: stream exactly N content chunks.
- `[[interval:SECONDS]]`: fixed delay between stream chunks (instead of the token rate).
- `[[fault:auth]]`: 401, code 1000.
- `[[fault:bad_param]]`: 400, code 1214.
- `[[fault:filter]]`: 400, code 1301, with `"contentFilter": [{"level": 1, "role": "user"}]`.
- `[[fault:rate_limit]]`, `[[fault:rate_limit:S]]`: 429, code 1302, `Retry-After: S` (default 1;
  S is sent verbatim, so `abc` or an HTTP date work too). Only the first attempt of that exact
  request body fails.
- `[[fault:rate_limit_ms:MS]]`: the same with a `retry-after-ms: MS` header.
- `[[fault:balance]]`: 429, code 1113 (insufficient balance). `[[fault:daily]]`: 429, code 1304.
- `[[fault:server_error]]`, `[[fault:server_error:N]]`: 500, code "500", for the first N attempts
  of that body (default 1), then success.
- `[[fault:unavailable:N]]`: 503, code 1305, for the first N attempts (default 1).
- `[[fault:bad_gateway]]`: 502 with an nginx-style HTML page, every time (`:N`: first N attempts).
- `[[fault:slow_first:S]]`: wait S seconds before sending anything, status line included.
- `[[fault:stall:S]]`: stream pauses S seconds halfway through the content.
- `[[fault:drop]]`: stream: the socket is closed halfway (no terminating chunk); a non-stream
  request: closed without any response.
- `[[fault:error_frame]]`, `[[fault:error_frame:CODE]]`: halfway, an in-band
  `data: {"error":{"code":"1301",...}}` frame, then the body ends (no `[DONE]`).
- `[[fault:garbage]]` / `[[fault:no_choices]]`: halfway, a non-JSON `data:` line / a JSON frame
  without `choices`, then the body ends.
- `[[fault:no_done]]`: the body ends cleanly with neither the final chunk nor `[DONE]`;
  `[[fault:no_done:finish]]` sends the final chunk and omits only `[DONE]`.
- `[[fault:sensitive]]`, `[[fault:length]]`: the answer is cut halfway with that finish_reason.
- `[[fault:hostile]]`: the answer contains `<script>`, `<img onerror>`, `<svg onload>`, a
  `javascript:` link, a remote image and a bare URL line.
- `[[fault:task_fail]]`: the async task (chat or video) ends with `task_status: FAIL`.

"First N attempts" are counted per identical request body; once it succeeds the count resets, so
re-running a cell shows the same failure-then-retry pattern. An unknown directive gives 400/1214.

**Other errors.** Unknown model 400/1211; a model that cannot do the call (video model on chat,
chat model on videos, embedding model on chat) 400/1212; missing field 400/1213; invalid field
(empty messages, temperature outside [0, 1], ...) 400/1214; body not a JSON object 400/1210;
unknown path or unknown task id 404/1222. Error bodies are
`{"error": {"code": "<string>", "message": "..."}, "request_id": "..."}`.

**Async tasks** answer `PROCESSING` for `task_polls` polls, then `SUCCESS` (or `FAIL`); each poll
first waits `poll_delay` seconds (polls are served concurrently).

**For tests.** `srv.requests` (method, path, parsed body; never the Authorization header),
`srv.disconnects` and `srv.wait_disconnect(timeout)` (a streaming client went away),
`srv.last_write_times` (`time.perf_counter()` after each frame of the latest stream, `[DONE]`
included).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .handler import (
    PREFIX,
    _Disconnected,
    _float,
    _Handler,
    _HTTPServer,
    _peer_closed,
)

if TYPE_CHECKING:
    from ..api.client import GLMClient


class RequestRecord(NamedTuple):
    """One request as the server saw it; the Authorization header is never kept."""

    method: str
    path: str
    body: dict[str, Any] | None


@dataclass
class _Task:
    id: str
    request_id: str
    model: str
    result: dict[str, Any]
    polls: int = 0


class LocalServer:
    """The server object: owns the HTTP server thread, the task table and what tests inspect."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        token_rate: float = 0.0,
        task_polls: int = 1,
        poll_delay: float = 0.0,
    ) -> None:
        self.host, self.port = host, port
        self.api_key = api_key
        self.token_rate = float(token_rate)
        self.task_polls = int(task_polls)
        self.poll_delay = float(poll_delay)
        self.requests: list[RequestRecord] = []
        self.disconnects = 0
        self.last_write_times: list[float] = []
        self._reported_disconnects = 0
        self._cond = threading.Condition()
        self._lock = threading.Lock()
        self._tasks: dict[str, _Task] = {}
        self._attempts: dict[str, int] = {}
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> LocalServer:
        """Bind and serve in a daemon thread; idempotent. Returns self."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.app = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="zhipu-local-server", daemon=True
        )
        self._thread.start()
        _running.add(self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and cut open connections so no client hangs on a stalled stream."""
        httpd, self._httpd = self._httpd, None
        _running.discard(self.base_url)
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __repr__(self) -> str:
        state = "running" if self._httpd is not None else "stopped"
        return f"<LocalServer {self.base_url} {state}>"

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Root URL (``http://host:port``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What a client uses as its base URL (``http://host:port/api/paas/v4``)."""
        return self.url + PREFIX

    def client(self, **kwargs: Any) -> GLMClient:
        """A ``GLMClient`` for this server (its fixed key, or any key when none is set)."""
        from ..api.client import GLMClient

        return GLMClient(api_key=self.api_key or "local", base_url=self.base_url, **kwargs)

    def wait_disconnect(self, timeout: float) -> bool:
        """Wait until a streaming client drop not yet reported by an earlier call happens."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self.disconnects > self._reported_disconnects, timeout)
            if ok:
                self._reported_disconnects += 1
            return ok

    # -- shared state used by the handler ----------------------------------------------------------

    def _record(self, method: str, path: str, body: dict[str, Any] | None) -> None:
        with self._lock:
            self.requests.append(RequestRecord(method, path, body))

    def _note_disconnect(self) -> None:
        with self._cond:
            self.disconnects += 1
            self._cond.notify_all()

    def _attempt(self, key: str) -> int:
        """Count attempts of one request body (1 = first)."""
        with self._lock:
            self._attempts[key] = self._attempts.get(key, 0) + 1
            return self._attempts[key]

    def _succeeded(self, key: str) -> None:
        with self._lock:
            self._attempts.pop(key, None)

    def _add_task(self, task_id: str, request_id: str, model: str, result: dict[str, Any]) -> None:
        with self._lock:
            self._tasks[task_id] = _Task(task_id, request_id, model, result)

    def _poll(self, task_id: str) -> dict[str, Any] | None:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                return None
            task.polls += 1
            if task.polls <= self.task_polls:
                return {
                    "model": task.model,
                    "id": task.id,
                    "request_id": task.request_id,
                    "task_status": "PROCESSING",
                }
            return dict(task.result)

    def _sleep(self, seconds: float, conn: socket.socket | None = None) -> None:
        """Sleep in short slices; notice a stopping server or (when streaming) a client that left."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            if self._stopping.wait(min(left, 0.05)):
                raise _Disconnected()
            if conn is not None and _peer_closed(conn):
                raise _Disconnected()


# --- process-wide instance and CLI ---------------------------------------------------------------

_shared: LocalServer | None = None
_running: set[str] = set()  # base URLs of the LocalServers started in this process
_shared_lock = threading.Lock()


def start_local_server() -> LocalServer:
    """The shared server the magics use when no key is configured: started once, streams at ~40 tok/s
    (``ZHIPU_MAGIC_LOCAL_RATE`` overrides) so answers visibly arrive token by token."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared._httpd is None:
            rate = _float(os.environ.get("ZHIPU_MAGIC_LOCAL_RATE"), 40.0)
            _shared = LocalServer(port=0, token_rate=rate).start()
        return _shared


def is_builtin(base_url: str | None) -> bool:
    """Whether ``base_url`` is a running ``LocalServer`` of this process (what footers call "local
    server"); another server on loopback, such as a user's proxy, is not."""
    return base_url in _running


def main(argv: list[str] | None = None) -> int:
    """``python -m zhipu_magic.server``: print the base URL on stdout, serve until Ctrl+C."""
    ap = argparse.ArgumentParser(prog="zhipu-magic-server", description="Local GLM-compatible API server.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    ap.add_argument("--key", default=None, help="accept only this API key (default: any key)")
    ap.add_argument("--rate", type=float, default=0.0, help="tokens per second (0 = as fast as possible)")
    ap.add_argument("--polls", type=int, default=1, help="PROCESSING answers before an async task finishes")
    ap.add_argument("--poll-delay", type=float, default=0.0, help="seconds before answering each poll")
    args = ap.parse_args(argv)
    srv = LocalServer(args.host, args.port, args.key, args.rate, args.polls, args.poll_delay).start()
    print(srv.base_url, flush=True)
    print(f"export ZHIPUAI_BASE_URL={srv.base_url}  (Ctrl+C to stop)", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
