"""The shape of each request, written once: what the client sends and what a dry run shows.

A :class:`Request` is plain data (method, path under the base URL, JSON body, whether it streams).
``GLMClient`` builds every call through these functions and sends the result, and ``%%glm
--dry-run`` shows the very same object, so the two cannot disagree.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import DEFAULT_MODEL, DEFAULT_VIDEO_MODEL
from .errors import BadRequestError
from .text import truncate

_TASK_ID = re.compile(r"[A-Za-z0-9_.~-]{1,200}")

Messages = str | Mapping[str, Any] | list[Any]


@dataclass(frozen=True)
class Request:
    """One API call before it is sent. ``path`` is relative to the base URL."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    stream: bool = False

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/{self.path.lstrip('/')}"


def as_messages(messages: Messages) -> list[Any]:
    """A plain string is one user message; a single dict is one message."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if isinstance(messages, Mapping):
        return [dict(messages)]
    return list(messages)


def clean(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop ``None`` values so callers can pass optional settings through unconditionally."""
    return {k: v for k, v in params.items() if v is not None}


def chat_body(messages: Messages, model: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of a chat call; ``stream`` is the caller's to set, ``None`` values are dropped."""
    rest = {k: v for k, v in params.items() if k != "stream"}
    return {"model": model, "messages": as_messages(messages), **clean(rest)}


def chat(messages: Messages, model: str = DEFAULT_MODEL, **params: Any) -> Request:
    """``POST chat/completions``: one complete answer."""
    return Request("POST", "chat/completions", chat_body(messages, model, params))


def stream(messages: Messages, model: str = DEFAULT_MODEL, **params: Any) -> Request:
    """``POST chat/completions`` with ``stream: true``: server-sent events."""
    return Request("POST", "chat/completions", {**chat_body(messages, model, params), "stream": True}, True)


def submit(messages: Messages, model: str = DEFAULT_MODEL, **params: Any) -> Request:
    """``POST async/chat/completions``: a background chat task."""
    return Request("POST", "async/chat/completions", chat_body(messages, model, params))


def video(prompt: str | None, model: str = DEFAULT_VIDEO_MODEL, **params: Any) -> Request:
    """``POST videos/generations``: a video task (always async)."""
    return Request("POST", "videos/generations", clean({"model": model, "prompt": prompt, **params}))


def web_search(query: str, **params: Any) -> Request:
    """``POST web_search``: the standalone search endpoint (``search_engine`` defaults to ``search_std``;
    the client picks its region's engine)."""
    body = {"search_engine": "search_std", "search_query": query, **params}
    return Request("POST", "web_search", clean(body))


def result(task_id: str) -> Request:
    """``GET async-result/{id}``: the state of a chat or video task. The id must be one safe path
    segment (``..`` would make it ``GET .../api/paas/v4/``): refused before anything is sent."""
    check_task_id(task_id)
    return Request("GET", f"async-result/{urllib.parse.quote(str(task_id), safe='')}")


def check_task_id(task_id: Any) -> str:
    """``task_id`` when it is one safe path segment (letters, digits, ``-_.~``, not only dots, at
    most 200 characters); else a one-line ``BadRequestError`` that shows the id only in part."""
    text = task_id if isinstance(task_id, str) else ""
    if _TASK_ID.fullmatch(text) and text.strip("."):
        return text
    shown = repr(truncate(str(task_id), 40)) if isinstance(task_id, str) else type(task_id).__name__
    raise BadRequestError(
        f"not a task id: {shown} (one path segment of letters, digits and -_.~ expected); nothing was sent",
        hint="use the id the submit call returned",
    )


def task(
    kind: str,
    prompt: str,
    *,
    model: str | None = None,
    messages: Messages | None = None,
    **params: Any,
) -> Request:
    """A background task of ``kind`` "chat" (``messages`` default to ``prompt``) or "video"."""
    if kind == "video":
        return video(prompt, model=model or DEFAULT_VIDEO_MODEL, **params)
    return submit(messages if messages is not None else prompt, model=model or DEFAULT_MODEL, **params)


def user_content(text: str, images: Sequence[str] = ()) -> str | list[dict[str, Any]]:
    """A user message's ``content``: the text alone, or a text part then one ``image_url`` part per
    image URL (``data:`` or http(s); see :func:`zhipu_magic.api.images.image_url`)."""
    if not images:
        return text
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    return parts + [{"type": "image_url", "image_url": {"url": url}} for url in images]


DEFAULT_IMAGE_MODEL = "cogview-3-flash"  # free CogView


def images(prompt: str, model: str = DEFAULT_IMAGE_MODEL, **params: Any) -> Request:
    """``POST images/generations``: a CogView image (synchronous; the answer holds its URL)."""
    return Request("POST", "images/generations", clean({"model": model, "prompt": prompt, **params}))


BATCH_ENDPOINT = "/v4/chat/completions"


def create_batch(
    input_file_id: str,
    endpoint: str = BATCH_ENDPOINT,
    *,
    metadata: Mapping[str, str] | None = None,
    auto_delete_input_file: bool | None = None,
) -> Request:
    """``POST batches``: run an uploaded JSONL file (``purpose="batch"``) as a batch job."""
    body = {"input_file_id": check_task_id(input_file_id), "endpoint": endpoint}
    extra = {
        "metadata": dict(metadata) if metadata else None,
        "auto_delete_input_file": auto_delete_input_file,
    }
    return Request("POST", "batches", {**body, **clean(extra)})


def batch(batch_id: str) -> Request:
    """``GET batches/{id}``: a batch's status and ``request_counts``."""
    return Request("GET", f"batches/{check_task_id(batch_id)}")


def cancel_batch(batch_id: str) -> Request:
    """``POST batches/{id}/cancel``."""
    return Request("POST", f"batches/{check_task_id(batch_id)}/cancel")


def batches(after: str | None = None, limit: int | None = None) -> Request:
    """``GET batches?after=&limit=``: the newest batches first."""
    query = urllib.parse.urlencode(clean({"after": after, "limit": limit}))
    return Request("GET", "batches" + (f"?{query}" if query else ""))


def file_content(file_id: str) -> Request:
    """``GET files/{id}/content``: a file's bytes (a batch's output or error JSONL)."""
    return Request("GET", f"files/{check_task_id(file_id)}/content")
