"""The kernel's errors as context: ``%glm fix [N]`` and ``{Err[-1]}`` / ``{Err[n]}``.

Each cell that raises is remembered (its number, source and exception) by the magics'
``post_run_cell`` callback; :func:`error_text` is what the model gets: the cell's source, the
exception, and the traceback trimmed of library frames (site-packages, the standard library,
IPython), within a character budget. Nothing is imported here that ``%load_ext`` would notice.
"""

from __future__ import annotations

import os
import sys
import weakref
from typing import Any, NamedTuple

BUDGET = 6_000  # characters of one error's text (source, exception, traceback)
MAX_FRAMES = 8  # user frames shown at most (the innermost ones)
_LOGS: weakref.WeakKeyDictionary[Any, dict[int, CellError]] = weakref.WeakKeyDictionary()
_LIBRARY = ("site-packages", "dist-packages", f"{os.sep}IPython{os.sep}", f"{os.sep}ipykernel{os.sep}")


class CellError(NamedTuple):
    """One failed cell: its number, its source as typed, the exception."""

    number: int
    source: str
    error: BaseException


def remember(shell: Any, result: Any) -> None:
    """``post_run_cell``: keep the cell's error (if it raised) under its execution count."""
    error = getattr(result, "error_in_exec", None)
    if error is None or shell is None or isinstance(error, KeyboardInterrupt):
        return
    info = getattr(result, "info", None)
    number = getattr(result, "execution_count", None) or 0
    log = _LOGS.setdefault(shell, {})
    log[int(number)] = CellError(int(number), str(getattr(info, "raw_cell", "") or ""), error)
    for old in sorted(log)[:-50]:  # the last 50 errors are plenty
        del log[old]


def find(shell: Any, index: int = -1) -> CellError | None:
    """Cell ``index``'s error (a cell number), or the last / second last... with ``-1``, ``-2``."""
    log = _LOGS.get(shell) or {}
    if index < 0:
        numbers = sorted(log)
        if len(numbers) >= -index:
            return log[numbers[index]]
        value = getattr(sys, "last_value", None) if index == -1 else None  # before %load_ext
        return CellError(0, "", value) if isinstance(value, BaseException) else None
    return log.get(index)


class Errors:
    """``Err`` for ``{Err[-1]}`` / ``{Err[n]}``: the text of an error, or KeyError."""

    def __init__(self, shell: Any, budget: int = BUDGET) -> None:
        self.shell, self.budget = shell, budget

    def __getitem__(self, index: int) -> str:
        found = find(self.shell, index)
        if found is None:
            raise KeyError(index)
        return error_text(found, self.budget)


def _is_library(filename: str) -> bool:
    if any(part in filename for part in _LIBRARY):
        return True
    stdlib = os.path.dirname(os.__file__)
    return filename.startswith(stdlib + os.sep)


def trimmed_traceback(error: BaseException) -> list[str]:
    """The traceback's user frames (innermost last), ``  File ..., line N, in f`` and the code line;
    one ``  ... (N library frames left out)`` line stands for each run of library frames."""
    import traceback  # only when an error is asked about

    lines: list[str] = []
    skipped = 0
    frames = traceback.extract_tb(error.__traceback__)
    for i, frame in enumerate(frames):
        if _is_library(frame.filename) and i != len(frames) - 1:  # the raising frame always shows
            skipped += 1
            continue
        if skipped:
            lines.append(f"  ... ({skipped} library frame{'s' if skipped > 1 else ''} left out)")
            skipped = 0
        name = frame.filename if not frame.filename.startswith("<") else "the cell"
        lines.append(f'  File "{name}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    return lines[-2 * MAX_FRAMES :]


def error_text(found: CellError, budget: int = BUDGET) -> str:
    """The failing cell's source, the exception and the trimmed traceback, within ``budget``."""
    exception = "".join(_exception_line(found.error)).strip()
    trace = "\n".join(trimmed_traceback(found.error))
    head = f"The cell In [{found.number}]" if found.number else "The cell"
    room = max(200, budget - len(exception) - len(trace) - 120)
    source = found.source.strip()
    if len(source) > room:
        source = source[:room] + f"\n# ... cut: {len(source) - room:,} more characters"
    parts = [f"{head}:\n```python\n{source}\n```"] if source else []
    parts.append(f"raised {exception}")
    if trace:
        parts.append("Traceback (most recent call last; library frames left out):\n" + trace)
    text = "\n\n".join(parts)
    return text if len(text) <= budget else text[: budget - 30] + "\n[... cut to the budget]"


def _exception_line(error: BaseException) -> list[str]:
    import traceback

    return traceback.format_exception_only(type(error), error)
