"""A byte-level Server-Sent Events decoder (WHATWG rules); bytes in, events out, no sockets.

Why not ``requests.iter_lines``: it splits on U+0085 / U+2028 inside JSON strings, decodes a
charset-less ``text/event-stream`` as Latin-1, and yields a spurious blank line (a premature
dispatch) when a CRLF is split across two reads. Here lines are cut on CR, LF and CRLF as bytes,
a trailing CR is remembered across feeds, and each whole line is decoded as UTF-8 with
replacement, so a multi-byte character split between reads is never mangled.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

_EOL = re.compile(rb"\r\n|\r|\n")
_BOM = "\ufeff"


class Event(NamedTuple):
    """One dispatched event; ``event`` defaults to ``"message"``."""

    event: str
    data: str
    id: str | None
    retry: int | None


class SSEDecoder:
    """Incremental decoder: call :meth:`feed` with each chunk as it arrives, :meth:`close` at EOF."""

    def __init__(self) -> None:
        self._buf = b""
        self._skip_lf = False  # the previous feed ended with CR: a leading LF now belongs to it
        self._first_line = True
        self._data: list[str] = []
        self._has_data = False
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None

    @property
    def pending(self) -> bool:
        """True when bytes or fields are buffered that no blank line has dispatched yet."""
        return bool(self._buf) or self._has_data or bool(self._event)

    def feed(self, chunk: bytes) -> list[Event]:
        """Decode one chunk; returns the events it completed (often none or one)."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buf = self._buf + chunk if self._buf else bytes(chunk)
        events: list[Event] = []
        pos = 0
        for match in _EOL.finditer(buf):
            line = buf[pos : match.start()]
            pos = match.end()
            if match.group() == b"\r" and pos == len(buf):
                self._skip_lf = True
            event = self._line(line)
            if event is not None:
                events.append(event)
        self._buf = buf[pos:]
        return events

    def close(self) -> list[Event]:
        """End of stream: an event without its terminating blank line is discarded (WHATWG)."""
        self._buf = b""
        self._skip_lf = False
        self._data = []
        self._has_data = False
        self._event = ""
        return []

    def _line(self, raw: bytes) -> Event | None:
        line = raw.decode("utf-8", errors="replace")
        if self._first_line:
            self._first_line = False
            if line.startswith(_BOM):
                line = line[1:]
        if not line:
            return self._dispatch()
        if line[0] == ":":
            return None
        field, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data.append(value)
            self._has_data = True
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._last_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None  # unknown fields are ignored

    def _dispatch(self) -> Event | None:
        if not self._has_data:
            self._event = ""
            return None
        event = Event(self._event or "message", "\n".join(self._data), self._last_id, self._retry)
        self._data = []
        self._has_data = False
        self._event = ""
        return event


def iter_events(chunks: Iterable[bytes]) -> Iterator[Event]:
    """Events from an iterable of byte chunks, each yielded as soon as its bytes are in."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()
