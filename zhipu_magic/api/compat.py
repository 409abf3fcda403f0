"""``ZhipuAI``: the vendor SDK's calling shape as a thin layer over :class:`GLMClient`.

Code written for ``from zhipuai import ZhipuAI`` runs with only the import swapped:
``client.chat.completions.create(...)`` (also ``stream=True``), ``client.chat.asyncCompletions``
and ``client.videos``. Responses are :class:`Obj`, a small attribute-access view over the JSON
dict (missing attributes are ``None``, like the SDK's lenient pydantic models), so nothing here
needs pydantic or httpx, and new fields the server adds show up without a code change.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any

from .client import ChatStream, GLMClient
from .config import DEFAULT_MAX_RETRIES, DEFAULT_MODEL, DEFAULT_VIDEO_MODEL

# Class-like names for nested keys, so ``print(response)`` reads like the SDK's models.
_NAMES = {
    "choices": "Choice",
    "message": "CompletionMessage",
    "delta": "ChoiceDelta",
    "usage": "CompletionUsage",
    "tool_calls": "ToolCall",
    "function": "Function",
    "video_result": "VideoResult",
    "image_result": "ImageResult",
    "web_search": "WebSearch",
    "content_filter": "ContentFilter",
    "data": "Data",
}
# Keyword arguments of the SDK that shape the HTTP call, not the JSON body.
_SDK_ONLY = ("extra_headers", "extra_query", "disable_strict_validation", "stream_options_unused")


def _wrap(value: Any, key: str = "") -> Any:
    if isinstance(value, Mapping):
        return Obj(value, _NAMES.get(key) or _camel(key))
    if isinstance(value, list):
        return [_wrap(item, key) for item in value]
    return value


def _camel(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_")) or "Object"


class Obj:
    """Attribute access over a JSON object: ``resp.choices[0].message.content``; missing -> None."""

    __slots__ = ("_data", "_name")

    def __init__(self, data: Mapping[str, Any] | None = None, name: str = "Object") -> None:
        object.__setattr__(self, "_data", dict(data or {}))
        object.__setattr__(self, "_name", name)

    @classmethod
    def owning(cls, data: dict[str, Any], name: str) -> Obj:
        """A view that takes ``data`` as its own, uncopied (a fresh stream chunk: the hot path)."""
        obj = cls.__new__(cls)
        _set(obj, "_data", data)
        _set(obj, "_name", name)
        return obj

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") or name in ("_data", "_name"):
            raise AttributeError(name)
        return _wrap(self._data.get(name), name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._data[name] = value.model_dump() if isinstance(value, Obj) else value

    def __reduce__(self) -> tuple[Any, ...]:
        return (Obj, (self._data, self._name))

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key], key)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        """Like ``dict.get``; handy when porting dict-based code."""
        return _wrap(self._data[key], key) if key in self._data else default

    def keys(self) -> list[str]:
        return list(self._data)

    def model_dump(self) -> dict[str, Any]:
        """A deep copy as plain dicts and lists (pydantic's name for it)."""
        return copy.deepcopy(self._data)

    to_dict = model_dump

    def model_dump_json(self, *, indent: int | None = None) -> str:
        """The object as JSON text."""
        return json.dumps(self._data, ensure_ascii=False, indent=indent)

    to_json = model_dump_json

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Obj):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={_wrap(v, k)!r}" for k, v in self._data.items())
        return f"{self._name}({fields})"

    def __dir__(self) -> list[str]:
        return sorted(set(self._data) | {"model_dump", "model_dump_json", "to_dict", "to_json", "get"})


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
