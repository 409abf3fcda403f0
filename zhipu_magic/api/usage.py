"""Token counts as a server reports them, made trustworthy: ints only, so the footer and the usage
counters downstream never meet a string count, a list of details or a negative number."""

from __future__ import annotations

import math
from typing import Any


def _count(value: Any) -> int | None:
    """A token count as an int: ints, integral floats and digit strings; anything else None."""
    if type(value) is int:
        return value if value >= 0 else None
    if type(value) is float and math.isfinite(value) and value.is_integer() and value >= 0:
        return int(value)
    if type(value) is str and value.strip().isascii() and value.strip().isdigit() and len(value) < 20:
        return int(value)
    return None


def clean_usage(usage: Any) -> dict[str, Any] | None:
    """``usage`` with only int counts, and dicts of them (``completion_tokens_details``); other
    values are dropped. None when ``usage`` is not a dict at all."""
    if type(usage) is not dict:
        return None
    out: dict[str, Any] = {}
    for key, value in usage.items():
        if type(key) is not str:
            continue
        if type(value) is dict:
            inner = {k: n for k, v in value.items() if type(k) is str and (n := _count(v)) is not None}
            if inner or not value:
                out[key] = inner
        elif (n := _count(value)) is not None:
            out[key] = n
    return out
