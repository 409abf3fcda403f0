"""The wire under ``GLMClient``: one ``requests.Session``, the key added per request, bounded retries.

Every request carries a ``(connect, read)`` timeout (requests has none by default). The
Authorization header is built per attempt and never kept on the session, in errors or in logs.
Failed responses are closed at once, and every error is raised outside the ``except`` block that
caught the transport exception, so no ``requests`` exception (which holds the prepared request and
its headers) rides along in ``__context__``. The number of attempts belongs to the call: it comes
back with the response (:class:`Sent`) or on the error (``err.attempts``), never as shared state,
since one client serves several threads at once.
"""

from __future__ import annotations

import logging
import os
import random
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, NamedTuple

import requests
import urllib3.exceptions
from requests.utils import get_environ_proxies

from .calls import Request
from .config import VERSION, Secret, redact_url
from .errors import (
    APIConnectionError,
    APITimeoutError,
    DeadlineError,
    GLMError,
    MissingKeyError,
    error_from_response,
)
from .retry import retry_delay, should_retry, sliced_sleep
from .wire import MAX_ERROR_BODY, READ_ERRORS, errno_text, is_timeout

log = logging.getLogger("zhipu_magic.api.client")

Timeout = float | tuple[float, float]
MAX_REDIRECTS = 5


def as_timeout(value: Any, default: tuple[float, float]) -> tuple[float, float]:
    """``(connect, read)`` from a number, a pair, or an object with ``connect`` / ``read`` attributes
    (the vendor SDK's ``httpx.Timeout``); ``None`` (or nothing usable) gives ``default``."""
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return (float(value), float(value))
    if isinstance(value, (tuple, list)):
        connect, read = value
        return (float(connect), float(read))
    connect, read = getattr(value, "connect", None), getattr(value, "read", None)
    if connect is None and read is None:
        return default
    return (float(connect or default[0]), float(read or default[1]))


class Sent(NamedTuple):
    """A 2xx response (body unread) and how many HTTP attempts it took."""

    response: requests.Response
    attempts: int


class Transport:
    """Sends :class:`~zhipu_magic.api.calls.Request` objects with retries; see the module docstring."""

    def __init__(
        self,
        key: Secret | None,
        base_url: str,
        *,
        timeout: tuple[float, float],
        max_retries: int,
        retry_after_ceiling: float,
        sleep: Callable[[float], None] = sliced_sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
        deadline: float | None = None,
    ) -> None:
        self.key = key
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max(int(max_retries), 0)
        self.retry_after_ceiling = float(retry_after_ceiling)
        self._sleep, self._rng, self._clock = sleep, rng, clock
        self.deadline = deadline
        self.session = requests.Session()
        # The environment gives proxies and CA bundles (added per request), never credentials:
        # with trust_env on, a ~/.netrc entry would replace the Bearer key with Basic auth.
        self.session.trust_env = False

    def headers(self, stream: bool) -> dict[str, str]:
        headers = {
            "Accept": "text/event-stream" if stream else "application/json",
            "User-Agent": f"zhipu-magic/{VERSION}",
            # a stream is read live and uncompressed (proxies buffer compressed SSE); a JSON body
            # only in the encodings whose decoded size we cap as we read
            "Accept-Encoding": "identity" if stream else "gzip, deflate",
        }
        if self.key is not None:
            headers["Authorization"] = f"Bearer {self.key.reveal()}"
        return headers

    def scrub(self, text: str) -> str:
        """Mask the key (and any long prefix or suffix of it) should a server ever echo it back."""
        return self.key.mask(text) if self.key is not None else text

    def end_of(self, start: float) -> float | None:
        """The monotonic time a call started at ``start`` must be over by (None: no deadline)."""
        return None if self.deadline is None else start + self.deadline

    def scrubbed(self, err: GLMError) -> GLMError:
        err.message = self.scrub(err.message)
        err.args = (err.message,)
        if err.partial:
            err.partial = self.scrub(err.partial)
        return err

    def send(self, request: Request, *, timeout: Timeout | None = None, end: float | None = None) -> Sent:
        """One call with retries: a 2xx response (body unread), or a GLMError with ``.attempts``.
        ``end`` is the call's monotonic deadline (default: now + ``deadline``)."""
        if self.key is None:
            raise MissingKeyError(
                "no API key: set ZHIPUAI_API_KEY (or ZAI_API_KEY), or pass api_key=; nothing was sent"
            )
        timeouts = as_timeout(timeout, self.timeout)
        end = end if end is not None else self.end_of(time.monotonic())
        attempts = 0
        while True:
            attempts += 1
            limits = within(timeouts, end)
            if limits is None:
                err = DeadlineError(f"the call ran past its {self.deadline or 0:g} s deadline")
                err.attempts = attempts - 1
                raise err
            outcome = self._attempt(request, limits, retry_index=attempts - 1, end=end)
            if isinstance(outcome, requests.Response):
                log.debug(
                    "%s %s attempt %d: HTTP %d", request.method, request.path, attempts, outcome.status_code
                )
                return Sent(outcome, attempts)
            err, delay = outcome
            err.attempts = attempts
            if delay is not None and end is not None and time.monotonic() + delay >= end:
                delay = None  # waiting would pass the deadline: this error is the answer
            if delay is None or attempts > self.max_retries:
                log.debug("%s %s attempt %d: %s; not retried", request.method, request.path, attempts, err)
                if err.status is None and isinstance(err, APIConnectionError):
                    err.message += f" (after {attempts} attempt{'s' if attempts > 1 else ''})"
                    err.args = (err.message,)
                raise err
            log.debug(
                "%s %s attempt %d: %s; retrying in %.2f s", request.method, request.path, attempts, err, delay
            )
            self._sleep(delay)

    def _attempt(
        self, request: Request, timeouts: tuple[float, float], *, retry_index: int, end: float | None
    ) -> requests.Response | tuple[GLMError, float | None]:
        """A 2xx response, or the error with the wait before the next try (None: do not retry)."""
        failure: GLMError | None = None
        connect = False
        try:
            response = self._request(request, timeouts)
        except requests.exceptions.RequestException as exc:
            connect = _is_connect_failure(exc)
            failure = self._connection_error(exc, connect, timeouts)
        if failure is not None:  # handled outside the except: the requests exception is gone
            if not should_retry(None, connect_error=connect):
                return failure, None
            return failure, retry_delay(retry_index, None, clock=self._clock, rng=self._rng)[0]
        if isinstance(response, GLMError):
            return response, None
        _forget_key(response)
        if response.status_code < 300:
            return response
        err = self.failed(response, end)  # read, closed, classified; the raw body stays in there
        if not should_retry(err.status, err.code):
            return err, None
        return err, self._server_wait(err, response, retry_index)

    def _request(self, request: Request, timeouts: tuple[float, float]) -> requests.Response | GLMError:
        """Send, following a redirect only within the same origin (scheme, host, port): a prompt and
        its key are never re-sent elsewhere, and no earlier request is kept on the response."""
        url = request.url(self.base_url)
        for _hop in range(MAX_REDIRECTS + 1):
            response = self.session.request(
                request.method,
                url,
                json=request.body,
                headers=self.headers(request.stream),
                timeout=timeouts,
                stream=True,
                allow_redirects=False,
                proxies=get_environ_proxies(url),
                verify=ca_bundle(),
            )
            if not response.is_redirect:
                return response
            target = urllib.parse.urljoin(url, response.headers.get("location", ""))
            _forget_key(response)
            response.close()
            if _origin(target) != _origin(url):
                return APIConnectionError(
                    f"the server redirected {request.method} {request.path} to another host "
                    f"({_where(target)}); not followed, nothing was sent there",
                    status=response.status_code,
                )
            url = target
        return APIConnectionError(f"more than {MAX_REDIRECTS} redirects for {request.method} {request.path}")

    def _connection_error(self, exc: BaseException, connect: bool, timeouts: tuple[float, float]) -> GLMError:
        if connect:
            cls: type[GLMError] = APITimeoutError if is_timeout(exc) else APIConnectionError
            text = f"could not connect to {self.base_url}: {errno_text(exc)}"
        elif is_timeout(exc):
            cls, text = APITimeoutError, f"no response within the {timeouts[1]:g} s read timeout"
        else:
            cls, text = APIConnectionError, f"the connection failed: {errno_text(exc)}"
        return cls(self.scrub(text))

    def _server_wait(self, err: GLMError, response: requests.Response, retry_index: int) -> float | None:
        """The wait the server asked for (within the ceiling), else the backoff; None: give up now."""
        delay, asked = retry_delay(retry_index, response.headers, clock=self._clock, rng=self._rng)
        if asked and delay > self.retry_after_ceiling:
            err.message = err.message.rstrip(". ") + (
                f"; the server asked to wait {delay:.0f} s, longer than the "
                f"{self.retry_after_ceiling:g} s this client waits"
            )
            err.args = (err.message,)
            err.hint = f"wait about {_human(delay)} and try again"
            if hasattr(err, "retry_after"):
                err.retry_after = delay
            return None
        return delay

    def failed(self, response: requests.Response, end: float | None = None) -> GLMError:
        """The error for a non-2xx response, which is read (capped, until ``end``) and closed here."""
        body = read_and_close(response, end=end)
        return self.scrubbed(error_from_response(response.status_code, body, response.headers, self.scrub))

    def close(self) -> None:
        self.session.close()


def read_and_close(
    response: requests.Response, limit: int = MAX_ERROR_BODY, end: float | None = None
) -> bytes:
    """At most ``limit`` decoded bytes of a body, read until the monotonic ``end`` at the latest (a
    body that breaks half-way or trickles past it gives what arrived); the response is closed
    here, so a failed one never lingers while we sleep or raise."""
    out = bytearray()
    read1 = getattr(response.raw, "read1", None)
    pieces = iter(lambda: read1(8192, decode_content=True), b"") if read1 else response.iter_content(8192)
    try:
        for piece in pieces:
            out += piece
            if len(out) >= limit or (end is not None and time.monotonic() > end):
                break
    except READ_ERRORS:
        pass
    finally:
        response.close()
    return bytes(out[:limit])


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


def _forget_key(response: requests.Response) -> None:
    """Drop the Authorization header from the request kept on the response object, and any
    earlier hop (``history``), so nothing reachable from a result or a stream holds the key."""
    request = getattr(response, "request", None)
    if request is not None and request.headers is not None:
        request.headers.pop("Authorization", None)
    response.history = []


def within(timeouts: tuple[float, float], end: float | None) -> tuple[float, float] | None:
    """``(connect, read)`` no longer than what is left before ``end``; None once it has passed."""
    if end is None:
        return timeouts
    left = end - time.monotonic()
    if left <= 0:
        return None
    return (min(timeouts[0], left), min(timeouts[1], left))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return (parts.scheme.lower(), (parts.hostname or "").lower(), port)


def _where(url: str) -> str:
    """``scheme://host[:port]`` of a URL, credentials never included."""
    parts = urllib.parse.urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return redact_url(f"{parts.scheme}://{parts.hostname or ''}{port}")


def ca_bundle() -> str | bool:
    """The CA bundle requests would take from the environment with trust_env on."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def _human(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"
