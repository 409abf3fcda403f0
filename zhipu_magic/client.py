"""``GLMClient``: a thin ``requests`` client for the GLM v4 API, and ``ChatStream`` for SSE answers.

Transport only: no IPython, no display. One ``requests.Session``; every request carries a
``(connect, read)`` timeout (requests has none by default); the Authorization header is added per
request and never kept on the session, in errors or in logs. Failed responses are closed at once,
and every error is raised outside the ``except`` block that caught the transport exception, so no
``requests`` exception (which holds the prepared request and its headers) rides along in
``__context__``.
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
import re
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import requests
import urllib3.exceptions

from . import __version__
from .config import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MODEL,
    DEFAULT_RETRY_AFTER_CEILING,
    DEFAULT_TIMEOUT,
    DEFAULT_VIDEO_MODEL,
    Secret,
    resolve_api_key,
    resolve_base_url,
)
from .errors import (
    APIConnectionError,
    APITimeoutError,
    GLMError,
    IncompleteStreamError,
    MissingKeyError,
    StreamError,
    error_from_error_object,
    error_from_response,
    truncate,
)
from .retry import retry_delay, should_retry, sliced_sleep
from .sse import Event, SSEDecoder

log = logging.getLogger(__name__)

MAX_ERROR_BODY = 64 * 1024  # bytes of an error body worth reading
DRAIN_TIMEOUT = 0.5  # seconds to wait for the end of a stream after [DONE]
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
Timeout = float | tuple[float, float]


def _timeout(value: Timeout | None, default: tuple[float, float]) -> tuple[float, float]:
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return (float(value), float(value))
    connect, read = value
    return (float(connect), float(read))


def _messages(messages: str | Mapping[str, Any] | list[Any]) -> list[Any]:
    """A plain string is one user message; a single dict is one message."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if isinstance(messages, Mapping):
        return [dict(messages)]
    return list(messages)


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop ``None`` values so callers can pass optional settings through unconditionally."""
    return {k: v for k, v in params.items() if v is not None}


def _errno_text(exc: BaseException) -> str:
    """The useful tail of a urllib3/requests message ('[Errno 111] Connection refused')."""
    text = str(exc)
    found = re.findall(r"\[Errno -?\d+\] [^'\")]+", text)
    if found:
        return found[-1].strip()
    for name in ("Read timed out", "Connection refused", "Connection reset", "Remote end closed"):
        if name.lower() in text.lower():
            return name
    return type(exc).__name__


def _is_connect_failure(exc: BaseException) -> bool:
    """True when the request never left: refused, DNS failure, connect timeout."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(
            item,
            (
                urllib3.exceptions.NewConnectionError,
                urllib3.exceptions.ConnectTimeoutError,
                urllib3.exceptions.NameResolutionError,
                requests.exceptions.ConnectTimeout,
            ),
        ):
            return True
        if isinstance(item, BaseException):
            stack.extend(a for a in item.args if isinstance(a, BaseException))
            stack.append(getattr(item, "reason", None))
    return False


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    args = getattr(exc, "args", ())
    return bool(args) and isinstance(args[0], (urllib3.exceptions.ReadTimeoutError, TimeoutError))


def _read_capped(response: requests.Response, limit: int = MAX_ERROR_BODY) -> bytes:
    """At most ``limit`` bytes of a body; a body that breaks half-way gives what arrived."""
    out = bytearray()
    try:
        for piece in response.iter_content(chunk_size=8192):
            out += piece
            if len(out) >= limit:
                break
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError):
        pass
    return bytes(out[:limit])


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
    ) -> None:
        self._response: requests.Response | None = response
        self._raw = response.iter_content(chunk_size=None)  # each network read, never re-buffered
        self._decoder = SSEDecoder()
        self._queue: deque[dict[str, Any]] = deque()
        self._scrub = scrub or (lambda s: s)
        self._done = False
        self.text = ""
        self.reasoning = ""
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.model = model
        self.id: str | None = None
        self.chunks = 0
        self.interrupted = False
        self.closed = False

    # iteration -------------------------------------------------------------------------------
    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> dict[str, Any]:
        while not self._queue:
            if self._done or self.closed:
                self.close()
                raise StopIteration
            self._pull()
        return self._queue.popleft()

    def _pull(self) -> None:
        failure: GLMError | None = None
        raw: bytes | None = None
        try:
            raw = next(self._raw)
        except StopIteration:
            raw = None
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            failure = self._transport_failure(exc)
        except BaseException:  # KeyboardInterrupt while the read is blocked: close, then propagate
            self.interrupted = True
            self.close()
            raise
        if failure is not None:  # raised here, outside the except: no requests object in the chain
            self.close()
            raise failure
        try:
            if raw is None:
                self._eof()
                return
            for event in self._decoder.feed(raw):
                self._event(event)
        except BaseException:
            self.close()
            raise

    def _transport_failure(self, exc: BaseException) -> GLMError:
        got = f"{len(self.text)} characters received"
        if _is_timeout(exc):
            cls: type[GLMError] = APITimeoutError
            message = f"the stream stalled: no data within the read timeout ({got})"
        else:
            cls = IncompleteStreamError
            reason = _errno_text(exc)
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

    def _event(self, event: Event) -> None:
        if self._done:
            return
        data = event.data
        if data.strip().startswith("[DONE]"):
            self._done = True
            return
        try:
            obj = jsonlib.loads(data)
        except ValueError:
            obj = _BAD
        if obj is _BAD:
            raise StreamError(
                self._scrub(f"non-JSON data in the stream: {truncate(data, 120)!r}"), partial=self.text
            )
        if event.event == "error" or (isinstance(obj, Mapping) and obj.get("error")):
            err_obj = obj.get("error", obj) if isinstance(obj, Mapping) else obj
            request_id = obj.get("request_id") if isinstance(obj, Mapping) else None
            err = error_from_error_object(err_obj, request_id=request_id, cls=StreamError, partial=self.text)
            err.message = self._scrub(err.message)
            raise err
        if not isinstance(obj, Mapping) or not isinstance(obj.get("choices"), list):
            raise StreamError(
                self._scrub(f"a stream chunk without 'choices': {truncate(data, 120)!r}"), partial=self.text
            )
        self._absorb(obj)
        self._queue.append(obj)  # type: ignore[arg-type]

    def _absorb(self, chunk: Mapping[str, Any]) -> None:
        self.chunks += 1
        self.model = chunk.get("model") or self.model
        self.id = chunk.get("id") or self.id
        if isinstance(chunk.get("usage"), Mapping):
            self.usage = dict(chunk["usage"])
        for choice in chunk["choices"]:
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if isinstance(delta, Mapping):
                if isinstance(delta.get("content"), str):
                    self.text += delta["content"]
                if isinstance(delta.get("reasoning_content"), str):
                    self.reasoning += delta["reasoning_content"]
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])

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

    def _drain(self, response: requests.Response) -> None:
        """After ``[DONE]`` read the chunked terminator (briefly), so the connection is reused
        instead of being reset with unread bytes; never on break, error or interrupt."""
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
        if sock is None:
            return
        try:
            sock.settimeout(DRAIN_TIMEOUT)
            left = MAX_ERROR_BODY
            for piece in self._raw:
                left -= len(piece)
                if left <= 0:
                    break
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


_BAD = object()


class GLMClient:
    """Chat, stream, async tasks and video over one ``requests.Session``, with bounded retries."""

    def __init__(
        self,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_after_ceiling: float = DEFAULT_RETRY_AFTER_CEILING,
        sleep: Callable[[float], None] = sliced_sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        self.timeout = _timeout(timeout, DEFAULT_TIMEOUT)
        self.max_retries = max(int(max_retries), 0)
        self.retry_after_ceiling = float(retry_after_ceiling)
        self._sleep = sleep
        self._rng = rng
        self._clock = clock
        self.attempts = 0
        self._session = requests.Session()
        self._session.trust_env = True  # proxies from the environment still apply

    # public API -------------------------------------------------------------------------------
    @property
    def has_key(self) -> bool:
        """Whether a key is configured (never the key itself)."""
        return self._key is not None

    def chat(self, messages: str | list[Any], model: str = DEFAULT_MODEL, **params: Any) -> dict[str, Any]:
        """One complete answer (``POST chat/completions``)."""
        timeout = params.pop("timeout", None)
        params.pop("stream", None)
        body = {"model": model, "messages": _messages(messages), **_clean(params)}
        return self.request("POST", "chat/completions", body, timeout=timeout)

    def stream(self, messages: str | list[Any], model: str = DEFAULT_MODEL, **params: Any) -> ChatStream:
        """A streamed answer; iterate it (or use ``with``) to get chunk dicts as they arrive."""
        timeout = params.pop("timeout", None)
        params.pop("stream", None)
        body = {"model": model, "messages": _messages(messages), **_clean(params), "stream": True}
        response = self._send("POST", "chat/completions", body, timeout=timeout, stream=True)
        content_type = response.headers.get("Content-Type", "").lower()
        if content_type and "text/event-stream" not in content_type:
            raise self._not_a_stream(response, content_type)
        return ChatStream(response, model=model, scrub=self._scrub)

    def submit(self, messages: str | list[Any], model: str = DEFAULT_MODEL, **params: Any) -> dict[str, Any]:
        """Start a background chat task (``POST async/chat/completions``); poll with ``result``."""
        params.pop("stream", None)
        body = {"model": model, "messages": _messages(messages), **_clean(params)}
        return self.request("POST", "async/chat/completions", body)

    def result(self, task_id: str) -> dict[str, Any]:
        """The state of an async task (``GET async-result/{id}``): PROCESSING, SUCCESS or FAIL."""
        return self.request("GET", f"async-result/{urllib.parse.quote(str(task_id), safe='')}")

    def video(self, prompt: str | None, model: str = DEFAULT_VIDEO_MODEL, **params: Any) -> dict[str, Any]:
        """Start a video generation task (``POST videos/generations``; always async)."""
        body = _clean({"model": model, "prompt": prompt, **params})
        return self.request("POST", "videos/generations", body)

    def request(
        self, method: str, path: str, json: Any = None, *, timeout: Timeout | None = None
    ) -> dict[str, Any]:
        """Any other JSON endpoint under the base URL, with the same retries and errors."""
        response = self._send(method, path, json, timeout=timeout, stream=True)
        failure: GLMError | None = None
        try:
            body = response.content
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            cls = APITimeoutError if _is_timeout(exc) else APIConnectionError
            failure = cls(
                self._scrub(f"the connection dropped while reading the response: {_errno_text(exc)}")
            )
        finally:
            response.close()
        if failure is not None:
            raise failure
        try:
            data = jsonlib.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and not (data.get("error") and "choices" not in data and "id" not in data):
            return data
        raise self._scrubbed(error_from_response(response.status_code, body, response.headers))

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    def __enter__(self) -> GLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GLMClient(base_url={self.base_url!r}, key={'set' if self.has_key else 'not set'})"

    # internals ---------------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _headers(self, stream: bool) -> dict[str, str]:
        headers = {
            "Accept": "text/event-stream" if stream else "application/json",
            "User-Agent": f"zhipu-magic/{__version__}",
        }
        if stream:
            headers["Accept-Encoding"] = "identity"  # compressed SSE gets buffered by proxies
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key.reveal()}"
        return headers

    def _scrub(self, text: str) -> str:
        """Mask the key should a server (or a library) ever echo it back."""
        if self._key is not None and self._key.reveal() and self._key.reveal() in text:
            text = text.replace(self._key.reveal(), "***")
        return text

    def _scrubbed(self, err: GLMError) -> GLMError:
        err.message = self._scrub(err.message)
        err.args = (err.message,)
        if err.partial:
            err.partial = self._scrub(err.partial)
        return err

    def _check_key(self) -> None:
        host = urllib.parse.urlsplit(self.base_url).hostname or ""
        if self._key is None and host not in _LOOPBACK:  # the local server needs no key
            raise MissingKeyError(
                "no API key: set ZHIPUAI_API_KEY (or ZAI_API_KEY) or run %glm login; nothing was sent"
            )

    def _send(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        timeout: Timeout | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """One call with retries; returns a 2xx response (body unread) or raises a GLMError."""
        self.attempts = 0
        self._check_key()
        url = self._url(path)
        timeouts = _timeout(timeout, self.timeout)
        retries = 0
        while True:
            self.attempts += 1
            failure: tuple[type[GLMError], str, bool] | None = None
            response: requests.Response | None = None
            try:
                response = self._session.request(
                    method, url, json=json, headers=self._headers(stream), timeout=timeouts, stream=True
                )
            except requests.exceptions.RequestException as exc:
                connect = _is_connect_failure(exc)
                if connect:
                    cls: type[GLMError] = APITimeoutError if _is_timeout(exc) else APIConnectionError
                    text = f"could not connect to {self.base_url}: {_errno_text(exc)}"
                elif _is_timeout(exc):
                    cls, text = APITimeoutError, f"no response within the {timeouts[1]:g} s read timeout"
                else:
                    cls, text = APIConnectionError, f"the connection failed: {_errno_text(exc)}"
                failure = (cls, self._scrub(text), connect)
            if failure is not None:  # handled outside the except: the requests exception is gone
                cls, text, connect = failure
                if should_retry(None, connect_error=connect) and retries < self.max_retries:
                    delay, _ = retry_delay(retries, None, clock=self._clock, rng=self._rng)
                    log.debug(
                        "%s %s attempt %d: %s; retrying in %.2f s", method, path, self.attempts, text, delay
                    )
                    self._sleep(delay)
                    retries += 1
                    continue
                raise cls(f"{text} (after {self.attempts} attempt{'s' if self.attempts > 1 else ''})")
            assert response is not None
            _forget_key(response)
            if response.status_code < 300:
                log.debug("%s %s attempt %d: HTTP %d", method, path, self.attempts, response.status_code)
                return response
            err = self._failed(response)  # read, closed, classified; the raw body stays in there
            if not should_retry(err.status, err.code):
                log.debug("%s %s attempt %d: %s; not retried", method, path, self.attempts, err)
                raise err
            delay, asked = retry_delay(retries, response.headers, clock=self._clock, rng=self._rng)
            if asked and delay > self.retry_after_ceiling:
                err.message = err.message.rstrip(". ") + (
                    f"; the server asked to wait {delay:.0f} s, longer than the "
                    f"{self.retry_after_ceiling:g} s this client waits"
                )
                err.args = (err.message,)
                err.hint = f"wait about {_human(delay)} and try again"
                if hasattr(err, "retry_after"):
                    err.retry_after = delay
                raise err
            if retries >= self.max_retries:
                raise err
            log.debug("%s %s attempt %d: %s; retrying in %.2f s", method, path, self.attempts, err, delay)
            self._sleep(delay)
            retries += 1

    def _failed(self, response: requests.Response) -> GLMError:
        """The error for a non-2xx response, which is read (capped) and closed here."""
        try:
            body = _read_capped(response)
        finally:
            response.close()  # every failed response is closed before we sleep or raise
        return self._scrubbed(error_from_response(response.status_code, body, response.headers))

    def _not_a_stream(self, response: requests.Response, content_type: str) -> GLMError:
        """A 2xx answer to ``stream=True`` that is not SSE: a JSON error or a proxy's HTML page."""
        try:
            body = _read_capped(response)
        finally:
            response.close()
        err = error_from_response(response.status_code, body, response.headers)
        if err.code is None:
            err = StreamError(f"expected an event stream, got {content_type}: {err.message}")
        return self._scrubbed(err)


def _forget_key(response: requests.Response) -> None:
    """Drop the Authorization header from the request kept on the response object."""
    request = getattr(response, "request", None)
    if request is not None and request.headers is not None:
        request.headers.pop("Authorization", None)


def _human(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


__all__ = ["ChatStream", "GLMClient"]
