"""A Python function as a GLM function tool: the JSON schema from its signature, hints and docstring.

``function_tool(add)`` gives ``{"type": "function", "function": {"name", "description",
"parameters"}}``. Types understood: ``str``, ``int``, ``float``, ``bool``, ``list[X]`` / ``tuple``,
``dict``, ``Optional[X]`` / ``X | None``, ``Literal[...]``, ``Enum``, dataclasses and ``TypedDict``;
anything else is left unconstrained (``{}``) rather than refused. The description is the docstring's
summary; a parameter's description is its line under ``Args:`` / ``Parameters`` or ``:param name:``.
Standard library only.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean"}
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PARAM_LINE = re.compile(r"^\s*(?::param\s+)?\*{0,2}([A-Za-z_]\w*)\s*(?:\([^)]*\))?\s*:\s*(.+)$")
MAX_DEPTH = 6  # nested dataclasses / TypedDicts described before giving up on the detail


def tool_name(fn: Callable[..., Any]) -> str:
    """The name the model calls ``fn`` by (its ``__name__``, checked against the API's rule)."""
    name = getattr(fn, "__name__", "")
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} cannot be a tool name (1-64 letters, digits, _ or -)")
    return name


def function_tool(fn: Callable[..., Any]) -> dict[str, Any]:
    """The ``tools`` entry for ``fn``."""
    summary, described = parse_docstring(inspect.getdoc(fn) or "")
    return {
        "type": "function",
        "function": {
            "name": tool_name(fn),
            "description": summary or tool_name(fn),
            "parameters": parameters(fn, described),
        },
    }


def parameters(fn: Callable[..., Any], described: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON schema of ``fn``'s keyword-callable parameters (``*args`` / ``**kwargs`` skipped)."""
    described = described or {}
    try:
        hints = typing.get_type_hints(fn, include_extras=False)
    except Exception:  # an unresolvable forward reference: fall back to no hints
        hints = {}
    props: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            continue
        prop = type_schema(hints.get(name, Any))
        if name in described:
            prop = {**prop, "description": described[name]}
        if param.default is param.empty:
            required.append(name)
        elif param.default is None or isinstance(param.default, (str, int, float, bool)):
            prop = {**prop, "default": param.default}
        props[name] = prop
    return {"type": "object", "properties": props, "required": required}


def type_schema(hint: Any, depth: int = 0) -> dict[str, Any]:
    """The JSON schema of one type hint; ``{}`` (anything) for what it cannot describe."""
    if depth > MAX_DEPTH or hint is Any or hint is inspect.Parameter.empty:
        return {}
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    if hint is type(None):
        return {"type": "null"}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        kinds = {_SIMPLE.get(type(a)) for a in args}
        out: dict[str, Any] = {"enum": list(args)}
        return {"type": kinds.pop(), **out} if len(kinds) == 1 and None not in kinds else out
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return type_schema(rest[0], depth + 1)
        return {"anyOf": [type_schema(a, depth + 1) for a in rest]}
    if hint in (list, tuple, set, frozenset) or origin in (list, tuple, set, frozenset):
        return {"type": "array", "items": type_schema(args[0] if args else Any, depth + 1)}
    if hint is dict or origin is dict:
        return {"type": "object"}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [m.value for m in hint]}
    if dataclasses.is_dataclass(hint) or typing.is_typeddict(hint):
        return _record_schema(hint, depth)
    return {}


def _record_schema(hint: Any, depth: int) -> dict[str, Any]:
    """A dataclass or ``TypedDict`` as a nested object."""
    try:
        hints = typing.get_type_hints(hint)
    except Exception:
        hints = {}
    if dataclasses.is_dataclass(hint):
        fields = dataclasses.fields(hint)
        required = [
            f.name
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        names = [f.name for f in fields]
    else:
        names = list(hints)
        required = sorted(getattr(hint, "__required_keys__", names), key=names.index)
    props = {name: type_schema(hints.get(name, Any), depth + 1) for name in names}
    return {"type": "object", "properties": props, "required": required}


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """``(summary, {parameter: description})`` from a Google, NumPy or reST style docstring."""
    doc = inspect.cleandoc(doc)
    summary = doc.split("\n\n", 1)[0].strip().replace("\n", " ") if doc else ""
    if re.match(r"(Args|Arguments|Parameters|Params)\s*:?\s*$", summary.split("\n")[0]):
        summary = ""
    described: dict[str, str] = {}
    last = None
    for line in doc.splitlines()[1:]:
        match = _PARAM_LINE.match(line)
        if match and match.group(1) not in ("Args", "Returns", "Raises", "Example", "Examples"):
            last = match.group(1)
            described[last] = match.group(2).strip()
        elif last and line.startswith((" " * 8, "\t\t")) and line.strip():
            described[last] += " " + line.strip()  # a continuation line
        elif not line.strip():
            last = None
    return summary, described


__all__ = ["function_tool", "parameters", "parse_docstring", "tool_name", "type_schema"]
