"""``ZhipuAI().files`` and ``ZhipuAI().batches``: the vendor SDK's Batch API shapes over
:class:`~.client.GLMClient` (``zhipu_api.md`` §8.1), so SDK code for batch jobs runs unchanged:

- ``files.create(file=..., purpose="batch")`` (bytes, a path, an open binary file, or a
  ``(filename, content)`` tuple) -> ``FileObject``; ``files.list(purpose=, limit=, after=, order=)``
  -> ``ListOfFileObject`` (``.data``); ``files.content(id)`` -> :class:`FileContent` (``.content``,
  ``.text``, ``.json()``, ``.iter_lines()``, ``.write_to_file(path)``); ``files.delete(id)`` ->
  ``FileDeleted``.
- ``batches.create(input_file_id=, endpoint=, metadata=, auto_delete_input_file=)``,
  ``batches.retrieve(id)``, ``batches.cancel(id)`` -> ``Batch``; ``batches.list(after=, limit=)``
  -> a page (``.data``, ``.has_more``) whose iteration walks the following pages like the SDK's.

The SDK-only keywords (``extra_headers``, ``extra_body``, ``timeout``) are accepted and ignored, as
in :mod:`.compat`. Knowledge-base uploads (``upload_detail``, ``knowledge_id``) are refused in one line.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from . import calls
from .client import GLMClient
from .objects import Obj


class FileContent:
    """A downloaded file, shaped like the SDK's ``HttpxBinaryResponseContent``."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    @property
    def content(self) -> bytes:
        return self._content

    @property
    def text(self) -> str:
        return self._content.decode("utf-8", "replace")

    @property
    def encoding(self) -> str:
        return "utf-8"

    def read(self) -> bytes:
        return self._content

    def json(self, **kwargs: Any) -> Any:
        return json.loads(self._content, **kwargs)

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        size = chunk_size or len(self._content) or 1
        for start in range(0, len(self._content), size):
            yield self._content[start : start + size]

    def iter_text(self, chunk_size: int | None = None) -> Iterator[str]:
        yield from (chunk.decode("utf-8", "replace") for chunk in self.iter_bytes(chunk_size))

    def iter_lines(self) -> Iterator[str]:
        yield from self.text.splitlines()

    def write_to_file(self, file: str | os.PathLike[str]) -> None:
        """Write the bytes to ``file`` (the SDK's way to save a batch's output JSONL)."""
        with open(file, "wb") as out:
            out.write(self._content)

    stream_to_file = write_to_file

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<FileContent {len(self._content)} bytes>"


class Page(Obj):
    """A list answer: ``.data`` (each item a ``Batch`` / ``FileObject``), ``.has_more``; iterating
    it goes on to the next pages (``after`` = the last id), like the SDK's ``SyncCursorPage``."""

    __slots__ = ("_item", "_next")

    def __init__(
        self, data: Mapping[str, Any], name: str, item: str, next_page: Callable[[str], Page] | None = None
    ) -> None:
        super().__init__(data, name)
        object.__setattr__(self, "_item", item)
        object.__setattr__(self, "_next", next_page)

    @property
    def data(self) -> list[Any]:
        items = self._data.get("data")
        return [Obj(x, self._item) if isinstance(x, Mapping) else x for x in items or []]

    def __iter__(self) -> Iterator[Any]:
        page: Page = self
        while True:
            items = page.data
            yield from items
            last = items[-1].get("id") if items and isinstance(items[-1], Obj) else None
            if not page.has_more or not last or page._next is None:
                return
            page = page._next(str(last))


def _payload(file: Any) -> tuple[bytes | str | os.PathLike[str], str | None]:
    """The SDK's ``FileTypes`` (bytes, a path, an open binary file, ``(name, content[, type])``)
    as what ``GLMClient.upload_file`` takes: bytes or a path, and a file name."""
    if isinstance(file, tuple):
        name, content = file[0], file[1]
        content = content.read() if hasattr(content, "read") else content
        return content, None if name is None else os.path.basename(str(name))
    if hasattr(file, "read"):
        return file.read(), os.path.basename(str(getattr(file, "name", "") or "")) or None
    if isinstance(file, (bytes, str, os.PathLike)):
        return file, None
    raise TypeError(
        f"files.create: file must be bytes, a path or an open binary file, not {type(file).__name__}"
    )


class Files:
    """``client.files``: ``create``, ``list``, ``content``, ``delete``."""

    def __init__(self, client: GLMClient) -> None:
        self._client = client

    def create(
        self, *, file: Any = None, purpose: str, upload_detail: Any = None, knowledge_id: str | None = None,
        sentence_size: int | None = None, **_sdk: Any,
    ) -> Obj:  # fmt: skip
        """Upload a file (``POST files``, multipart): a batch's input JSONL with ``purpose="batch"``."""
        if upload_detail or knowledge_id or sentence_size:
            raise ValueError(
                "files.create: knowledge-base uploads (upload_detail, knowledge_id, sentence_size) are not "
                "supported here; upload the file itself with file=... and purpose=..."
            )
        if file is None:
            raise ValueError("files.create needs file=... (bytes, a path or an open binary file)")
        content, name = _payload(file)
        if isinstance(content, str) and not isinstance(file, str):
            content = content.encode("utf-8")  # a (name, text) tuple
        return Obj(self._client.upload_file(content, purpose, filename=name), "FileObject")

    def list(
        self, *, purpose: str | None = None, limit: int | None = None, after: str | None = None,
        order: str | None = None, **_sdk: Any,
    ) -> Page:  # fmt: skip
        """``GET files``: ``.data`` is the file objects."""
        query = urllib.parse.urlencode(calls.clean({"purpose": purpose, "limit": limit, "after": after,
                                                    "order": order}))  # fmt: skip
        found = self._client.request("GET", "files" + (f"?{query}" if query else ""))
        return Page(found, "ListOfFileObject", "FileObject")

    def content(self, file_id: str, **_sdk: Any) -> FileContent:
        """``GET files/{id}/content``: a batch's output or error file."""
        return FileContent(self._client.file_content(file_id))

    def delete(self, file_id: str, **_sdk: Any) -> Obj:
        """``DELETE files/{id}``."""
        deleted = self._client.request("DELETE", f"files/{calls.check_task_id(file_id)}")
        return Obj(deleted, "FileDeleted")


class Batches:
    """``client.batches``: ``create``, ``retrieve``, ``list``, ``cancel``."""

    def __init__(self, client: GLMClient) -> None:
        self._client = client

    def create(
        self, *, input_file_id: str, endpoint: str = calls.BATCH_ENDPOINT,
        completion_window: str | None = None, metadata: Mapping[str, str] | None = None,
        auto_delete_input_file: bool = True, **_sdk: Any,
    ) -> Obj:  # fmt: skip
        """Start a batch over an uploaded JSONL file (``POST batches``)."""
        request = calls.create_batch(
            input_file_id, endpoint, metadata=metadata, auto_delete_input_file=auto_delete_input_file
        )
        if completion_window is not None and request.body is not None:
            request.body["completion_window"] = completion_window
        return Obj(self._client.send(request), "Batch")

    def retrieve(self, batch_id: str, **_sdk: Any) -> Obj:
        """``GET batches/{id}``: ``.status``, ``.request_counts``, ``.output_file_id``..."""
        return Obj(self._client.batch(batch_id), "Batch")

    def list(self, *, after: str | None = None, limit: int | None = None, **_sdk: Any) -> Page:
        """``GET batches``: the newest first; iterating the page walks on through the next ones."""
        return Page(
            self._client.batches(after, limit), "SyncCursorPage[Batch]", "Batch",
            lambda last: self.list(after=last, limit=limit),
        )  # fmt: skip

    def cancel(self, batch_id: str, **_sdk: Any) -> Obj:
        """``POST batches/{id}/cancel``: ``cancelling``, then ``cancelled``."""
        return Obj(self._client.cancel_batch(batch_id), "Batch")


__all__ = ["Batches", "FileContent", "Files", "Page"]
