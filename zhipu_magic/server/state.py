"""What the local server's request threads share: the request log, disconnects, attempt counts, async
tasks, open connections and the stopping flag.

Kept apart from the HTTP code and the server's lifecycle so the handlers depend on this one class
(its public methods) and never on :class:`~zhipu_magic.server.LocalServer` itself. Thread-safe;
standard library only.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Disconnected(Exception):
    """The client went away (or the server is stopping) while a request was being answered."""


def peer_closed(conn: socket.socket) -> bool:
    """True when the client has closed its end (readable with EOF, or reset)."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        if not readable:
            return False
        return conn.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class RequestRecord(NamedTuple):
    """One request as the server saw it; the Authorization header is never kept."""

    method: str
    path: str
    body: dict[str, Any] | None


@dataclass
class Task:
    """An async task (chat or video): ``PROCESSING`` until it is done, then ``result``."""

    id: str
    request_id: str
    model: str
    result: dict[str, Any]
    polls: int = 0
    created: float = field(default_factory=time.monotonic)


class ServerState:
    """The state request threads share, plus what tests inspect (``requests``, ``disconnects``...).

    A task is done once it has answered ``task_polls`` polls with ``PROCESSING``, or once it is
    ``task_seconds`` old (None: never by age), whichever comes first: tests count polls; the server
    the magics start also finishes by time, so a card refreshed a while later is done at once.
    ``directives`` off: ``[[...]]`` in a prompt is ordinary text.
    """

    def __init__(
        self,
        api_key: str | None = None,
        token_rate: float = 0.0,
        task_polls: int = 1,
        poll_delay: float = 0.0,
        *,
        task_seconds: float | None = None,
        directives: bool = True,
    ) -> None:
        self.api_key = api_key
        self.token_rate = float(token_rate)
        self.task_polls = int(task_polls)
        self.poll_delay = float(poll_delay)
        self.task_seconds = None if task_seconds is None else float(task_seconds)
        self.directives = bool(directives)
        self.requests: list[RequestRecord] = []
        self.disconnects = 0
        self.last_write_times: list[float] = []
        self._reported_disconnects = 0
        self._cond = threading.Condition()
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._attempts: dict[str, int] = {}
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()

    # -- requests and disconnects ------------------------------------------------------------------

    def record(self, method: str, path: str, body: dict[str, Any] | None) -> None:
        with self._lock:
            self.requests.append(RequestRecord(method, path, body))

    def note_disconnect(self) -> None:
        """A client left mid-answer; not counted when the server itself is stopping."""
        if self.stopping:
            return
        with self._cond:
            self.disconnects += 1
            self._cond.notify_all()

    def wait_disconnect(self, timeout: float) -> bool:
        """Wait until a streaming client drop not yet reported by an earlier call happens."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self.disconnects > self._reported_disconnects, timeout)
            if ok:
                self._reported_disconnects += 1
            return ok

    # -- counted faults ----------------------------------------------------------------------------

    def attempt(self, key: str) -> int:
        """Count attempts of one request body (1 = first)."""
        with self._lock:
            self._attempts[key] = self._attempts.get(key, 0) + 1
            return self._attempts[key]

    def succeeded(self, key: str) -> None:
        """The request succeeded: its next attempt counts as a first one again."""
        with self._lock:
            self._attempts.pop(key, None)

    # -- async tasks -------------------------------------------------------------------------------

    def add_task(self, task_id: str, request_id: str, model: str, result: dict[str, Any]) -> None:
        with self._lock:
            self._tasks[task_id] = Task(task_id, request_id, model, result)

    def poll(self, task_id: str) -> dict[str, Any] | None:
        """The task's answer to one poll (``PROCESSING`` at first), or None for an unknown id."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                return None
            task.polls += 1
            aged = self.task_seconds is not None and time.monotonic() - task.created >= self.task_seconds
            if task.polls <= self.task_polls and not aged:
                return {
                    "model": task.model,
                    "id": task.id,
                    "request_id": task.request_id,
                    "task_status": "PROCESSING",
                }
            return dict(task.result)

    # -- connections and stopping ------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def set_stopping(self, stopping: bool) -> None:
        """Raise (or clear) the flag that wakes every ``sleep`` with :class:`Disconnected`."""
        if stopping:
            self._stopping.set()
        else:
            self._stopping.clear()

    def sleep(self, seconds: float, conn: socket.socket | None = None) -> None:
        """Sleep in short slices; notice a stopping server or (given ``conn``) a client that left."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            if self._stopping.wait(min(left, 0.05)):
                raise Disconnected()
            if conn is not None and peer_closed(conn):
                raise Disconnected()

    def track(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.discard(conn)

    def cut_connections(self) -> None:
        """Shut down every open connection, so no client hangs on a stalled stream."""
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
