"""The render layer: pure HTML/text for cells and panels alike, and the one module that displays it.

- :mod:`.markdown`: untrusted model text -> safe HTML (markdown-it-py, raw HTML disabled, only
  http/https/mailto links, images as plain links, math kept verbatim and escaped for MathJax).
- :mod:`.bundles`: replies, messages, tables, JSON and conversations as ``{"text/html",
  "text/plain"}`` bundles (never ``text/markdown``: front ends render HTML inside it). Pure.
- :mod:`.panels`: the escaped HTML pieces of the task card and the widget panels. Pure.
- :mod:`.live`: the only caller of IPython's display machinery (``LiveDisplay``, ``show``,
  ``show_object``, ``is_rich_frontend``).

Model output is untrusted, and JupyterLab trusts output produced in the running session: that is why
the magics and the widgets never build HTML from model text themselves, but take it from here.
Nothing here imports ipywidgets or the widgets.

``is_rich_frontend`` is not copied into this package: reading ``render.is_rich_frontend`` gives
``live.is_rich_frontend``, and setting it (``monkeypatch.setattr(render, "is_rich_frontend", ...)``)
sets it in :mod:`.live`, where ``LiveDisplay`` and ``show`` look it up.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable

from . import live
from .bundles import (
    FINISH_NOTES,
    finish_note,
    footer_text,
    history_bundle,
    json_bundle,
    reply_bundle,
    reply_html,
    reply_text,
    status_text,
    table_bundle,
    text_bundle,
)
from .live import LiveDisplay, show, show_object
from .markdown import escape, safe_markdown_html


class _RenderPackage(types.ModuleType):
    """This package's module type: ``is_rich_frontend`` is a property that reads and writes
    ``live.is_rich_frontend`` (a ``types.ModuleType`` subclass as ``__class__`` is the documented way
    to customise module attributes). Being a data descriptor, it also makes ``monkeypatch`` save and
    restore the value through it rather than through the module's ``__dict__``."""

    @property
    def is_rich_frontend(self) -> Callable[..., bool]:
        return live.is_rich_frontend

    @is_rich_frontend.setter
    def is_rich_frontend(self, value: Callable[..., bool]) -> None:
        live.is_rich_frontend = value  # type: ignore[method-assign]


sys.modules[__name__].__class__ = _RenderPackage

__all__ = [
    "FINISH_NOTES",
    "LiveDisplay",
    "escape",
    "finish_note",
    "footer_text",
    "history_bundle",
    "is_rich_frontend",
    "json_bundle",
    "reply_bundle",
    "reply_html",
    "reply_text",
    "safe_markdown_html",
    "show",
    "show_object",
    "status_text",
    "table_bundle",
    "text_bundle",
]
