"""``zhipu_magic.map`` with its live progress: the run itself is :func:`zhipu_magic.core.mapping.map_rows`;
this adds one output updated in place at most ten times a second (a line of text in terminal
IPython, nothing outside IPython) and a summary when it ends.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..core.mapping import MapResult, Progress
from ..core.mapping import map_rows as run_rows
from . import render
from .render.progress import progress_bundle, progress_text

MIN_INTERVAL = 0.1  # seconds between two updates of the display


class ProgressView:
    """One output for a run: shown at the first report, replaced in place after (``rich``), or one
    line rewritten with ``\\r`` (a terminal)."""

    def __init__(
        self, *, rich: bool, clock: Callable[[], float] = time.monotonic, stream: Any = None
    ) -> None:
        self.rich = rich
        self.display_id = uuid.uuid4().hex
        self.updates = 0  # outputs published: what the tests and the bench count
        self._clock = clock
        self._next = 0.0
        self._stream = stream
        self._shown = False

    def __call__(self, p: Progress) -> None:
        now = self._clock()
        if not p.finished and now < self._next:
            return
        self._next = now + MIN_INTERVAL
        self.updates += 1
        if not self.rich:
            out = self._stream or sys.stdout
            out.write("\r" + progress_text(p) + ("\n" if p.finished else ""))
            out.flush()
            return
        render.show(progress_bundle(p), display_id=self.display_id, update=self._shown)
        self._shown = True


def progress_view() -> ProgressView | None:
    """The view for the current shell: None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None:
        return None
    return ProgressView(rich=render.is_rich_frontend(shell))


def map_rows(prompt: str, data: Any, *, progress: bool = True, **kwargs: Any) -> Any:
    """Ask ``prompt`` for every row of ``data``: see :func:`zhipu_magic.core.mapping.map_rows` (the
    same arguments); ``progress=False`` shows nothing."""
    view = progress_view() if progress else None
    return run_rows(prompt, data, progress=view, **kwargs)


__all__ = ["MapResult", "ProgressView", "map_rows", "progress_view"]
