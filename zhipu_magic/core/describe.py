"""A DataFrame (or Series) in a prompt: a compact, faithful description within a token budget.

``{df}`` for a pandas DataFrame or Series (a polars one too) is not its ``str()`` (which hides the
middle rows and the dtypes) but: the shape, each column's dtype and null count, ``describe()`` of the
numeric columns and the first rows as a Markdown table, cut to fit ``budget`` tokens, with a line
saying what was cut. ``{df!full}`` is the frame as CSV, capped in characters, with a note.

Nothing here imports pandas or polars: a value is recognised by its class's module and name, and
only its own methods are called, so a notebook without pandas never loads it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

ROW_STEPS = (10, 5, 3, 1, 0)  # first rows shown, tried in this order until the text fits
CELL_WIDTH = 40  # characters of one table cell at most


class Described(NamedTuple):
    """The text sent for a value, and a note for the user when something was cut (else ``None``)."""

    text: str
    note: str | None


def frame_kind(value: Any) -> str | None:
    """``"pandas DataFrame"``, ``"pandas Series"``, ``"polars DataFrame"``... or ``None``."""
    cls = type(value)
    library = cls.__module__.split(".", 1)[0]
    if library in ("pandas", "polars") and cls.__name__ in ("DataFrame", "Series"):
        return f"{library} {cls.__name__}"
    return None


def estimate_tokens(chars: int) -> int:
    return (chars + 3) // 4


def describe(value: Any, budget: int, name: str = "value") -> Described:
    """A description of the frame ``value`` within ``budget`` tokens (about four characters each)."""
    kind = frame_kind(value) or type(value).__name__
    frame = _Frame(value, kind, name)
    limit = budget * 4
    cols = len(frame.columns)
    for shown_cols in _column_steps(cols):
        for rows in ROW_STEPS:
            for with_stats in (True, False):
                text = frame.text(rows, shown_cols, with_stats)
                if len(text) <= limit:
                    return _described(frame, text, rows, shown_cols, with_stats, name, budget)
    text = frame.text(0, 1, False)[: max(limit - 60, 0)] + "\n[... cut to the token budget]"
    return Described(
        text, f"note: {name} described in ~{budget:,} tokens: most of it cut (GLMMagics.frame_budget)"
    )


def _column_steps(cols: int) -> list[int]:
    steps, shown = [], cols
    while shown > 1:
        steps.append(shown)
        shown = max(1, shown // 2)
    return steps + [1]


def _described(frame: Any, text: str, rows: int, cols: int, stats: bool, name: str, budget: int) -> Described:
    cut = []
    if rows < min(frame.rows, ROW_STEPS[0]):
        cut.append(f"first {rows} rows only" if rows else "no rows shown")
    if cols < len(frame.columns):
        cut.append(f"{cols} of {len(frame.columns):,} columns")
    if not stats and frame.has_numeric:
        cut.append("no describe()")
    if not cut:
        return Described(text, None)
    what = ", ".join(cut)
    text += f"\n[cut to fit ~{budget:,} tokens: {what}]"
    return Described(text, f"note: {frame.kind}: {what} to fit ~{budget:,} tokens (GLMMagics.frame_budget)")


class _Frame:
    """What the description needs from a pandas or polars frame or series."""

    def __init__(self, value: Any, kind: str, name: str) -> None:
        self.value = value
        self.kind = f"{name} is a {kind}"
        self.polars = kind.startswith("polars")
        self.series = kind.endswith("Series")
        shape = tuple(value.shape)
        self.rows = int(shape[0])
        if self.series:
            self.columns = [str(getattr(value, "name", None) or "value")]
            self.dtypes = [str(value.dtype)]
        else:
            self.columns = [str(c) for c in value.columns]
            self.dtypes = [str(d) for d in value.dtypes]
        self.nulls = self._nulls()
        self.has_numeric = any(_is_numeric(d) for d in self.dtypes)

    def _nulls(self) -> list[int]:
        try:
            if self.polars:
                counts = self.value.null_count()
                return [int(counts)] if self.series else [int(counts[c][0]) for c in self.value.columns]
            counts = self.value.isna().sum()
            return [int(counts)] if self.series else [int(x) for x in counts.tolist()]
        except Exception:
            return [-1] * len(self.columns)

    def text(self, rows: int, cols: int, stats: bool) -> str:
        ncols = len(self.columns)
        shape = f"{self.rows:,} rows" if self.series else f"{self.rows:,} rows x {ncols:,} columns"
        parts = [f"{self.kind}: {shape}"]
        schema = [
            [c, d, "?" if n < 0 else f"{n:,}"]
            for c, d, n in zip(self.columns, self.dtypes, self.nulls, strict=False)
        ]
        parts.append("Columns (dtype, nulls):\n" + markdown(["column", "dtype", "nulls"], schema[:cols]))
        if cols < ncols:
            parts[-1] += f"\n... and {ncols - cols:,} more columns"
        if stats and self.has_numeric:
            summary = self._stats(cols)
            if summary:
                parts.append("describe() of the numeric columns:\n" + summary)
        if rows and self.rows:
            shown = min(rows, self.rows)
            parts.append(f"First {shown} rows:\n" + self._head(shown, cols))
        return "\n\n".join(parts)

    def _stats(self, cols: int) -> str:
        numeric = [c for c, d in zip(self.columns[:cols], self.dtypes[:cols], strict=False) if _is_numeric(d)]
        if not numeric:
            return ""
        try:
            if self.polars:
                table = self.value.describe() if self.series else self.value.select(numeric).describe()
                header = [str(c) for c in table.columns]
                return markdown(header, [[_cell(v) for v in row] for row in table.rows()])
            table = (
                self.value.describe()
                if self.series
                else self.value[_pandas_keys(self.value, numeric)].describe()
            )
            if self.series:
                return markdown(["stat", self.columns[0]], [[str(k), _cell(v)] for k, v in table.items()])
            body = [
                [str(stat), *(_cell(v) for v in row)]
                for stat, row in zip(table.index, table.values.tolist(), strict=False)
            ]
            return markdown(["stat", *numeric], body)
        except Exception:
            return ""

    def _head(self, rows: int, cols: int) -> str:
        head = self.value.head(rows)
        if self.polars:
            if self.series:
                return markdown([self.columns[0]], [[_cell(v)] for v in head.to_list()])
            return markdown(self.columns[:cols], [[_cell(v) for v in row[:cols]] for row in head.rows()])
        if self.series:
            return markdown(["", self.columns[0]], [[_cell(k), _cell(v)] for k, v in head.items()])
        body = [
            [_cell(row[0]), *(_cell(v) for v in row[1 : cols + 1])] for row in head.itertuples(index=True)
        ]
        return markdown(["", *self.columns[:cols]], body)


def _pandas_keys(frame: Any, names: list[str]) -> list[Any]:
    """The real column labels (ints, tuples...) whose ``str`` is among ``names``."""
    wanted = set(names)
    return [c for c in frame.columns if str(c) in wanted]


def _is_numeric(dtype: str) -> bool:
    low = dtype.lower()
    return low != "bool" and any(k in low for k in ("int", "float", "decimal", "complex"))


def _cell(value: Any) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    text = text.replace("\n", " ").replace("|", "\\|")
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 3] + "..."


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (cells already short and escaped, header cells escaped here)."""
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def full_csv(value: Any, limit: int, name: str = "value") -> Described:
    """``{df!full}``: the frame as CSV, at most ``limit`` characters (a note says how much was cut)."""
    kind = frame_kind(value) or type(value).__name__
    rows = int(tuple(value.shape)[0])
    head = value.head(limit // 2 + 2)  # a CSV row is at least two characters: enough to fill the cap
    text = head.write_csv() if kind.startswith("polars") else head.to_csv()
    if len(text) <= limit and len(head) == rows:
        return Described(text, None)
    sent = text[:limit]
    lines = sent.count("\n")
    text = (
        sent
        + f"\n[... cut: CSV capped at {limit:,} characters, about {max(lines - 1, 0):,} of {rows:,} rows]"
    )
    return Described(
        text,
        f"note: {name}!full is {rows:,} rows as CSV: sent its first {limit:,} characters"
        " (GLMMagics.value_limit)",
    )


DEFAULT_BUDGET = 2_000  # tokens of one described frame (GLMMagics.frame_budget)


def describe_value(
    value: Any, *, full: bool, budget: int | None, limit: int | None, name: str
) -> Described | None:
    """What :func:`~.interpolate.fill` sends for a frame (``{df}`` or ``{df!full}``), else ``None``."""
    if frame_kind(value) is None:
        return None
    try:
        if full:
            return full_csv(value, limit or 1_000_000, name)
        return describe(value, budget or DEFAULT_BUDGET, name)
    except Exception as err:  # a frame that misbehaves falls back to its str()
        return Described(
            str(value), f"note: {name} could not be described ({type(err).__name__}): sent as text"
        )
