"""``Obj``: the attribute-access view over a JSON object that the ``ZhipuAI`` shape answers with
(``resp.choices[0].message.content``; missing attributes are ``None``, like the vendor SDK's lenient
pydantic models), so nothing needs pydantic, and new fields a server adds show up without a change.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

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
    "request_counts": "BatchRequestCounts",
    "errors": "BatchErrors",
}


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
        object.__setattr__(obj, "_data", data)
        object.__setattr__(obj, "_name", name)
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


__all__ = ["Obj"]
