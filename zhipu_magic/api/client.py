"""``GLMClient``: a thin ``requests`` client for the GLM v4 API (``ChatStream`` lives in ``stream``).

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
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import requests
import urllib3.exceptions

from .config import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MODEL,
    DEFAULT_RETRY_AFTER_CEILING,
    DEFAULT_TIMEOUT,
    DEFAULT_VIDEO_MODEL,
    VERSION,
    Secret,
    resolve_api_key,
    resolve_base_url,
)
from .errors import (
    APIConnectionError,
    APITimeoutError,
    GLMError,
    MissingKeyError,
    StreamError,
    error_from_response,
)
from .retry import retry_delay, should_retry, sliced_sleep
from .stream import MAX_ERROR_BODY, READ_ERRORS, ChatStream, errno_text, is_timeout

log = logging.getLogger(__name__)

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


def _chat_body(
    messages: str | Mapping[str, Any] | list[Any], model: str, params: dict[str, Any]
) -> dict[str, Any]:
    """The JSON body of a chat call; ``stream`` is the caller's to set, ``None`` values are dropped."""
    params.pop("stream", None)
    return {"model": model, "messages": _messages(messages), **_clean(params)}


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


def _read_and_close(response: requests.Response, limit: int = MAX_ERROR_BODY) -> bytes:
    """At most ``limit`` bytes of a body (a body that breaks half-way gives what arrived); the
    response is closed here, so a failed one never lingers while we sleep or raise."""
    out = bytearray()
    try:
        for piece in response.iter_content(chunk_size=8192):
            out += piece
            if len(out) >= limit:
                break
    except READ_ERRORS:
        pass
    finally:
        response.close()
    return bytes(out[:limit])


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
        return self.request("POST", "chat/completions", _chat_body(messages, model, params), timeout=timeout)

    def stream(self, messages: str | list[Any], model: str = DEFAULT_MODEL, **params: Any) -> ChatStream:
        """A streamed answer; iterate it (or use ``with``) to get chunk dicts as they arrive."""
        timeout = params.pop("timeout", None)
        body = {**_chat_body(messages, model, params), "stream": True}
        response = self._send("POST", "chat/completions", body, timeout=timeout, stream=True)
        content_type = response.headers.get("Content-Type", "").lower()
        if content_type and "text/event-stream" not in content_type:
            raise self._not_a_stream(response, content_type)
        return ChatStream(response, model=model, scrub=self._scrub)

    def submit(self, messages: str | list[Any], model: str = DEFAULT_MODEL, **params: Any) -> dict[str, Any]:
        """Start a background chat task (``POST async/chat/completions``); poll with ``result``."""
        return self.request("POST", "async/chat/completions", _chat_body(messages, model, params))

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
        except READ_ERRORS as exc:
            cls = APITimeoutError if is_timeout(exc) else APIConnectionError
            failure = cls(
                self._scrub(f"the connection dropped while reading the response: {errno_text(exc)}")
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
            "User-Agent": f"zhipu-magic/{VERSION}",
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
        # A keyless server on loopback (a proxy, a test double) is the caller's business; our own
        # LocalServer wants a key like the real API (``LocalServer.client()`` supplies one).
        if self._key is None and host not in _LOOPBACK:
            raise MissingKeyError(
                "no API key: set ZHIPUAI_API_KEY (or ZAI_API_KEY), or pass api_key=; nothing was sent"
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
                    cls: type[GLMError] = APITimeoutError if is_timeout(exc) else APIConnectionError
                    text = f"could not connect to {self.base_url}: {errno_text(exc)}"
                elif is_timeout(exc):
                    cls, text = APITimeoutError, f"no response within the {timeouts[1]:g} s read timeout"
                else:
                    cls, text = APIConnectionError, f"the connection failed: {errno_text(exc)}"
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
        body = _read_and_close(response)
        return self._scrubbed(error_from_response(response.status_code, body, response.headers))

    def _not_a_stream(self, response: requests.Response, content_type: str) -> GLMError:
        """A 2xx answer to ``stream=True`` that is not SSE: a JSON error or a proxy's HTML page."""
        body = _read_and_close(response)
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
