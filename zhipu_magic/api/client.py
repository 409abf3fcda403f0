"""``GLMClient``: a thin ``requests`` client for the GLM v4 API, one method per endpoint.

Transport only: no IPython, no display. Each method builds its request with :mod:`.calls` (the one
place a request's shape is written) and hands it to the :class:`~.transport.Transport` (session,
key, retries). JSON answers come back as :class:`APIResult` (a ``dict`` that also knows how many
HTTP attempts it took); streams as :class:`~.stream.ChatStream` (with ``.attempts``); failures as
a ``GLMError`` (with ``.attempts``). Nothing about a call is left on the client, which several
threads may share.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any

from . import calls
from .answer import Answer
from .batches import BatchMethods
from .body import read_body
from .calls import Messages, Request
from .config import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MODEL,
    DEFAULT_RETRY_AFTER_CEILING,
    DEFAULT_TIMEOUT,
    DEFAULT_VIDEO_MODEL,
    MAX_BODY,
    Secret,
    resolve_api_key,
    resolve_base_url,
)
from .download import MAX_DOWNLOAD, save_url
from .errors import GLMError, StreamError, error_from_response, parse_json
from .retry import sliced_sleep
from .stream import ChatStream
from .text import truncate
from .transport import Timeout, Transport, as_timeout, read_and_close


class APIResult(dict):  # type: ignore[type-arg]
    """A JSON answer (a plain ``dict`` to read) that also carries ``attempts``: the HTTP attempts
    this call took (1 = no retry)."""

    attempts: int = 1


class GLMClient(BatchMethods):
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
        deadline: float | None = DEFAULT_DEADLINE,
        max_body: int = MAX_BODY,
    ) -> None:
        if deadline is not None and not 0 < float(deadline) < 1e9:
            raise ValueError("deadline is a number of seconds above 0 (or None for no deadline)")
        self.max_body = int(max_body)  # decoded bytes of a JSON body
        self._transport = Transport(
            resolve_api_key(api_key),
            resolve_base_url(base_url),
            timeout=as_timeout(timeout, DEFAULT_TIMEOUT),
            max_retries=max_retries,
            retry_after_ceiling=retry_after_ceiling,
            sleep=sleep,
            rng=rng,
            clock=clock,
            deadline=None if deadline is None else float(deadline),
        )

    # settings ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def timeout(self) -> tuple[float, float]:
        return self._transport.timeout

    @property
    def deadline(self) -> float | None:
        """Seconds a whole call may take (a stream: from the request to its last byte)."""
        return self._transport.deadline

    @property
    def max_retries(self) -> int:
        return self._transport.max_retries

    @property
    def has_key(self) -> bool:
        """Whether a key is configured (never the key itself)."""
        return self._transport.key is not None

    # one method per endpoint --------------------------------------------------------------------
    def chat(self, messages: Messages, model: str = DEFAULT_MODEL, **params: Any) -> APIResult:
        """One complete answer (``POST chat/completions``)."""
        timeout = params.pop("timeout", None)
        return self.send(calls.chat(messages, model, **params), timeout=timeout)

    def stream(self, messages: Messages, model: str = DEFAULT_MODEL, **params: Any) -> ChatStream:
        """A streamed answer; iterate it (or use ``with``) to get chunk dicts as they arrive."""
        timeout = params.pop("timeout", None)
        return self.open_stream(calls.stream(messages, model, **params), timeout=timeout)

    def submit(self, messages: Messages, model: str = DEFAULT_MODEL, **params: Any) -> APIResult:
        """Start a background chat task (``POST async/chat/completions``); poll with ``result``."""
        return self.send(calls.submit(messages, model, **params))

    def result(self, task_id: str) -> APIResult:
        """The state of an async task (``GET async-result/{id}``): PROCESSING, SUCCESS or FAIL."""
        return self.send(calls.result(task_id))

    def video(self, prompt: str | None, model: str = DEFAULT_VIDEO_MODEL, **params: Any) -> APIResult:
        """Start a video generation task (``POST videos/generations``; always async)."""
        return self.send(calls.video(prompt, model, **params))

    def images(self, prompt: str, model: str = calls.DEFAULT_IMAGE_MODEL, **params: Any) -> APIResult:
        """Generate an image (``POST images/generations``, synchronous): ``["data"][0]["url"]``."""
        return self.send(calls.images(prompt, model, **params))

    def web_search(self, query: str, **params: Any) -> APIResult:
        """Search the web (``POST web_search``); the results are in ``["search_result"]``. The engine
        defaults to the one this API's region knows (``search-prime`` on api.z.ai)."""
        from .search import engine_for

        params.setdefault("search_engine", engine_for(self.base_url))
        return self.send(calls.web_search(query, **params))

    def request(
        self, method: str, path: str, json: Any = None, *, timeout: Timeout | None = None
    ) -> APIResult:
        """Any other JSON endpoint under the base URL, with the same retries and errors."""
        return self.send(Request(method, path, json), timeout=timeout)

    def download(
        self,
        url: str,
        path: str | os.PathLike[str],
        *,
        limit: int = MAX_DOWNLOAD,
        timeout: Timeout | None = None,
    ) -> int:
        """Save what an http(s) link holds (a video or cover URL of a task) to ``path``; the bytes
        written. No key is sent. Whole or nothing: read into a temporary file beside ``path``, under
        ``limit`` bytes and the deadline, then moved into place (an expired link is a NotFoundError)."""
        return save_url(self._transport, url, path, limit=limit, timeout=timeout)

    # sending a built request ----------------------------------------------------------------------
    def send(self, request: Request, *, timeout: Timeout | None = None) -> APIResult:
        """Send a JSON request (see :mod:`.calls`) and return its JSON answer."""
        if request.stream:
            raise ValueError("a streaming request goes through open_stream()")
        transport = self._transport
        end = transport.end_of(time.monotonic())
        response, attempts = transport.send(request, timeout=timeout, end=end)
        try:
            body = read_body(response, limit=self.max_body, end=end, deadline=transport.deadline)
        except GLMError as err:
            err.attempts = attempts
            raise transport.scrubbed(err) from None
        data = parse_json(body)
        if isinstance(data, dict) and not (data.get("error") and "choices" not in data and "id" not in data):
            result = APIResult(data)
            result.attempts = attempts
            return result
        err = transport.scrubbed(
            error_from_response(response.status_code, body, response.headers, transport.scrub)
        )
        err.attempts = attempts
        raise err

    def open_stream(
        self, request: Request, *, timeout: Timeout | None = None, into: Answer | None = None
    ) -> ChatStream:
        """Send a streaming request; ``into`` is the :class:`Answer` to accumulate into (default: a
        new one, ``stream.answer``)."""
        transport = self._transport
        end = transport.end_of(time.monotonic())
        response, attempts = transport.send(request, timeout=timeout, end=end)
        content_type = response.headers.get("Content-Type", "").lower()
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
        err: GLMError | None = None
        if content_type and "text/event-stream" not in content_type:
            err = self._not_a_stream(response, content_type, end)
        elif encoding != "identity":  # asked for identity: a compressed stream could be a bomb
            response.close()
            err = StreamError(
                f"the server compressed the event stream ({truncate(encoding, 40)}) although it was "
                "asked not to; not decoded"
            )
        if err is not None:
            err.attempts = attempts
            raise err
        model = (request.body or {}).get("model")
        return ChatStream(
            response,
            model=model,
            scrub=transport.scrub,
            attempts=attempts,
            into=into,
            end=end,
            deadline=transport.deadline,
        )

    def close(self) -> None:
        """Close pooled connections."""
        self._transport.close()

    def __enter__(self) -> GLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GLMClient(base_url={self.base_url!r}, key={'set' if self.has_key else 'not set'})"

    def _not_a_stream(self, response: Any, content_type: str, end: float | None) -> GLMError:
        """A 2xx answer to ``stream=True`` that is not SSE: a JSON error or a proxy's HTML page."""
        body = read_and_close(response, end=end)
        err = error_from_response(response.status_code, body, response.headers, self._transport.scrub)
        if err.code is None:
            shown = truncate(content_type, 80)
            err = StreamError(f"expected an event stream, got {shown}: {err.message}")
        return self._transport.scrubbed(err)


__all__ = ["APIResult", "ChatStream", "GLMClient"]
