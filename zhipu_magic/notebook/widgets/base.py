"""What the widgets share (no ipywidgets import here): a worker thread per action, a client or the
reason why there is none, telling the built-in local server apart, and the panels' status line.

Button callbacks run on the kernel's shell thread, and a second click (Stop!) is only seen when that
thread is free. So every action that talks HTTP runs on a worker thread and paints the widgets when
it is done; the click itself returns at once. Errors become one escaped line in the widget.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ...api import inprocess
from ...api.errors import describe_error
from ...core.backend import default_client
from ..render.panels import error_html, status_html


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


class TextRepr:
    """Mixin for a widget: its view plus a plain text (saved notebooks, nbconvert, terminals)."""

    def plain_text(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}  # type: ignore[misc]
        bundle["text/plain"] = self.plain_text()
        return bundle


class Panel(TextRepr):
    """Mixin for the panels: a ``status`` line, and a client made late if it could not be at first."""

    client: Any
    status: Any  # an ipywidgets.HTML

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
