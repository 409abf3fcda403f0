"""The local server's lifecycle: :class:`LocalServer` (bind, serve in a thread, stop) on top of the
shared :class:`~.state.ServerState`, the process-wide instance the magics use, and the in-process
registry that lets the rest of the package recognise this server's base URL.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from ..api import inprocess
from .faults import float_arg
from .handler import HTTPServer
from .state import ServerState
from .wire import PREFIX

if TYPE_CHECKING:
    from ..api.client import GLMClient


class LocalServer(ServerState):
    """The server object: owns the HTTP server thread; the state it serves from is its own, so tests
    read ``requests``, ``disconnects`` and ``last_write_times`` here."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        token_rate: float = 0.0,
        task_polls: int = 1,
        poll_delay: float = 0.0,
        *,
        task_seconds: float | None = None,
        directives: bool = True,
    ) -> None:
        super().__init__(
            api_key, token_rate, task_polls, poll_delay, task_seconds=task_seconds, directives=directives
        )
        self.host, self.port = host, port
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LocalServer:
        """Bind and serve in a daemon thread; idempotent. Returns self."""
        if self._httpd is not None:
            return self
        self.set_stopping(False)
        httpd = HTTPServer((self.host, self.port), self)
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="zhipu-local-server", daemon=True
        )
        self._thread.start()
        inprocess.register(self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and cut open connections so no client hangs on a stalled stream."""
        httpd, self._httpd = self._httpd, None
        inprocess.unregister(self.base_url)
        if httpd is None:
            return
        self.set_stopping(True)
        httpd.shutdown()
        httpd.server_close()
        self.cut_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def __repr__(self) -> str:
        return f"<LocalServer {self.base_url} {'running' if self.running else 'stopped'}>"

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


_shared: LocalServer | None = None
_shared_lock = threading.Lock()


DIRECTIVES_ENV = "ZHIPU_MAGIC_LOCAL_DIRECTIVES"
TASK_SECONDS_ENV = "ZHIPU_MAGIC_LOCAL_TASK_SECONDS"


def directives_enabled() -> bool:
    """Whether ``ZHIPU_MAGIC_LOCAL_DIRECTIVES`` turns directives on for the shared server."""
    return os.environ.get(DIRECTIVES_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def start_local_server() -> LocalServer:
    """The shared server the magics use when no key is configured: started once, streams at ~40 tok/s
    (``ZHIPU_MAGIC_LOCAL_RATE`` overrides) so answers visibly arrive token by token. Its tasks finish
    ~1.5 s after submission (``ZHIPU_MAGIC_LOCAL_TASK_SECONDS``), or at the second poll if that comes
    sooner (so a notebook run top to bottom needs no sleep).

    Directives are off here: prompt text can come from untrusted data (``{page}``), and a
    ``[[fault:...]]`` in it must not fail the user's cell. ``ZHIPU_MAGIC_LOCAL_DIRECTIVES=1`` turns them
    on (read on every call, so ``%env`` in a notebook works before the next cell)."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            rate = float_arg(os.environ.get("ZHIPU_MAGIC_LOCAL_RATE"), 40.0)
            seconds = max(0.0, float_arg(os.environ.get(TASK_SECONDS_ENV), 1.5))
            _shared = LocalServer(port=0, token_rate=rate, task_polls=1, task_seconds=seconds).start()
        _shared.directives = directives_enabled()
        return _shared


def is_builtin(base_url: str | None) -> bool:
    """Whether ``base_url`` is a running ``LocalServer`` of this process (what footers call "local
    server"); another server on loopback, such as a user's proxy, is not."""
    return inprocess.is_local(base_url)
