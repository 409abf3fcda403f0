"""Reading response bodies within bounds, for the client and the stream.

A JSON body is read in pieces of decoded bytes under a cap (a 1 MB gzip bomb would otherwise
become gigabytes) and the call's deadline (a server trickling one byte a second never trips the
per-read timeout). An event stream is read live: each read returns whatever bytes have arrived
(``read1``), so a body without chunked framing (``Connection: close``, HTTP/1.0-style proxies)
streams event by event instead of arriving whole at EOF.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from .errors import APIConnectionError, APITimeoutError, DeadlineError, GLMError, ResponseTooLargeError
from .wire import READ_ERRORS, errno_text, is_timeout

READ_SIZE = 64 * 1024  # bytes asked of one read; a read returns what has arrived, up to this


def read_body(response: requests.Response, *, limit: int, end: float | None, deadline: float | None) -> bytes:
    """The decoded body (closed here), or a ``GLMError``: past ``limit`` decoded bytes, past the
    monotonic ``end``, or a connection that broke while reading."""
    out = bytearray()
    failure: GLMError | None = None
    read1 = getattr(response.raw, "read1", None)
    if read1 is not None:  # what has arrived (a trickle still meets the deadline), decoded
        pieces = iter(lambda: read1(READ_SIZE, decode_content=True), b"")
    else:
        pieces = response.iter_content(READ_SIZE)
    try:
        for piece in pieces:
            out += piece
            if len(out) > limit:
                failure = too_large("the response body", limit)
                break
            if end is not None and time.monotonic() > end:
                failure = past_deadline(deadline, "while reading the response")
                break
    except READ_ERRORS as exc:
        cls = APITimeoutError if is_timeout(exc) else APIConnectionError
        failure = cls(f"the connection dropped while reading the response: {errno_text(exc)}")
    finally:
        response.close()
    if failure is not None:  # raised outside the except: no requests exception in the chain
        raise failure
    return bytes(out)


def live_reader(response: requests.Response) -> Callable[[], bytes]:
    """A function returning the next bytes of the body as soon as any have arrived (``b""`` at
    EOF). Reads go to ``http.client``'s ``read1`` under urllib3 where both are there (one call per
    read, not five), and through urllib3's own ``read1`` at EOF so the connection is released to
    the pool; elsewhere, requests' own chunk iterator."""
    raw = response.raw
    read1 = getattr(raw, "read1", None)
    fp = getattr(raw, "_fp", None)
    if read1 is None or fp is None:
        pieces = response.iter_content(chunk_size=None)
        return lambda: next(pieces, b"")
    # only without a Content-Length: urllib3 counts a length down itself, and checks it at EOF
    fast = getattr(fp, "read1", None) if getattr(raw, "length_remaining", 0) is None else None

    def read() -> bytes:
        if fast is not None and not fp.closed:
            data = fast(READ_SIZE)
            if data:
                return data
        return read1(READ_SIZE, decode_content=False) or b""  # EOF: urllib3 releases the connection

    return read


def too_large(what: str, limit: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(f"{what} is larger than {_size(limit)}; reading stopped there")


def past_deadline(deadline: float | None, doing: str) -> DeadlineError:
    return DeadlineError(f"the call ran past its {deadline or 0:g} s deadline {doing}")


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n} bytes"
