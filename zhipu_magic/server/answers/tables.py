"""Tables in a prompt, read back: what the local server can honestly say about data it was sent.

- A Markdown pipe table (any: a header line, a ``|---|`` line, rows), with the line before it as its
  title when that line ends in a colon.
- CSV: a header line and comma rows with the same number of fields (``{df!full}``).
- The description ``{df}`` sends (``NAME is a pandas DataFrame: R rows x C columns``, the columns'
  dtypes and nulls, ``describe()`` of the numeric columns, the first rows): read as one frame.

Everything is computed from the text received, nothing is invented: counts, empty cells, and for
numeric columns the min / mean / max of the cells (or of the ``describe()`` table when one came).
:mod:`.received` words the answer.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field

_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
_PIPE = re.compile(r"(?<!\\)\|")
EMPTY = ("", "nan", "NaN", "None", "null", "NULL", "NaT", "<NA>", "NA")
FRAME = re.compile(
    r"(?P<name>[^\s`]+) is an? (?P<kind>(?:pandas|polars) (?:DataFrame|Series)): "
    r"(?P<rows>[\d,]+) rows(?: x (?P<cols>[\d,]+) columns)?"
)


@dataclass
class Table:
    """One table read from the prompt: its title (the line before it, if any), header and rows."""

    header: list[str]
    rows: list[list[str]]
    title: str = ""
    kind: str = "Markdown"  # or "CSV"
    lines: tuple[int, int] = (0, 0)  # the prompt's lines it spans (title included), end exclusive
    notes: list[str] = field(default_factory=list)  # "[cut ...]" lines that follow it

    def column(self, i: int) -> list[str]:
        return [row[i] if i < len(row) else "" for row in self.rows]


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [c.strip().replace("\\|", "|") for c in _PIPE.split(inner)]


def _title(lines: list[str], i: int) -> tuple[str, int]:
    """The non-blank line before line ``i`` when it ends with a colon (and where it is)."""
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j >= 0 and lines[j].rstrip().endswith(":") and "|" not in lines[j]:
        return lines[j].strip().rstrip(":"), j
    return "", i


def pipe_tables(text: str) -> list[Table]:
    """Every Markdown pipe table in ``text``, in order."""
    lines = text.splitlines()
    out: list[Table] = []
    i = 0
    while i + 1 < len(lines):
        if "|" in lines[i] and _SEP.match(lines[i + 1]) and "-" in lines[i + 1]:
            header = _cells(lines[i])
            end = i + 2
            while end < len(lines) and "|" in lines[end] and lines[end].strip():
                end += 1
            title, start = _title(lines, i)
            table = Table(header, [_cells(ln) for ln in lines[i + 2 : end]], title, "Markdown", (start, end))
            while end < len(lines) and lines[end].startswith(("[", "...")):
                table.notes.append(lines[end].strip())
                end += 1
            table.lines = (start, end)
            out.append(table)
            i = end
        else:
            i += 1
    return out


def _csv_fields(line: str) -> list[str] | None:
    if "," not in line or "|" in line or line.startswith(("```", "[")):
        return None
    try:
        return next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return None


def _looks_like_header(fields: list[str]) -> bool:
    named = [f for f in fields if f.strip()]
    return (
        len(named) >= max(1, len(fields) - 1)
        and all(len(f) <= 40 and not f.rstrip().endswith((".", "?", "!")) for f in fields)
        and len(set(named)) == len(named)
    )


def csv_table(text: str) -> Table | None:
    """The first CSV block: a header and at least two rows (one if the header starts with the unnamed
    index column ``to_csv`` writes), every line with the same number of fields."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        header = _csv_fields(lines[i])
        if header is None or not _looks_like_header(header):
            i += 1
            continue
        end = i + 1
        rows = []
        while end < len(lines) and (row := _csv_fields(lines[end])) is not None and len(row) == len(header):
            rows.append(row)
            end += 1
        if len(rows) >= 2 or (rows and header[0] == ""):
            notes = [lines[end].strip()] if end < len(lines) and lines[end].startswith("[") else []
            return Table(header, rows, "", "CSV", (i, end + len(notes)), notes)
        i = end
    return None


def number(cell: str) -> float | None:
    try:
        value = float(cell.replace(",", "").replace("_", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def fmt(value: float) -> str:
    """A number as short as it can honestly be (``49.995``, ``100``, ``1.2e+06``)."""
    return f"{value:,.0f}" if value == int(value) and abs(value) < 1e15 else f"{value:.6g}"


def numeric_summary(table: Table, skip_first: bool = False) -> list[tuple[str, float, float, float]]:
    """``(column, min, mean, max)`` of each column whose non-empty cells are all numbers."""
    out = []
    for i, name in enumerate(table.header):
        if skip_first and i == 0:
            continue
        values = [c for c in table.column(i) if c not in EMPTY]
        numbers = [number(c) for c in values]
        if values and all(n is not None for n in numbers):
            nums = [n for n in numbers if n is not None]
            out.append((name or "(index)", min(nums), sum(nums) / len(nums), max(nums)))
    return out


def empty_counts(table: Table) -> list[tuple[str, int]]:
    """``(column, empty cells)`` of the columns with any, most first."""
    counts = [(name, sum(c in EMPTY for c in table.column(i))) for i, name in enumerate(table.header)]
    return sorted(((n, k) for n, k in counts if k and n), key=lambda x: -x[1])


def stats_of(describe: Table) -> list[tuple[str, str, str, str]]:
    """``(column, min, mean, max)`` read from a ``describe()`` table (stats as rows)."""
    rows = {row[0]: row for row in describe.rows if row}
    if not {"min", "mean", "max"} <= rows.keys():
        return []
    return [
        (name, rows["min"][i], rows["mean"][i], rows["max"][i])
        for i, name in enumerate(describe.header)
        if i and i < min(len(rows["min"]), len(rows["mean"]), len(rows["max"]))
    ]


def int_of(text: str | None) -> int | None:
    try:
        return int((text or "").replace(",", ""))
    except ValueError:
        return None
