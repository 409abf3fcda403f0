"""``ChatStream``: the payload layer of a streamed answer, over the byte-level SSE decoder.

SSE events become chunk dicts (JSON per event, each yielded as soon as its bytes arrive); ``[DONE]``
ends the stream; an in-band ``{"error": ...}`` frame, non-JSON data or a chunk without ``choices``
is a typed :class:`~zhipu_magic.api.errors.StreamError`; EOF without ``[DONE]`` and without a finish
reason is an :class:`~zhipu_magic.api.errors.IncompleteStreamError`. The stream decodes and yields;
accumulating is the job of its :class:`~zhipu_magic.api.answer.Answer` (``into=`` hands it the
caller's own, such as the notebook's ``Reply``, so each delta is parsed once). The text received so
far rides on every error as ``.partial``. No retries here: a stream is never retried once its first
byte was read (the retry loop is the transport's).
"""

from __future__ import annotations

import json as jsonlib
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any

import requests

from .answer import Answer
from .body import live_reader, past_deadline, too_large
from .config import MAX_STREAM
from .errors import (
    APITimeoutError,
    GLMError,
    IncompleteStreamError,
    StreamError,
    error_from_error_object,
)
from .sse import LineTooLongError, SSEDecoder
from .text import truncate
from .wire import MAX_ERROR_BODY, READ_ERRORS, errno_text, is_timeout

DRAIN_TIMEOUT = 0.5  # seconds to wait for the end of a stream after [DONE]
_BAD = object()  # "not JSON": a sentinel, so the error is raised outside the ``except``
_SCAN = jsonlib.JSONDecoder().scan_once  # json.loads without its per-call checks (the fast path)
_JSON_SPACE = " \t\n\r"


class ChatStream:
    """The chunks of one streamed answer, each yielded as soon as its bytes arrive.

    Owns the HTTP response and closes it on exhaustion, ``break`` (via ``close``/``__del__``/
    ``with``), error and KeyboardInterrupt. What arrived so far stays in ``.text`` /
    ``.reasoning``, and errors raised mid-stream carry it as ``.partial``.
    """

    def __init__(
        self,
        response: requests.Response,
        *,
        model: str | None = None,
        scrub: Callable[[str], str] | None = None,
        attempts: int = 1,
        into: Answer | None = None,
        end: float | None = None,
        deadline: float | None = None,
        max_bytes: int = MAX_STREAM,
    ) -> None:
        self._response: requests.Response | None = response
        self._read = live_reader(response)  # whatever has arrived, never waiting to fill a buffer
        self._decoder = SSEDecoder()
        self._queue: deque[dict[str, Any]] = deque()
        self._failure: GLMError | None = None
        self._scrub = scrub or (lambda s: s)
        self._done = False
        self._end, self._deadline = end, deadline  # monotonic end of the total budget, and its size
        self._left = max_bytes  # bytes this stream may still send (an endless body stops here)
        self._max_bytes = max_bytes
        self.answer = into if into is not None else Answer(model)
        if into is not None and model and not into.model:
            into.model = model
        self.attempts = attempts  # HTTP attempts it took to open this stream (retries before a byte)
        self.interrupted = False
        self.closed = False

    @property
    def text(self) -> str:
        """The answer text received so far."""
        return self.answer.text

    @property
    def reasoning(self) -> str:
        """The reasoning text received so far."""
        return self.answer.reasoning

    @property
    def finish_reason(self) -> str | None:
        return self.answer.finish_reason

    @property
    def usage(self) -> dict[str, Any] | None:
        return self.answer.usage

    @property
    def model(self) -> str | None:
        return self.answer.model

    @property
    def id(self) -> str | None:
        return self.answer.request_id

    @property
    def chunks(self) -> int:
        return self.answer.chunks

    # iteration -------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The chunks, over the same state as :meth:`__next__` (so ``next()`` and ``for`` mix), as
        a generator: a ``for`` loop drains each read's chunks without a method call per chunk."""
        queue = self._queue
        while True:
            while queue:
                yield queue.popleft()
            try:
                chunk = self.__next__()  # reads (or raises) when the queue is empty
            except StopIteration:
                return
            yield chunk

    def __next__(self) -> dict[str, Any]:
        while not self._queue:
            if self._failure is not None:  # the chunks decoded before the error came first
                failure, self._failure = self._failure, None
                raise failure
            if self._done or self.closed:
                self.close()
                raise StopIteration
            try:
                self._pull()
            except GLMError as err:
                err.attempts = self.attempts  # the call's attempts: it failed after this many
                if not self._queue:
                    raise
                self._failure = err  # raised once the chunks read before it are yielded
        return self._queue.popleft()

    def _pull(self) -> None:
        failure: GLMError | None = None
        raw = b""
        try:
            raw = self._read()
        except READ_ERRORS as exc:
            failure = self._transport_failure(exc)
        except BaseException:  # KeyboardInterrupt while the read is blocked: close, then propagate
            self.interrupted = True
            self.close()
            raise
        if failure is None and raw:
            failure = self._over_budget(len(raw))
        if failure is not None:  # raised here, outside the except: no requests object in the chain
            self.close()
            raise failure
        try:
            if not raw:
                self._eof()
                return
            self._events(self._decoder.feed_raw(raw))
        except LineTooLongError:
            failure = too_large("a line or event of the stream", self._decoder.max_line)
        except BaseException:
            self.close()
            raise
        if failure is not None:
            failure.partial = self.text
            self.close()
            raise failure

    def _over_budget(self, size: int) -> GLMError | None:
        """The total budget: bytes (a body that never ends) and time (a server that trickles)."""
        self._left -= size
        failure: GLMError | None = None
        if self._left < 0:
            failure = too_large("the event stream", self._max_bytes)
        elif self._end is not None and time.monotonic() > self._end:
            failure = past_deadline(self._deadline, f"while streaming ({len(self.text)} characters received)")
        if failure is not None:
            failure.partial = self.text
        return failure

    def _events(self, events: list[tuple[bytes, bytes, Any, Any]]) -> None:
        """The hot path: a ``message`` whose data is one JSON object with ``choices`` is parsed with
        the scanner directly and handed on; anything else goes through :meth:`_event`."""
        add, push = self.answer.add_chunk, self._queue.append
        for name, data, _id, _retry in events:
            if self._done:
                return
            if not name and data[:1] == b"{":
                text = data.decode("utf-8", "replace")
                try:
                    obj, end = _SCAN(text, 0)
                except (StopIteration, ValueError, RecursionError):
                    obj, end = None, 0
                if (
                    type(obj) is dict
                    and type(obj.get("choices")) is list
                    and not obj.get("error")
                    and (end == len(text) or not text[end:].strip(_JSON_SPACE))
                ):
                    add(obj)
                    push(obj)
                    continue
            self._event(name.decode("utf-8", "replace") or "message", data.decode("utf-8", "replace"))

    def _transport_failure(self, exc: BaseException) -> GLMError:
        got = f"{len(self.text)} characters received"
        if is_timeout(exc):
            cls: type[GLMError] = APITimeoutError
            message = f"the stream stalled: no data within the read timeout ({got})"
        else:
            cls = IncompleteStreamError
            reason = errno_text(exc)
            reason = "" if reason.endswith("Error") else f": {reason}"  # a bare class name says nothing
            message = f"the connection dropped mid-stream{reason} ({got})"
        return cls(self._scrub(message), partial=self.text)

    def _eof(self) -> None:
        self._decoder.close()
        self.close()
        if not self._done and self.finish_reason is None:
            raise IncompleteStreamError(
                f"the stream ended before [DONE] ({len(self.text)} characters received)", partial=self.text
            )
        self._done = True

    def _event(self, name: str, data: str) -> None:
        if data.strip().startswith("[DONE]"):
            self._done = True
            return
        try:
            obj = jsonlib.loads(data)
        except (ValueError, RecursionError):  # not JSON, or nested past what the parser can take
            obj = _BAD
        if obj is _BAD:
            raise StreamError(
                truncate(f"non-JSON data in the stream: {self._scrub(data)!r}", 160), partial=self.text
            )
        if name == "error" or (isinstance(obj, Mapping) and obj.get("error")):
            err_obj = obj.get("error", obj) if isinstance(obj, Mapping) else obj
            request_id = obj.get("request_id") if isinstance(obj, Mapping) else None
            err = error_from_error_object(
                err_obj, request_id=request_id, cls=StreamError, partial=self.text, scrub=self._scrub
            )
            raise err
        if not isinstance(obj, Mapping) or not isinstance(obj.get("choices"), list):
            raise StreamError(
                truncate(f"a stream chunk without 'choices': {self._scrub(data)!r}", 160), partial=self.text
            )
        self.answer.add_chunk(obj)  # type: ignore[arg-type]
        self._queue.append(obj)  # type: ignore[arg-type]

    # lifetime ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection now (the server sees the disconnect and stops generating)."""
        if self.closed:
            return
        self.closed = True
        response, self._response = self._response, None
        if response is not None:
            if self._done:
                self._drain(response)
            try:
                response.close()
            except Exception:  # closing must never raise over the caller's own exception
                pass

    def shutdown(self) -> None:
        """Stop from another thread (a Stop button): shut the socket so a read blocked in the
        owning thread returns at once; that thread then raises and closes the stream itself.

        ``close()`` from a second thread would pull the response from under the reader, and does
        not wake a blocked ``recv``; ``HTTPResponse.shutdown`` (urllib3 >= 2.3) does both right.
        """
        response = self._response
        raw = getattr(response, "raw", None)
        if raw is not None and hasattr(raw, "shutdown"):
            try:
                raw.shutdown()
            except Exception:  # already closed: nothing left to stop
                pass
        else:
            self.close()

    def _drain(self, response: requests.Response) -> None:
        """After ``[DONE]`` read the chunked terminator (briefly), so the connection is reused
        instead of being reset with unread bytes; never on break, error or interrupt."""
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
        if sock is None:
            return
        try:
            sock.settimeout(DRAIN_TIMEOUT)
            left = MAX_ERROR_BODY
            while left > 0:
                piece = self._read()
                if not piece:
                    break
                left -= len(piece)
        except Exception:  # a server that lingers after [DONE] just gets its connection closed
            pass

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is KeyboardInterrupt:
            self.interrupted = True
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<ChatStream model={self.model!r} {state} chars={len(self.text)}>"


__all__ = ["ChatStream"]
