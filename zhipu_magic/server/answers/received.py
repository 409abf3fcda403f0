"""Answers about what was received: the local server has no model, so when a prompt carries data it
says what arrived instead of pretending to judge it.

- Images (a vision model): their count, format, pixel size and shape, and that it cannot see them.
- An error (``%glm fix``, ``{Err[-1]}``, a pasted traceback): :mod:`.fixes`.
- A table: a described DataFrame (``{df}``), any Markdown pipe table, CSV (``{df!full}``):
  the frame's name and shape, each column's dtype and nulls, min / mean / max of the numeric columns,
  the column with the most nulls, the first row (:mod:`.tables`).

Deterministic, in English with one short bilingual label and an emoji (the streaming tests want
multi-byte characters in every answer). :func:`received_answer` is called by :mod:`.context` first.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..images import image_bytes, image_size
from . import fixes
from . import tables as tb
from .recall import quote

OFFLINE = (
    "_Offline demo · 离线演示 🔌: read from what was sent; a real model (with a key) would interpret it._"
)


def received_answer(prompt: str, images: tuple[Any, ...] = ()) -> str | None:
    """The answer about the images, error or table(s) the prompt carries, else ``None``."""
    if images:
        return image_answer(prompt, images)
    error = fixes.error_in(prompt)
    if error is not None:
        return fixes.fix_answer(error)
    frame = tb.FRAME.search(prompt)
    tables = tb.pipe_tables(prompt)
    if frame and tables:
        return frame_answer(prompt, frame, tables)
    table = tables[0] if tables else tb.csv_table(prompt)
    if table is None:
        return None
    return table_answer(prompt, table, tables)


def _question(prompt: str, spans: list[tuple[int, int]] | None = None) -> str:
    """The words around the data (the lines of ``spans`` left out), as one quoted line."""
    kept = [ln for i, ln in enumerate(prompt.splitlines()) if not any(a <= i < b for a, b in spans or [])]
    text = " ".join(" ".join(kept).split())
    text = text.replace("(Answer with code: put it in a fenced code block.)", "").strip()
    return quote(text) if text else "(no question, only the data)"


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _inline(value: str) -> str:
    return f"`` {value} ``" if "`" in value else f"`{value}`"


def frame_answer(prompt: str, frame: re.Match[str], tables: list[tb.Table]) -> str:
    """A described frame (``{df}``): name, shape, columns, nulls, numeric ranges, first row."""
    titled = {t.title.split(" ", 1)[0].lower(): t for t in tables if t.title}
    schema, stats, head = titled.get("columns"), titled.get("describe()"), titled.get("first")
    name, kind = frame.group("name"), frame.group("kind")
    around = prompt[: frame.start()] + prompt[frame.end() :]  # the same lines, the frame's own words out
    rows = tb.int_of(frame.group("rows"))
    shape = f"{frame.group('rows')} rows" + (
        f" x {frame.group('cols')} columns" if frame.group("cols") else ""
    )
    parts = [
        f"## 📊 {_inline(name)}: a {kind}, {shape} · 收到了",
        f"The local demo server has no model behind it, so it does not answer "
        f"{_question(around, [t.lines for t in tables])} itself. Here is what it read in the "
        "description it was sent.",
    ]
    if schema is not None:
        parts.append(_columns(schema, rows))
    if stats is not None and (ranges := tb.stats_of(stats)):
        parts.append(_ranges("Numeric columns, from the `describe()` it received:", ranges))
    if head is not None and head.rows:
        shown = ", ".join(
            f"{k} = {_inline(v)}" for k, v in zip(head.header[1:], head.rows[0][1:], strict=False)
        )
        parts.append(
            f"**First row** (index {_inline(head.rows[0][0])}): {shown}; {len(head.rows)} rows shown."
        )
    notes = [n for t in tables for n in t.notes]
    if notes:
        parts.append("The description said: " + "; ".join(_inline(n) for n in notes))
    return "\n\n".join([*parts, OFFLINE])


def _columns(schema: tb.Table, rows: int | None) -> str:
    lines = []
    worst: tuple[str, int] | None = None
    for row in schema.rows:
        col, dtype, nulls = (row + ["", "", ""])[:3]
        count = tb.int_of(nulls)
        if count:
            share = f" ({100 * count / rows:.1f}% of the rows)" if rows else ""
            lines.append(f"- {_inline(col)}: {dtype}, **{nulls} null{'s' if count > 1 else ''}**{share}")
            worst = worst if worst and worst[1] >= count else (col, count)
        else:
            lines.append(f"- {_inline(col)}: {dtype}, {'no nulls' if count == 0 else f'nulls {nulls}'}")
    extra = [n for n in schema.notes if n.startswith("...")]
    most = f"Most nulls: {_inline(worst[0])} ({worst[1]:,})." if worst else "No column has nulls."
    return "**Columns** (dtype, nulls):\n\n" + "\n".join(lines + extra) + f"\n\n{most}"


def _ranges(title: str, ranges: list[tuple[str, Any, Any, Any]], facts_too: bool = True) -> str:
    head = f"{title}\n\n| column | min | mean | max |\n|---|---|---|---|\n"
    body = "\n".join(f"| {c} | {lo} | {mean} | {hi} |" for c, lo, mean, hi in ranges)
    spans = [(c, tb.number(str(lo)), tb.number(str(hi))) for c, lo, _, hi in ranges]
    known = [(c, lo, hi) for c, lo, hi in spans if lo is not None and hi is not None]
    facts = []
    if known and facts_too:
        wide = max(known, key=lambda x: x[2] - x[1])
        facts.append(f"widest range: {_inline(wide[0])} ({tb.fmt(wide[1])} to {tb.fmt(wide[2])})")
        constant = [c for c, lo, hi in known if lo == hi]
        if constant:
            facts.append("constant: " + ", ".join(_inline(c) for c in constant))
    return head + body + ("\n\n" + "; ".join(facts).capitalize() + "." if facts else "")


def table_answer(prompt: str, table: tb.Table, others: list[tb.Table]) -> str:
    """Any table (a Markdown pipe table or CSV): its size, columns, empty cells, numbers, first row."""
    spans = [t.lines for t in [table, *others]]
    count = len(others) or 1
    index = table.kind == "CSV" and table.header[0] == ""
    cols = len(table.header) - (1 if index else 0)
    kind = "a CSV table" if table.kind == "CSV" else "a Markdown table"
    what = f"{kind} of {_n(len(table.rows), 'row')} x {_n(cols, 'column')}"
    named = ", ".join(_inline(h) for h in table.header[(1 if index else 0) :])
    parts = [
        f"## 📊 Received {what} · 收到了表格",
        f"The local demo server has no model behind it, so it does not answer "
        f"{_question(prompt, spans)} itself. Here is what it counted in the table it was sent.",
        f"**Columns:** {named}" + (" (and an unnamed index column first)" if index else "") + ".",
    ]
    empties = tb.empty_counts(table)
    if empties:
        listed = ", ".join(f"{_inline(c)} {k:,}" for c, k in empties)
        parts.append(f"**Empty cells:** {listed}; most in {_inline(empties[0][0])}.")
    else:
        parts.append("**Empty cells:** none.")
    numeric = [
        (c, tb.fmt(lo), tb.fmt(mean), tb.fmt(hi)) for c, lo, mean, hi in tb.numeric_summary(table, index)
    ]
    if numeric:
        parts.append(
            _ranges(f"Numeric columns, computed from the {len(table.rows):,} rows received:", numeric)
        )
    if table.rows:
        pairs = zip(table.header, table.rows[0], strict=False)
        parts.append("**First row:** " + ", ".join(f"{k or 'index'} = {_inline(v)}" for k, v in pairs))
    if table.notes:
        parts.append("The data said: " + "; ".join(_inline(n) for n in table.notes))
    if count > 1:
        parts.append(f"({count} tables arrived; this is the first.)")
    return "\n\n".join([*parts, OFFLINE])


def _shape(width: int, height: int) -> str:
    g = math.gcd(width, height) or 1
    ratio = f"{width // g}:{height // g}" if width // g <= 50 else f"{width / height:.2f}:1"
    orient = "landscape" if width > height else "portrait" if height > width else "square"
    size = (
        "icon-sized"
        if max(width, height) <= 128
        else "chart-sized"
        if max(width, height) <= 1600
        else "large"
    )
    return f"{ratio}, {orient}, {size}"


def image_answer(prompt: str, parts: tuple[Any, ...]) -> str:
    """What the server can say about images beyond the line naming them (format, size, bytes: added
    by the plan): each one's shape, and that it cannot see their content."""
    lines = []
    for i, part in enumerate(parts, 1):
        inner = part.get("image_url") if isinstance(part, dict) else None
        url = inner.get("url") if isinstance(inner, dict) else inner
        try:
            data = image_bytes(url)
        except ValueError:
            lines.append(f"- Image {i}: unreadable.")
            continue
        info = image_size(data) if data is not None else None
        if data is None:
            lines.append(f"- Image {i}: a link, not fetched by the local server.")
        elif info is None:
            lines.append(f"- Image {i}: {len(data):,} bytes in a format it does not know.")
        else:
            lines.append(f"- Image {i}: {info[0]} {info[1]}x{info[2]}, {_shape(info[1], info[2])}.")
    n = len(parts)
    them = "they show" if n > 1 else "it shows"
    return (
        f"**{n} image{'s' if n > 1 else ''} received · 收到图片** 🖼️\n\n"
        + "\n".join(lines)
        + f"\n\nThe local demo server reads an image's header, not its pixels: it cannot say what {them}, "
        f"so it does not answer {_question(prompt)} itself. It does prove the "
        f"image{'s' if n > 1 else ''} reached a vision model intact.\n\n{OFFLINE}"
    )
