"""A byte-level Server-Sent Events decoder (WHATWG rules); bytes in, events out, no sockets.

Why not ``requests.iter_lines``: it splits on U+0085 / U+2028 inside JSON strings, decodes a
charset-less ``text/event-stream`` as Latin-1, and yields a spurious blank line (a premature
dispatch) when a CRLF is split across two reads. Here lines are cut on CR, LF and CRLF as bytes,
a trailing CR is remembered across feeds, and an event's data is decoded as UTF-8 with replacement
once, when the event is complete (a LF is never inside a UTF-8 sequence, so decoding the joined
lines equals decoding each line), so a multi-byte character split between reads is never mangled.

Linear time: each feed is scanned once (one ``b"\\r" in chunk`` test, normalising only when a CR
is present, then ``bytes.split``); an unfinished line is kept as a list of pieces, never rescanned.
A line, or an event's data, longer than ``max_line`` bytes is a :class:`LineTooLongError`, so no
server can make the decoder hold unbounded memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

MAX_LINE = 16 * 1024 * 1024  # bytes in one line or one event's data
_BOM = b"\xef\xbb\xbf"


class LineTooLongError(ValueError):
    """A line or an event larger than the decoder's cap (the stream turns it into a GLMError)."""


class Event(NamedTuple):
    """One dispatched event; ``event`` defaults to ``"message"``."""

    event: str
    data: str
    id: str | None
    retry: int | None


Raw = tuple[bytes, bytes, "str | None", "int | None"]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


class SSEDecoder:
    """Incremental decoder: call :meth:`feed` with each chunk as it arrives, :meth:`close` at EOF.

    :meth:`feed_raw` is the hot path (``ChatStream``): ``(event name or "", data bytes)`` pairs,
    the data joined but not yet decoded; :meth:`feed` gives :class:`Event` objects.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._partial: list[bytes] = []  # an unfinished line, in pieces (never rescanned)
        self._partial_len = 0
        self._cr = False  # the previous feed ended with CR: a leading LF now belongs to it
        self._first_line = True
        self._data: list[bytes] = []
        self._data_len = 0
        self._has_data = False
        self._event = b""
        self._last_id: str | None = None
        self._retry: int | None = None

    @property
    def pending(self) -> bool:
        """True when bytes or fields are buffered that no blank line has dispatched yet."""
        return bool(self._partial) or self._has_data or bool(self._event)

    def feed(self, chunk: bytes) -> list[Event]:
        """Decode one chunk; returns the events it completed (often none or one)."""
        return [
            Event(_text(name) if name else "message", _text(data), last_id, retry)
            for name, data, last_id, retry in self.feed_raw(chunk)
        ]

    def feed_raw(self, chunk: bytes) -> list[Raw]:
        """Decode one chunk into ``(event name, data, id, retry)``, name and data still bytes
        (name ``b""`` means ``message``)."""
        if not chunk:
            return []
        if self._cr or b"\r" in chunk:
            if self._cr and chunk[:1] == b"\n":
                chunk = chunk[1:]
            self._cr = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if self._partial:
            if lines:
                self._partial.append(lines[0])
                lines[0] = b"".join(self._partial)
                self._partial = []
                self._partial_len = 0
            else:
                self._keep(tail)
                return []
        if tail:
            self._keep(tail)
        if not lines:
            return []
        if self._first_line:
            self._first_line = False
            if lines[0][:3] == _BOM:
                lines[0] = lines[0][3:]
        return self._lines(lines)

    def _keep(self, piece: bytes) -> None:
        self._partial_len += len(piece)
        if self._partial_len > self.max_line:
            self._partial = []
            raise LineTooLongError(f"a line longer than {self.max_line} bytes")
        self._partial.append(piece)

    def _lines(self, lines: list[bytes]) -> list[Raw]:
        """The per-line loop, on locals (written back at the end): ``data:`` first, then the blank
        line that dispatches, comments, and the other fields through :meth:`_field`."""
        out: list[Raw] = []
        data, cap = self._data, self.max_line
        has, size, event = self._has_data, self._data_len, self._event
        for line in lines:
            if line.startswith(b"data:"):
                value = line[6:] if line.startswith(b"data: ") else line[5:]
                data.append(value)
                has = True
                size += len(value) + 1
                if size > cap:
                    self._has_data, self._data_len, self._event = has, size, event
                    raise LineTooLongError(f"an event larger than {cap} bytes")
            elif not line:
                if has:
                    joined = data[0] if len(data) == 1 else b"\n".join(data)
                    out.append((event, joined, self._last_id, self._retry))
                    data.clear()
                    has, size = False, 0
                event = b""
            elif line[:1] != b":":
                self._has_data, self._data_len, self._event = has, size, event
                self._field(line)
                has, size, event = self._has_data, self._data_len, self._event
        self._has_data, self._data_len, self._event = has, size, event
        return out

    def _field(self, line: bytes) -> None:
        if len(line) > self.max_line:
            raise LineTooLongError(f"a line longer than {self.max_line} bytes")
        field, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if field == b"data":  # "data" with no colon: an empty data line
            self._data.append(value)
            self._has_data = True
            self._data_len += len(value) + 1
        elif field == b"event":
            self._event = value
        elif field == b"id" and b"\0" not in value:
            self._last_id = _text(value)
        elif field == b"retry" and value.isdigit():
            self._retry = int(value)
        # unknown fields are ignored

    def close(self) -> list[Event]:
        """End of stream: an event without its terminating blank line is discarded (WHATWG)."""
        self._partial = []
        self._partial_len = 0
        self._cr = False
        self._data = []
        self._data_len = 0
        self._has_data = False
        self._event = b""
        return []


def iter_events(chunks: Iterable[bytes]) -> Iterator[Event]:
    """Events from an iterable of byte chunks, each yielded as soon as its bytes are in."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()
