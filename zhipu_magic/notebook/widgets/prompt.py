"""The chat panel's input box, the package's one front-end widget.

Why a widget of our own: ipywidgets' text boxes report no keys but Enter, and Chrome fires no
keypress for Ctrl/Cmd+Enter, so no stock widget can send on the chord every notebook user types.
anywidget ships a prebuilt front end for JupyterLab 4 and Notebook 7, so this stays ~50 lines of
plain ES module (``prompt.js``) with no build step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets


class PromptBox(anywidget.AnyWidget):
    """A multi-line input that sends on Ctrl/Cmd+Enter or Shift+Enter; Enter adds a line."""

    _esm = Path(__file__).with_name("prompt.js")
    value = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._submit_handlers: list[Callable[[str], None]] = []
        self.on_msg(self._message)

    def on_submit(self, handler: Callable[[str], None]) -> None:
        """Call ``handler(text)`` when the user sends; the text is what the box held at the key press."""
        self._submit_handlers.append(handler)

    def submit(self, text: str | None = None) -> None:
        """What the front end does on Ctrl/Cmd+Enter: for scripts and tests."""
        self._message(self, {"event": "submit", "value": self.value if text is None else text}, [])

    def _message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("event") != "submit":
            return
        text = content.get("value")
        text = text if isinstance(text, str) else self.value
        for handler in self._submit_handlers:
            handler(text)
