"""What the panels share, without ipywidgets: a worker thread per action, a client or the reason why
there is none, and telling the local server apart.

Button callbacks run on the kernel's shell thread, and a second click (Stop!) is only seen when that
thread is free. So every action that talks HTTP runs on a worker thread and paints the widgets when
it is done; the click itself returns at once. Errors become one escaped line in the widget.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ...core.backend import default_client
from .html import one_line


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
            self._on_error(one_line(exc))


def client_or_error(client: Any) -> tuple[Any, str | None]:
    """``(client, None)``, or ``(None, one-line reason)`` when no client can be made (no key)."""
    if client is not None:
        return client, None

    try:
        return default_client(), None
    except Exception as exc:  # noqa: BLE001 - e.g. MissingKeyError: shown in the panel
        return None, one_line(exc)


def is_local(client: Any) -> bool:
    """Answers come from the built-in local server (not merely some server on loopback)."""
    from ...server import is_builtin

    return is_builtin(getattr(client, "base_url", None))
