"""Saving what an http(s) link points at (a video or its cover) to a file, whole or not at all.

No key is ever sent with a download: the API's result links are signed CDN URLs that need none (nor
do the local server's), and the key must not travel to another host. Redirects are followed (no
key rides along). The body is read live, as it arrives, under a size cap and the call's deadline,
into a temporary file beside the target that replaces the target only once the body is whole; a
failure of any kind (an expired link, a dropped connection, the cap, an interrupt) leaves nothing.
"""

from __future__ import annotations

import os
import secrets
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

import requests
from requests.utils import get_environ_proxies

from .body import live_reader, past_deadline, too_large
from .config import VERSION, redact_url
from .errors import APIConnectionError, APITimeoutError, BadRequestError, GLMError, NotFoundError
from .text import truncate
from .transport import Timeout, Transport, as_timeout, ca_bundle, within
from .wire import READ_ERRORS, errno_text, is_timeout

MAX_DOWNLOAD = 512 * 1024 * 1024  # bytes of one downloaded file (a video is a few MB to a few hundred)
GONE = (403, 404, 410)  # what an expired signed link answers
HEADERS = {"User-Agent": f"zhipu-magic/{VERSION}", "Accept": "*/*", "Accept-Encoding": "identity"}
GONE_HINT = "result links expire: fetch the task's result again for a fresh link"


def save_url(
    transport: Transport, url: str, path: str | os.PathLike[str], *, limit: int, timeout: Timeout | None
) -> int:
    """Save ``url`` to ``path`` (parent folders made as needed); the number of bytes written, or a
    one-line ``GLMError`` with nothing written."""
    if urllib.parse.urlsplit(str(url)).scheme.lower() not in ("http", "https"):
        raise BadRequestError(
            f"only http(s) links can be downloaded, not {truncate(str(url), 60)!r}", hint=""
        )
    end = transport.end_of(time.monotonic())
    limits = within(as_timeout(timeout, transport.timeout), end)
    if limits is None:
        raise past_deadline(transport.deadline, "before the download started")
    try:
        response = _get(transport, url, limits)
        try:
            _check(transport, response, url, limit, end)
            with atomic_file(path) as out:
                return _copy(response, out, limit=limit, end=end, deadline=transport.deadline)
        finally:
            response.close()
    except GLMError as err:
        raise transport.scrubbed(err) from None


def _get(transport: Transport, url: str, limits: tuple[float, float]) -> requests.Response:
    failure: GLMError
    try:
        return transport.session.get(
            url,
            headers=HEADERS,  # no Authorization: see the module docstring
            timeout=limits,
            stream=True,
            allow_redirects=True,
            proxies=get_environ_proxies(url),
            verify=ca_bundle(),
        )
    except requests.exceptions.RequestException as exc:
        cls = APITimeoutError if is_timeout(exc) else APIConnectionError
        failure = cls(f"could not download {where(url)}: {errno_text(exc)}")
    raise failure  # outside the except: no requests exception in the chain


def _check(
    transport: Transport, response: requests.Response, url: str, limit: int, end: float | None
) -> None:
    """Raise for an answer that is not a whole, plain file we may write."""
    status = response.status_code
    if status in GONE:
        raise NotFoundError(
            f"the link has expired or the file is gone; nothing was saved ({where(url)})",
            status=status,
            hint=GONE_HINT,
        )
    if status >= 300:
        raise transport.failed(response, end)
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
    if encoding != "identity":  # asked for identity: a compressed body could be a bomb
        raise GLMError(
            f"the server compressed the file ({truncate(encoding, 40)}) although asked not to; not saved"
        )
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large(f"the file ({int(length):,} bytes)", limit)


def _copy(
    response: requests.Response, out: IO[bytes], *, limit: int, end: float | None, deadline: float | None
) -> int:
    read = live_reader(response)
    size = 0
    while True:
        failure: GLMError | None = None
        try:
            piece = read()
        except READ_ERRORS as exc:
            cls = APITimeoutError if is_timeout(exc) else APIConnectionError
            failure = cls(f"the connection dropped while downloading: {errno_text(exc)}; nothing was saved")
        if failure is not None:
            raise failure
        if not piece:
            return size
        size += len(piece)
        if size > limit:
            raise too_large("the file", limit)
        out.write(piece)
        if end is not None and time.monotonic() > end:
            raise past_deadline(deadline, "while downloading; nothing was saved")


@contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A new file beside ``path``, opened for writing, that replaces ``path`` when the block ends
    without an error and is removed otherwise (an interrupt too). A file system error is a one-line
    ``GLMError``."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise _write_error(target, exc) from None
    failure: GLMError | None = None
    done = False
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.replace(temp, target)
        done = True
    except OSError as exc:  # reading errors are GLMErrors by now: this is the disk
        failure = _write_error(target, exc)
    finally:
        if not done:
            with suppress(OSError):
                os.unlink(temp)
    if failure is not None:
        raise failure


def _write_error(target: Path, exc: OSError) -> GLMError:
    return GLMError(
        f"cannot write {target}: {exc.strerror or type(exc).__name__}; nothing was saved",
        hint="check the path, its permissions and the free space",
    )


def where(url: str) -> str:
    """A link as it may be shown: no credentials, no query (a signature), cut to one short line."""
    parts = urllib.parse.urlsplit(url)
    return truncate(redact_url(f"{parts.scheme}://{parts.netloc}{parts.path}"), 100)
