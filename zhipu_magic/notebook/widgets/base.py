"""What the widgets share (no ipywidgets import here): a worker thread per action, a client or the
reason why there is none, telling the built-in local server apart, and the panels' status line.

Button callbacks run on the kernel's shell thread, and a second click (Stop!) is only seen when that
thread is free. So every action that talks HTTP runs on a worker thread and paints the widgets when
it is done; the click itself returns at once. Errors become one escaped line in the widget.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from ...api import inprocess
from ...api.errors import describe_error
from ...core.backend import default_client
from .. import render
from ..render.panels import error_html, reopen_note_bundle, status_html


def close_children(widget: Any) -> None:
    """Close every widget inside ``widget`` (not itself): closing a box leaves its children alive in
    the kernel, and in the widget state a saved notebook may embed, for the rest of the session."""
    for child in list(getattr(widget, "children", ()) or ()):
        close_children(child)
        child.close()


class Background:
    """Runs one action at a time off the shell thread; its error lands in ``on_error`` as one line."""

    def __init__(self, on_error: Callable[[str], None]) -> None:
        self._thread: threading.Thread | None = None
        self._on_error = on_error

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, fn: Callable[[], None], *, wait: bool = False) -> bool:
        """Start ``fn`` unless an action is already running; ``wait`` joins it (tests, scripts)."""
        if self.busy:
            return False
        self._thread = threading.Thread(target=self._guard, args=(fn,), name="glm-widget", daemon=True)
        self._thread.start()
        if wait:
            self.join()
        return True

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _guard(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - shown in the widget, never a lost traceback
            self._on_error(describe_error(exc))


def client_or_error(client: Any) -> tuple[Any, str | None]:
    """``(client, None)``, or ``(None, one-line reason)`` when no client can be made (no key)."""
    if client is not None:
        return client, None

    try:
        return default_client(), None  # looked up here at call time: tests patch base.default_client
    except Exception as exc:  # noqa: BLE001 - e.g. MissingKeyError: shown in the panel
        return None, describe_error(exc)


def is_local(client: Any) -> bool:
    """Answers come from the built-in local server (not merely some server on loopback)."""
    return inprocess.is_local(getattr(client, "base_url", None))


def reachable(url: str, timeout: float = 2.0) -> bool:
    """Whether a video link still answers (a local server's old port, an expired CDN link do not).

    One ranged GET of one byte, so servers that refuse HEAD are judged fairly; any HTTP status below
    400 counts as reachable.
    """
    import requests

    try:
        with requests.get(url, headers={"Range": "bytes=0-0"}, timeout=timeout, stream=True) as resp:
            return resp.status_code < 400
    except requests.RequestException:
        return False


class TextRepr:
    """Mixin for a widget: its view plus a plain text (saved notebooks, nbconvert, terminals), and
    the note output displayed with it, which is what a saved notebook shows once the kernel is gone
    (see ``render.panels.reopen_note_bundle``)."""

    def plain_text(self) -> str:
        raise NotImplementedError

    def reopen_note(self) -> dict[str, str]:
        """The bundle shown beside the widget (a one-line note; the card: a static snapshot)."""
        return reopen_note_bundle(self.plain_text())

    def display_bundles(self) -> list[dict[str, Any]]:
        """What displaying the widget publishes: the note first, then the widget's view."""
        return [self.reopen_note(), self._repr_mimebundle_()]

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}  # type: ignore[misc]
        bundle["text/plain"] = self.plain_text()
        return bundle

    def _ipython_display_(self) -> None:
        """``display(widget)`` (``render.show_object``) publishes the note and the view, both raw."""
        for bundle in self.display_bundles():
            render.show(bundle)


class Backoff:
    """Calls ``step(owner)`` on a daemon thread after 1 s, 2 s, 4 s, 8 s, then every 10 s, until it
    returns True, :meth:`stop` is called, or ``owner`` is garbage-collected (held by a weak
    reference only). The kernel's shell thread is never blocked."""

    def __init__(
        self, owner: Any, step: Callable[[Any], bool], *, start: float = 1.0, maximum: float = 10.0
    ) -> None:
        self._owner = weakref.ref(owner)
        self._step, self.start_delay, self.maximum = step, start, maximum
        self._stop = threading.Event()
        self.delays: list[float] = []  # the waits so far (tests, and a record of what it did)
        self._thread = threading.Thread(target=self._run, name="glm-card-poll", daemon=True)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> Backoff:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = self.start_delay
        while True:
            self.delays.append(delay)
            if self._stop.wait(delay):
                return
            owner = self._owner()
            if owner is None:
                return
            try:
                if self._step(owner):
                    return
            except Exception:  # noqa: BLE001 - the step shows its own errors; keep polling
                pass
            del owner
            delay = min(delay * 2, self.maximum)


class Panel(TextRepr):
    """Mixin for the panels: a ``status`` line, and a client made late if it could not be at first."""

    client: Any
    status: Any  # an ipywidgets.HTML

    def reopen_note(self) -> dict[str, str]:
        """Beside the panel: what it was, and that running the cell brings it back."""
        return reopen_note_bundle(f"{self.plain_text()} \u00b7 run this cell to reopen the panel")

    def _need_client(self) -> bool:
        """Make the client now if it could not be made before (e.g. ``%glm login`` since)."""
        if self.client is None:
            self.client, problem = client_or_error(None)
            if problem:
                self._show_error(problem)
        return self.client is not None

    def _say(self, message: str) -> None:
        self.status.value = status_html(message)

    def _show_error(self, message: str) -> None:
        self.status.value = error_html(message)
