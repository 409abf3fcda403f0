"""The rows of a ``map``: a list of values, a list of dicts, a pandas Series or a DataFrame, each
turned into the namespace its prompt is filled from, and the answers turned back into the input's
shape (a list, or a Series with the same index).

pandas is never imported here: a pandas object is recognised by its type's module name, and only
its own methods are called. The template follows the ``%%glm`` brace rules
(:func:`~zhipu_magic.core.interpolate.fill`: plain names only, nothing evaluated); ``{}`` stands for
a plain value like ``{value}``. A template that names nothing gets the row after a blank line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..interpolate import fill

VALUE = "value"  # the name of a plain row's value in the template ({} is the same)


class Rows(NamedTuple):
    """What a run works on: one namespace per row, and what is needed to give the answers back."""

    spaces: list[Mapping[str, Any]]
    index: Any  # the pandas index (None for a list)
    name: str | None  # the Series' name


def is_pandas(data: Any, kind: str) -> bool:
    """Whether ``data`` is a pandas ``kind`` ("Series" / "DataFrame"), without importing pandas."""
    cls = type(data)
    return cls.__name__ == kind and cls.__module__.split(".")[0] == "pandas"


def rows_of(data: Any) -> Rows:
    """The rows of ``data``; ``TypeError`` for anything that is not a list-like of rows."""
    if is_pandas(data, "DataFrame"):
        columns = [str(c) for c in data.columns]
        spaces = [
            dict(zip(columns, values, strict=True)) for values in data.itertuples(index=False, name=None)
        ]
        return Rows(spaces, data.index, None)
    if is_pandas(data, "Series"):
        return Rows([{VALUE: v} for v in data.tolist()], data.index, data.name)
    if isinstance(data, (str, bytes, Mapping)) or not hasattr(data, "__iter__"):
        raise TypeError(f"map() takes a list, a pandas Series or a DataFrame, not {type(data).__name__}")
    items = list(data)
    spaces = [
        {str(k): v for k, v in item.items()} if isinstance(item, Mapping) else {VALUE: item} for item in items
    ]
    return Rows(spaces, None, None)


def prompt_for(template: str, space: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The prompt of one row and the placeholders it left as typed (names the row does not have)."""
    plain = set(space) == {VALUE}
    text = template.replace("{}", "{" + VALUE + "}") if plain else template
    filled = fill(text, space)
    if filled.text == text and not filled.missing and ("{" + VALUE + "}") not in text:
        return f"{template}\n\n{describe(space)}", []  # the template names nothing: add the row
    return filled.text, filled.missing


def describe(space: Mapping[str, Any]) -> str:
    """A row as text: a plain value as it is, a record as JSON."""
    if set(space) == {VALUE}:
        value = space[VALUE]
        return value if isinstance(value, str) else str(value)
    return json.dumps(dict(space), ensure_ascii=False, default=str)


def shaped(values: list[Any], rows: Rows, report: Any) -> Any:
    """The answers in the input's shape: the list itself, or a Series on the input's index (the
    report in ``.attrs["glm_map"]``)."""
    if rows.index is None:
        return values
    import pandas

    series = pandas.Series(list(values), index=rows.index, name=rows.name, dtype=object)
    series.attrs["glm_map"] = report
    return series
