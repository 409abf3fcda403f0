"""``ZhipuAI``: the vendor SDK's calling shape as a thin layer over :class:`GLMClient`.

Code written for ``from zhipuai import ZhipuAI`` runs with only the import swapped:
``client.chat.completions.create(...)`` (also ``stream=True``), ``client.chat.asyncCompletions``,
``client.videos``, ``client.web_search``, and the Batch API's ``client.files`` / ``client.batches``
(:mod:`.compat_batches`). Responses are :class:`~.objects.Obj`, a small attribute-access view over
the JSON dict (missing attributes are ``None``, like the SDK's lenient pydantic models), so nothing
here needs pydantic or httpx, and new fields the server adds show up without a code change.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any

from .client import ChatStream, GLMClient
from .compat_batches import Batches, Files
from .config import DEFAULT_MAX_RETRIES, DEFAULT_MODEL, DEFAULT_VIDEO_MODEL
from .objects import Obj

# Keyword arguments of the SDK that shape the HTTP call, not the JSON body.
_SDK_ONLY = ("extra_headers", "extra_query", "disable_strict_validation", "stream_options_unused")


_set = object.__setattr__
_owning = Obj.owning


class Stream:
    """Chunks of a streamed answer as :class:`Obj`; closes the connection like ``ChatStream``."""

    def __init__(self, stream: ChatStream) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[Obj]:
        new, name = Obj.__new__, "ChatCompletionChunk"
        for chunk in self._stream:  # the hot path: each chunk wrapped without a copy or a call
            obj = new(Obj)
            _set(obj, "_data", chunk)
            _set(obj, "_name", name)
            yield obj

    def __next__(self) -> Obj:
        return _owning(next(self._stream), "ChatCompletionChunk")

    @property
    def text(self) -> str:
        """Answer text received so far (also after a failure)."""
        return self._stream.text

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stream.__exit__(exc_type, exc, tb)


def _body(params: dict[str, Any]) -> dict[str, Any]:
    for name in _SDK_ONLY:
        params.pop(name, None)
    extra = params.pop("extra_body", None) or {}
    return {**params, **extra}


class _Completions:
    def __init__(self, client: GLMClient) -> None:
        self._client = client

    def create(
        self,
        *,
        model: str = DEFAULT_MODEL,
        messages: Any,
        stream: bool = False,
        timeout: Any = None,
        **params: Any,
    ) -> Obj | Stream:
        """``POST chat/completions``; with ``stream=True`` an iterator of chunks."""
        body = _body(params)
        if stream:
            return Stream(self._client.stream(messages, model=model, timeout=timeout, **body))
        return Obj(self._client.chat(messages, model=model, timeout=timeout, **body), "Completion")


class _AsyncCompletions:
    def __init__(self, client: GLMClient) -> None:
        self._client = client

    def create(self, *, model: str = DEFAULT_MODEL, messages: Any, **params: Any) -> Obj:
        """Start a background task; the answer's ``.id`` is the task id."""
        params.pop("timeout", None)
        return Obj(self._client.submit(messages, model=model, **_body(params)), "AsyncTaskStatus")

    def retrieve_completion_result(self, id: str, **_: Any) -> Obj:  # noqa: A002 - SDK name
        """Poll a task: ``.task_status`` is PROCESSING, SUCCESS or FAIL."""
        return Obj(self._client.result(id), "AsyncCompletion")


class _Chat:
    def __init__(self, client: GLMClient) -> None:
        self.completions = _Completions(client)
        self.asyncCompletions = _AsyncCompletions(client)  # the SDK's camelCase spelling


class _Videos:
    def __init__(self, client: GLMClient) -> None:
        self._client = client

    def generations(
        self, model: str = DEFAULT_VIDEO_MODEL, *, prompt: str | None = None, **params: Any
    ) -> Obj:
        """Start a video task (``POST videos/generations``)."""
        params.pop("timeout", None)
        return Obj(self._client.video(prompt, model=model, **_body(params)), "VideoObject")

    def retrieve_videos_result(self, id: str, **_: Any) -> Obj:  # noqa: A002 - SDK name
        """Poll a video task; on SUCCESS ``.video_result[0].url``."""
        return Obj(self._client.result(id), "VideoObject")


class _WebSearch:
    def __init__(self, client: GLMClient) -> None:
        self._client = client

    def web_search(self, *, search_query: str, search_engine: str = "search_std", **params: Any) -> Obj:
        """Search the web (``POST web_search``): ``.search_result[0].link``."""
        params.pop("timeout", None)
        found = self._client.web_search(search_query, search_engine=search_engine, **_body(params))
        return Obj(found, "WebSearchResp")


class ZhipuAI:
    """``ZhipuAI(api_key=...)`` with the SDK's resource layout, over one :class:`GLMClient`."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: Any = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        **_ignored: Any,  # http_client, custom_headers, disable_token_cache, source_channel...
    ) -> None:
        self._client = GLMClient(api_key, base_url, timeout=timeout, max_retries=max_retries)
        self.chat = _Chat(self._client)
        self.videos = _Videos(self._client)
        self.web_search = _WebSearch(self._client)
        self.files = Files(self._client)
        self.batches = Batches(self._client)

    @property
    def base_url(self) -> str:
        return self._client.base_url

    @property
    def client(self) -> GLMClient:
        """The underlying :class:`GLMClient` (the native API)."""
        return self._client

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ZhipuAI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ZhipuAI(base_url={self.base_url!r}, key={'set' if self._client.has_key else 'not set'})"


__all__ = ["Obj", "Stream", "ZhipuAI"]
