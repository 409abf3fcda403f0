"""``zhipu_magic.map`` with its live progress: the run itself is :func:`zhipu_magic.core.mapping.map_rows`;
this adds one output updated in place at most ten times a second (a line of text in terminal
IPython, nothing outside IPython) and a summary when it ends.

In a kernel the live output is a small widget, the progress and a Stop button; when the run ends the
same output is replaced by the static progress (saved with the notebook, nothing to reopen) and the
widget is closed. Before the widget a note output is shown, hidden by CSS while the widget lives
(``render.panels.reopen_note_bundle``): a notebook saved mid-run whose kernel is gone shows it (how
to resume, the progress when saved) instead of a widget error; it is emptied when the run ends.

The kernel is busy running the map while Stop is clicked, so the click cannot wait for the shell
thread: :func:`watch_clicks` sees it where the kernel routes comm messages (its shell channel
thread) and sets an event the run checks every tick. A kernel without that route gets no button (an
interrupt still stops the run the same way).
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..core.mapping import MapResult, Progress
from ..core.mapping import map_rows as run_rows
from . import render
from .render.panels import gone_note_bundle, reopen_note_bundle
from .render.progress import progress_bundle, progress_html, progress_text, running_note

MIN_INTERVAL = 0.1  # seconds between two updates of the display
NOTE_INTERVAL = 1.0  # seconds between two updates of the note a notebook saved mid-run shows
CLICK = {"method": "custom", "content": {"event": "click"}}  # what a Button's view sends on a click


def watch_clicks(button: Any, on_click: Callable[[], None]) -> bool:
    """Call ``on_click`` (on the kernel's shell channel thread) as soon as ``button``'s click arrives,
    even while the shell thread is busy; the message is then handled as usual. False when the kernel
    routes comm messages no such way (ipykernel before 7.4, no kernel): the click waits for the shell.

    ipykernel 7.4 asks each comm, on its shell channel thread, which subshell a message goes to
    (``comm._reply_subshell_for(data, default)``); answering the same while noting a click is the
    one place a busy kernel lets us see it.
    """
    comm = getattr(button, "comm", None)
    route = getattr(comm, "_reply_subshell_for", None)
    if comm is None or route is None or not getattr(comm, "kernel", None):
        return False

    def routed(data: Any, default: Any) -> Any:
        if data == CLICK:
            try:
                on_click()
            except Exception:  # noqa: BLE001 - never break the kernel's message routing
                pass
        return route(data, default)

    comm._reply_subshell_for = routed
    return True


class StopControl:
    """The live widget: the progress (HTML, escaped) over a Stop button that sets ``event``."""

    def __init__(self, event: threading.Event) -> None:
        import ipywidgets as W

        self.event = event
        self.html = W.HTML()
        self.button = W.Button(
            description="Stop", button_style="danger", icon="stop",
            tooltip="Stop the run: rows in flight are not waited for, the partial result is returned",
            _dom_classes=("zm-map-stop",),
        )  # fmt: skip
        self.box = W.VBox([self.html, self.button], _dom_classes=("zm-map-live", "zm-live"))
        self.button.on_click(lambda _b: self.click())
        self.early = watch_clicks(self.button, self.click)

    def click(self) -> None:
        self.event.set()

    def paint(self, p: Progress) -> None:
        self.html.value = progress_html(p)
        if self.event.is_set() and not self.button.disabled:
            self.button.disabled, self.button.description = True, "Stopping…"

    def bundle(self, p: Progress) -> dict[str, Any]:
        return {**self.box._repr_mimebundle_(), "text/plain": progress_text(p)}

    def close(self) -> None:
        for widget in (self.html, self.button, self.box):
            widget.close()


class ProgressView:
    """One output for a run: shown at the first report, replaced in place after (``rich``), or one
    line rewritten with ``\\r`` (a terminal). ``stop_button``: while the run lasts the output is a
    widget with a Stop button that sets :attr:`stop_event` (pass it to ``map_rows(stop=...)``)."""

    def __init__(
        self,
        *,
        rich: bool,
        clock: Callable[[], float] = time.monotonic,
        stream: Any = None,
        stop_button: bool = False,
    ) -> None:
        self.rich = rich
        self.display_id = uuid.uuid4().hex
        self.note_id = uuid.uuid4().hex  # the note shown before the live widget
        self.updates = 0  # outputs published: what the tests and the bench count
        self.stop_event = threading.Event()
        self.control: StopControl | None = None
        self._stop_button = rich and stop_button
        self._clock = clock
        self._next = 0.0
        self._note_next = 0.0
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
        if not p.finished and not self._shown and self._stop_button:
            self.control = self._control()
        if self.control is not None:
            self._paint(p, now)
            return
        render.show(progress_bundle(p), display_id=self.display_id, update=self._shown)
        self._shown = True

    def _control(self) -> StopControl | None:
        control = StopControl(self.stop_event)
        if control.early:
            return control
        control.close()  # a click would only be seen after the run: no button then
        return None

    def _paint(self, p: Progress, now: float) -> None:
        control = self.control
        assert control is not None
        if p.finished:  # the live widget becomes the static progress, saved with the notebook
            render.show(progress_bundle(p), display_id=self.display_id, update=True)
            render.show(gone_note_bundle(), display_id=self.note_id, update=True)
            control.close()
            self.control = None
            return
        control.paint(p)
        if not self._shown or now >= self._note_next:  # the note right before the widget, then rarely
            self._note_next = now + NOTE_INTERVAL
            render.show(reopen_note_bundle(*running_note(p)), display_id=self.note_id, update=self._shown)
        if not self._shown:
            render.show(control.bundle(p), display_id=self.display_id)
            self._shown = True


def in_kernel(shell: Any) -> bool:
    """A shell served by a kernel that talks to a front end (comms, so widgets)."""
    return getattr(shell, "kernel", None) is not None


def progress_view(shell: Any = None) -> ProgressView | None:
    """The view for the current shell: None outside IPython; a Stop button in a kernel."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return None
        shell = get_ipython()
    if shell is None:
        return None
    rich = render.is_rich_frontend(shell)
    return ProgressView(rich=rich, stop_button=rich and in_kernel(shell))


def map_rows(prompt: str, data: Any, *, progress: bool = True, **kwargs: Any) -> Any:
    """Ask ``prompt`` for every row of ``data``: see :func:`zhipu_magic.core.mapping.map_rows` (the
    same arguments); ``progress=False`` shows nothing. In a notebook the progress has a Stop button:
    it returns the partial result, marked ``stopped``."""
    view = progress_view() if progress else None
    if view is not None:
        kwargs.setdefault("stop", view.stop_event)
    return run_rows(prompt, data, progress=view, **kwargs)


__all__ = ["MapResult", "ProgressView", "map_rows", "progress_view", "watch_clicks"]
