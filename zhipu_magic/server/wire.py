"""What the local server's handler and its routes share: the URL prefix, ids, JSON bytes, the parsed
request and :class:`Exchange`, the part of the handler a route may use.

A protocol rather than the handler class, so the routes (:mod:`.chat`, :mod:`.endpoints`) never
import the handler that imports them. Standard library only.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from email.message import Message
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from .state import ServerState

PREFIX = "/api/paas/v4"


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def new_id() -> str:
    """Modern-style ids: ``yyyyMMddHHmmss`` + 16 hex (30 chars)."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + uuid.uuid4().hex[:16]


def request_id_of(body: dict[str, Any]) -> str | None:
    """The caller's own ``request_id``, if it sent a string one."""
    rid = body.get("request_id")
    return rid if isinstance(rid, str) else None


class Request(NamedTuple):
    """One routed request. ``target`` is the request line's path (query included): with the body it
    identifies "the same request" for counted faults."""

    target: str
    body: dict[str, Any]
    raw: bytes
    param: str  # what the route pattern's group matched (a task id, a file name), else ""


class Exchange(Protocol):
    """The handler as a route sees it: the request's headers and socket, the server state, writers."""

    headers: Message
    connection: socket.socket

    @property
    def state(self) -> ServerState: ...

    @property
    def origin(self) -> str:
        """Scheme and authority the client used, so asset URLs work through port mappings too."""
        ...

    def send_body(
        self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None: ...

    def send_json(self, status: int, obj: dict[str, Any], headers: dict[str, str] | None = None) -> None: ...

    def start_stream(self) -> None:
        """Status and headers of a chunked SSE body."""
        ...

    def send_chunk(self, data: bytes) -> None:
        """One chunk, sent at once; raises ``Disconnected`` when the client has left."""
        ...

    def end_chunks(self) -> None: ...

    def hang_up(self) -> None:
        """Close the socket abruptly, without a response or the chunked terminator."""
        ...

    def client_left(self) -> None: ...
