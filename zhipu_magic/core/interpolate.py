"""``{name}`` in a prompt -> the value of ``name`` in the user namespace. Nothing is evaluated.

Only three shapes are placeholders: a plain identifier ``{df}``, ``{In[3]}`` and ``{Out[3]}``.
Everything else in braces (code, JSON, dict comprehensions, LaTeX ``\\frac{a}{b}``, and
``{os.environ[...]}``) stays exactly as typed, and so does a placeholder whose name is not defined.
Braces that are TeX arguments (right after ``\\cmd``, ``^``, ``_`` or another such group) are never
placeholders, so ``\\frac{a}{b}`` stays even when ``a`` and ``b`` are defined. ``{{name}}`` gives a
literal ``{name}`` (the f-string escape); ``{{``/``}}`` elsewhere are left alone, so nested JSON such
as ``{"a": {"b": 1}}`` survives untouched.

Unlike ``str.format`` (the classic bug of other magics), attribute access and indexing never run, so
a prompt cannot pull a secret out of ``os.environ`` by accident.

A pandas/polars DataFrame or Series is described within a token budget (:mod:`.describe`);
``{df!full}`` sends it as capped CSV; ``{Err[-1]}`` is an error of the kernel when the caller puts
an ``Err`` mapping in the namespace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from .describe import describe_value

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_HISTORY = r"(?:In|Out|Err)\[-?\d+\]"
_FULL = r"(?:!full)?"  # {df!full}: a frame as CSV (core.describe)
_PATTERN = re.compile(
    r"\{\{((?:" + _NAME + "|" + _HISTORY + ")" + _FULL + r")\}\}"
    r"|\{(" + _NAME + "|" + _HISTORY + r")(!full)?\}"
)
_INDEX = re.compile(r"^(In|Out|Err)\[(-?\d+)\]$")
_TEX_BEFORE = re.compile(r"(?:\\[A-Za-z]+\*?|[\^_])$")  # \frac{..}, x^{..}, a_{..}
_MISSING = object()


def lookup(expr: str, namespace: Mapping[str, Any]) -> Any:
    """The value of a placeholder, or a sentinel when there is none (the text then stays)."""
    match = _INDEX.match(expr)
    if match is None:
        return namespace.get(expr, _MISSING)
    kind, index = match.group(1), int(match.group(2))
    store = namespace.get(kind)
    if store is None:
        return _MISSING
    try:
        value = store[index]
    except (IndexError, KeyError, TypeError):
        return _MISSING
    return value


def _is_tex_argument(text: str, start: int) -> bool:
    """Is the ``{`` at ``start`` a TeX argument: after ``\\cmd``/``^``/``_``, or after another one?"""
    for _ in range(8):  # \frac{a}{b}, \binom{n}{k}, ...: follow a short chain of groups back
        if _TEX_BEFORE.search(text, max(0, start - 32), start):
            return True
        if start == 0 or text[start - 1] != "}":
            return False
        depth, i = 0, start - 1
        while i >= max(0, start - 400):  # find the "{" that opens the group just before
            if text[i] == "}":
                depth += 1
            elif text[i] == "{":
                depth -= 1
                if depth == 0:
                    break
            i -= 1
        else:
            return False
        start = i
    return False


class Filled(NamedTuple):
    """A prompt after substitution, and what the user should hear about it."""

    text: str
    missing: list[str]  # placeholders whose name is not defined (sent as typed)
    cut: list[tuple[str, int]]  # (placeholder, full length) of values cut to the limit
    described: list[str] = []  # notes about frames described or cut (core.describe)


def fill(
    text: str, namespace: Mapping[str, Any], *, limit: int | None = None, budget: int | None = None
) -> Filled:
    """Replace ``{name}``, ``{In[n]}``, ``{Out[n]}`` with their values, each cut to ``limit``
    characters with a marker; see the module docstring."""
    missing: list[str] = []
    cut: list[tuple[str, int]] = []
    described: list[str] = []
    if "{" not in text:
        return Filled(text, missing, cut, described)

    def replace(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if escaped is not None:
            return "{" + escaped + "}"
        start = match.start()
        if start and _is_tex_argument(text, start):
            return match.group(0)  # a TeX argument such as \frac{a}{b} or x^{n}, not a placeholder
        value = lookup(match.group(2), namespace)
        if value is _MISSING:
            if match.group(0) not in missing:
                missing.append(match.group(0))
            return match.group(0)
        full, name = bool(match.group(3)), match.group(2)
        frame = describe_value(value, full=full, budget=budget, limit=limit, name=name)
        if frame is not None:
            described.extend([frame.note] if frame.note else [])
            return frame.text
        shown = value if isinstance(value, str) else str(value)
        if limit is not None and len(shown) > limit:
            cut.append((match.group(0), len(shown)))
            shown = shown[:limit] + f"\n[... cut: {len(shown) - limit:,} more characters]"
        return shown

    return Filled(_PATTERN.sub(replace, text), missing, cut, described)


def interpolate(text: str, namespace: Mapping[str, Any]) -> str:
    """:func:`fill` without a limit, for callers that only want the text."""
    return fill(text, namespace).text


def notes(filled: Filled, limit: int | None) -> list[str]:
    """One line for the undefined names and one per cut value, to show above the answer."""
    out = []
    if filled.missing:
        names = ", ".join(filled.missing[:5]) + (" ..." if len(filled.missing) > 5 else "")
        verb = "is" if len(filled.missing) == 1 else "are"
        out.append(f"note: {names} {verb} not defined, so sent as typed")
    for placeholder, length in filled.cut:
        out.append(
            f"note: {placeholder} is {length:,} characters (~{estimate_tokens(length):,} tokens): "
            f"sent its first {limit:,} (GLMMagics.value_limit)"
        )
    return out + list(filled.described)


def estimate_tokens(chars: int) -> int:
    """A rough token count for a text of ``chars`` characters (about four to a token)."""
    return (chars + 3) // 4
