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
from importlib import import_module
from typing import Any

#: Where each public name lives; the submodule loads on first use, so ``%load_ext`` (whose
#: subcommands hold this package) does not pay for Markdown, bundles or the live display.
_HOME = {
    "FINISH_NOTES": "bundles",
    "finish_note": "bundles",
    "footer_text": "bundles",
    "provenance_metadata": "bundles",
    "history_bundle": "bundles",
    "json_bundle": "bundles",
    "reply_bundle": "bundles",
    "reply_html": "bundles",
    "reply_text": "bundles",
    "status_text": "bundles",
    "table_bundle": "bundles",
    "text_bundle": "bundles",
    "LiveDisplay": "live",
    "show": "live",
    "show_object": "live",
    "escape": "markdown",
    "safe_markdown_html": "markdown",
}


def _live() -> Any:
    return import_module(f"{__name__}.live")


class _RenderPackage(types.ModuleType):
    """This package's module type: public names load their submodule on first use, and
    ``is_rich_frontend`` is a property that reads and writes ``live.is_rich_frontend`` (a
    ``types.ModuleType`` subclass as ``__class__`` is the documented way to customise module
    attributes). Being a data descriptor, it also makes ``monkeypatch`` save and restore the value
    through it rather than through the module's ``__dict__``."""

    @property
    def is_rich_frontend(self) -> Callable[..., bool]:
        return _live().is_rich_frontend  # type: ignore[no-any-return]

    @is_rich_frontend.setter
    def is_rich_frontend(self, value: Callable[..., bool]) -> None:
        _live().is_rich_frontend = value

    def __getattr__(self, name: str) -> Any:
        home = _HOME.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(f"{__name__}.{home}"), name)
        setattr(self, name, value)
        return value

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *_HOME, "is_rich_frontend"})


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
    "provenance_metadata",
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
