"""What reading from the socket can raise, and how to say it in one line (transport and stream)."""

from __future__ import annotations

import http.client
import re

import requests
import urllib3.exceptions

MAX_ERROR_BODY = 64 * 1024  # bytes of an error body worth reading (and of a stream's tail to drain)
# What reading a response body can raise once the request was sent.
READ_ERRORS = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
    http.client.HTTPException,
)


def errno_text(exc: BaseException) -> str:
    """The useful tail of a urllib3/requests message ('[Errno 111] Connection refused')."""
    text = str(exc)
    found = re.findall(r"\[Errno -?\d+\] [^'\")]+", text)
    if found:
        return found[-1].strip()
    for name in ("Read timed out", "Connection refused", "Connection reset", "Remote end closed"):
        if name.lower() in text.lower():
            return name
    return type(exc).__name__


def is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)):
        return True
    args = getattr(exc, "args", ())
    return bool(args) and isinstance(args[0], (urllib3.exceptions.ReadTimeoutError, TimeoutError))
