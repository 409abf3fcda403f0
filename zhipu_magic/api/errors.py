"""One error tree for every failure, classified by business code first and HTTP status second.

Each error carries what a notebook user needs and nothing more: a one-line ``str`` with the code,
message, status and request id, a ``hint`` saying what to do, and ``partial`` (text received before
a stream failed). Headers, the request object and the raw response are never stored, so the API key
cannot travel inside an exception. ``_render_traceback_`` makes IPython show those one or two lines
instead of a page of library frames.
"""

from __future__ import annotations

import html
import http
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from . import codes
from .retry import parse_retry_after
from .text import truncate

MAX_TEXT = 300  # characters of a non-JSON body (an HTML proxy page) worth showing


class GLMError(Exception):
    """Root of every zhipu_magic error; catch this to catch them all."""

    default_hint = ""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | int | None = None,
        request_id: str | None = None,
        hint: str | None = None,
        partial: str = "",
    ) -> None:
        self.message = " ".join(str(message).split()) or type(self).__name__
        self.status = status
        self.code = None if code is None or code == "" else str(code)
        self.request_id = str(request_id) if isinstance(request_id, (str, int)) and request_id != "" else None
        row = codes.lookup(self.code)
        self.hint = hint if hint is not None else ((row.hint if row else "") or self.default_hint)
        self.partial = partial
        self.attempts = 0  # HTTP attempts of the call that failed (set by the transport)
        super().__init__(self.message)

    def __str__(self) -> str:
        head = f"[{self.code}] {self.message}" if self.code else self.message
        extra = []
        if self.status is not None:
            extra.append(f"HTTP {self.status}")
        if self.request_id:
            extra.append(f"request {self.request_id}")
        return f"{head} ({', '.join(extra)})" if extra else head

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.__dict__.copy()))

    def _render_traceback_(self) -> list[str]:
        """IPython calls this instead of printing the traceback: message, then what to do."""
        lines = [f"{type(self).__name__}: {self}"]
        if self.hint and self.hint not in lines[0]:
            lines.append(f"hint: {self.hint}")
        return lines


def _rebuild(cls: type[GLMError], state: dict[str, Any]) -> GLMError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message", ""))
    err.__dict__.update(state)
    return err


class AuthenticationError(GLMError):
    """401 / codes 1000-1005: the key is missing, wrong, expired or for another region."""

    default_hint = codes.KEY_HINT


class MissingKeyError(AuthenticationError):
    """No key anywhere; raised before anything is sent."""

    default_hint = "set ZHIPUAI_API_KEY (or ZAI_API_KEY), or pass api_key="


class InvalidKeyError(AuthenticationError):
    """The key cannot be sent (a character outside Latin-1, a control character); nothing sent."""

    default_hint = "copy the key again from the console, as plain text"


class BadRequestError(GLMError):
    """400 / codes 12xx: the request itself is wrong; retrying the same request cannot help."""

    default_hint = "check the model name and parameters"


class ContentFilterError(BadRequestError):
    """1301: the content filter flagged the input or output."""

    default_hint = "the content filter flagged this conversation; rephrase the prompt"

    def __init__(self, message: str, *, content_filter: list[Any] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.content_filter = list(content_filter or [])


class NotFoundError(GLMError):
    """404: unknown endpoint or task id."""

    default_hint = "check the task id or the endpoint path"


class RateLimitError(GLMError):
    """429 with a rate code (1302, 1303, 1305, 1312) or none: slow down."""

    default_hint = "too many requests right now; wait a little and try again, or use another model"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class QuotaError(GLMError):
    """Balance, quota or account state (1112, 1113, 1121, 1304, 1308-1313): waiting will not help."""

    default_hint = "your account or quota blocks this call; check the console at open.bigmodel.cn"


class ServerError(GLMError):
    """5xx / codes 500, 1234: the platform failed; usually transient."""

    default_hint = "the server failed; try again in a moment"


class APIConnectionError(GLMError):
    """No usable response: could not connect, or the connection dropped before a response."""

    default_hint = "check the network and the base URL (ZHIPUAI_BASE_URL)"


class APITimeoutError(APIConnectionError):
    """The server did not answer (or went silent) within the read timeout."""

    default_hint = "the server did not answer in time; try again or raise the timeout"


class DeadlineError(APITimeoutError):
    """The call ran past its overall deadline (a server trickling bytes never trips a read timeout)."""

    default_hint = "the server was too slow; try again, or raise the client's deadline"


class ResponseTooLargeError(GLMError):
    """A body, a decompressed body, a line or an event past its cap; reading stopped there."""

    default_hint = "the server sent far more than an answer needs; check the base URL or proxy"


class StreamError(GLMError):
    """A 200 stream carried an error frame, non-JSON data, or JSON that is not a chunk."""

    default_hint = "the stream broke; the text received so far is kept in the error's .partial"


class IncompleteStreamError(StreamError):
    """The stream ended (EOF or dropped connection) before ``[DONE]`` or a finish reason."""

    default_hint = "the answer was cut off; the partial text is kept, run it again for a full answer"


def error_class(status: int | None, code: str | None) -> type[GLMError]:
    """The class for a failed response: business code first, HTTP status second."""
    row = codes.lookup(code)
    if row is not None:
        if row.kind == codes.BAD_REQUEST and status == 404:
            return NotFoundError
        return _CLASS_OF_KIND[row.kind]
    if status is None:
        return GLMError
    if status in (401, 403):
        return AuthenticationError
    if status == 404:
        return NotFoundError
    if status == 408:
        return APITimeoutError
    if status == 429:
        return RateLimitError
    if 400 <= status < 500:
        return BadRequestError
    if status >= 500:
        return ServerError
    return GLMError


_CLASS_OF_KIND: dict[str, type[GLMError]] = {
    codes.AUTH: AuthenticationError,
    codes.BAD_REQUEST: BadRequestError,
    codes.CONTENT_FILTER: ContentFilterError,
    codes.RATE: RateLimitError,
    codes.QUOTA: QuotaError,
    codes.SERVER: ServerError,
}


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if str(key).lower() == name:
            return str(value)
    return None


def html_to_text(text: str, limit: int = MAX_TEXT) -> str:
    """A proxy's HTML page as one line of plain text, truncated: shown, never rendered."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text)
    text = re.sub(r"(?s)<[^>]*>", " ", text)
    return truncate(html.unescape(text), limit)


def describe_error(exc: BaseException | str, limit: int = 400) -> str:
    """Any error as one line: a ``GLMError``'s ``str`` already is one (``[code] message (HTTP n)``),
    other exceptions get their type name in front."""
    if isinstance(exc, str):
        text = exc
    elif isinstance(exc, GLMError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return truncate(text, limit)


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "error"


def parse_json(text: str | bytes) -> Any:
    """JSON, or ``None`` when it is not JSON or nested too deeply to parse (RecursionError)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _short_json(value: Any) -> str:
    """A non-string error message (a list, a number) as short text; never raises."""
    try:
        return json.dumps(value, ensure_ascii=False)[:2000]
    except (TypeError, ValueError, RecursionError):
        return type(value).__name__


def error_from_error_object(
    obj: Any,
    *,
    status: int | None = None,
    request_id: str | None = None,
    cls: type[GLMError] | None = None,
    content_filter: list[Any] | None = None,
    retry_after: float | None = None,
    partial: str = "",
    scrub: Callable[[str], str] = str,
) -> GLMError:
    """Build an error from the ``{"code", "message"}`` object the API nests under ``"error"``;
    ``scrub`` masks the key before anything is cut or stored."""
    if isinstance(obj, Mapping):
        code = obj.get("code")
        message = obj.get("message") or obj.get("msg") or ""
    else:
        code, message = None, obj or ""
    code = str(code) if isinstance(code, (str, int)) and code != "" else None
    message = scrub(message if isinstance(message, str) else _short_json(message))
    klass = cls or error_class(status, code)
    if not message:
        message = f"HTTP {status} {_reason(status)}" if status else "the server reported an error"
    kw: dict[str, Any] = {"status": status, "code": code, "request_id": request_id, "partial": partial}
    if issubclass(klass, ContentFilterError):
        kw["content_filter"] = content_filter if isinstance(content_filter, list) else None
    if issubclass(klass, RateLimitError):
        kw["retry_after"] = retry_after
    return klass(str(message), **kw)


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    scrub: Callable[[str], str] = str,
) -> GLMError:
    """The typed error for a non-2xx (or unusable) response; body shown as text when not JSON.
    ``scrub`` masks the key in the body before any of it is cut for display."""
    content_type = (_header(headers, "content-type") or "").lower()
    text = scrub(body.decode("utf-8", errors="replace")) if body else ""
    retry_after = parse_retry_after(headers) if status == 429 else None
    request_id = _header(headers, "x-request-id")
    data = parse_json(text) if text.strip()[:1] in ("{", "[") else None
    if isinstance(data, Mapping):
        request_id = _str(data.get("request_id")) or request_id
        err_obj = data.get("error")
        if err_obj is None and ("code" in data or "msg" in data or "message" in data):
            err_obj = data  # older flat shape {"code": ..., "msg": ...}
        if err_obj is not None:
            if isinstance(err_obj, Mapping):
                request_id = _str(err_obj.get("request_id")) or request_id
            return error_from_error_object(
                err_obj,
                status=status,
                request_id=request_id,
                content_filter=data.get("contentFilter") or data.get("content_filter"),
                retry_after=retry_after,
                scrub=scrub,
            )
    if "html" in content_type or text.lstrip()[:1] == "<":
        shown = html_to_text(text)
    else:
        shown = truncate(text, MAX_TEXT)
    message = f"HTTP {status} {_reason(status)}" + (f": {shown}" if shown else "")
    klass = error_class(status, None)
    kw: dict[str, Any] = {"status": status, "request_id": request_id}
    if issubclass(klass, RateLimitError):
        kw["retry_after"] = retry_after
    return klass(message, **kw)
