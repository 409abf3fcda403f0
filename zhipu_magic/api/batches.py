"""Files and batch jobs on ``GLMClient`` (``zhipu_api.md`` §8.1): upload a JSONL file, create a batch
over it, follow it, cancel it, and read its output and error files.

:class:`BatchMethods` is mixed into :class:`~zhipu_magic.api.client.GLMClient`: the JSON calls are
built in :mod:`.calls` and sent like every other (retries, errors); the upload is the one multipart
request, sent once (a file upload is not retried: the server may already have it), with the key in
the header at send time, never in an error. :func:`jsonl` builds the input file's lines.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import requests
from requests.utils import get_environ_proxies

from . import calls
from .body import read_body
from .errors import APIConnectionError, GLMError, parse_json
from .transport import Timeout, as_timeout, within

if TYPE_CHECKING:
    from .transport import Transport

MAX_FILE = 512 * 1024 * 1024  # bytes of a downloaded file (the API allows 100 MB per input file)
UPLOAD_TIMEOUT = (10.0, 300.0)


def jsonl(bodies: Iterable[tuple[str, Mapping[str, Any]]], url: str = calls.BATCH_ENDPOINT) -> bytes:
    """The input file of a batch: one ``{"custom_id", "method", "url", "body"}`` line per request."""
    lines = (
        json.dumps({"custom_id": cid, "method": "POST", "url": url, "body": dict(body)}, ensure_ascii=False)
        for cid, body in bodies
    )
    return "".join(line + "\n" for line in lines).encode("utf-8")


class BatchMethods:
    """``upload_file``, ``file_content``, ``create_batch``, ``batch``, ``cancel_batch``, ``batches``."""

    _transport: Transport

    def send(self, request: calls.Request, *, timeout: Timeout | None = None) -> dict[str, Any]:
        raise NotImplementedError  # GLMClient's (an APIResult: a dict with .attempts)

    def create_batch(
        self, input_file_id: str, endpoint: str = calls.BATCH_ENDPOINT, **kw: Any
    ) -> dict[str, Any]:
        """Start a batch over an uploaded file (``metadata=``, ``auto_delete_input_file=``)."""
        return self.send(calls.create_batch(input_file_id, endpoint, **kw))

    def batch(self, batch_id: str) -> dict[str, Any]:
        """A batch's state: ``status`` (validating, in_progress, finalizing, completed, failed,
        expired, cancelling, cancelled), ``request_counts``, ``output_file_id``, ``error_file_id``."""
        return self.send(calls.batch(batch_id))

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        return self.send(calls.cancel_batch(batch_id))

    def batches(self, after: str | None = None, limit: int | None = None) -> dict[str, Any]:
        return self.send(calls.batches(after, limit))

    def upload_file(
        self,
        file: bytes | str | os.PathLike[str],
        purpose: str = "batch",
        *,
        filename: str | None = None,
        timeout: Timeout | None = None,
    ) -> FileObject:
        """``POST files`` (multipart): ``file`` is the bytes or a path; the file object back (``id``)."""
        if isinstance(file, bytes):
            content, name = file, filename or "batch.jsonl"
        else:
            with open(file, "rb") as f:
                content = f.read()
            name = filename or os.path.basename(os.fspath(file))
        return upload(self._transport, content, name, purpose, timeout)

    def file_content(self, file_id: str, *, limit: int = MAX_FILE, timeout: Timeout | None = None) -> bytes:
        """``GET files/{id}/content``: a file's bytes (a batch's output or error JSONL), at most ``limit``."""
        transport = self._transport
        end = transport.end_of(time.monotonic())
        response, attempts = transport.send(calls.file_content(file_id), timeout=timeout, end=end)
        try:
            return read_body(response, limit=limit, end=end, deadline=transport.deadline)
        except GLMError as err:
            err.attempts = attempts
            raise transport.scrubbed(err) from None


class FileObject(dict):  # type: ignore[type-arg]
    """The file object an upload answers (``id``, ``bytes``, ``filename``, ``purpose``...)."""

    attempts: int = 1


def upload(
    transport: Transport, content: bytes, name: str, purpose: str, timeout: Timeout | None
) -> FileObject:
    """One multipart POST under the base URL; the JSON answer or the API's error."""
    url = calls.Request("POST", "files").url(transport.base_url)
    limits = within(as_timeout(timeout, UPLOAD_TIMEOUT), transport.end_of(time.monotonic()))
    headers = {k: v for k, v in transport.headers(False).items() if k != "Accept-Encoding"}
    try:
        response = transport.session.post(
            url, files={"file": (name, content, "application/jsonl")}, data={"purpose": purpose},
            headers=headers, timeout=limits, proxies=get_environ_proxies(url), allow_redirects=False,
        )  # fmt: skip
    except requests.exceptions.RequestException as exc:
        raise APIConnectionError(transport.scrub(f"the upload failed: {type(exc).__name__}")) from None
    if response.status_code >= 300:
        raise transport.failed(response)
    data = parse_json(response.content)
    if not isinstance(data, dict):
        raise APIConnectionError("the upload was answered with something that is not a JSON object")
    return FileObject(data)
