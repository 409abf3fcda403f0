"""zhipu_magic: Zhipu GLM models in Jupyter, streamed live, over a thin ``requests`` client.

Importing the package is cheap: the client, the errors and the magics load on first use, so
``%load_ext zhipu_magic`` does not pull in ipywidgets and ``GLMClient`` works without IPython.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .api.config import VERSION as __version__

_LAZY = {
    "GLMClient": "api.client",
    "ChatStream": "api.client",
    "ZhipuAI": "api.compat",
    "LocalServer": "server",
    "GLMError": "api.errors",
    "AuthenticationError": "api.errors",
    "MissingKeyError": "api.errors",
    "BadRequestError": "api.errors",
    "ContentFilterError": "api.errors",
    "NotFoundError": "api.errors",
    "RateLimitError": "api.errors",
    "QuotaError": "api.errors",
    "ServerError": "api.errors",
    "APIConnectionError": "api.errors",
    "APITimeoutError": "api.errors",
    "StreamError": "api.errors",
    "IncompleteStreamError": "api.errors",
    "default_client": "core.backend",
    "TaskStore": "core.tasks.store",
    "get_store": "core.tasks.store",
    "submit_task": "core.tasks.polling",
    "poll_task": "core.tasks.polling",
    "wait_for_task": "core.tasks.polling",
    "refresh": "core.tasks.polling",
    "arefresh": "core.tasks.polling",
    "run_sync": "core.tasks.polling",
    "log": "core.ledger.query",
    "run_tools": "api.tools",
    "tool": "api.tools",
    "chat_panel": "notebook.widgets",
    "task_panel": "notebook.widgets",
    "task_card": "notebook.widgets",
    "map": "notebook.map_view:map_rows",  # "module:attr": no module here defines a builtin's name
}

__all__ = [*_LAZY, "__version__", "load_ipython_extension", "unload_ipython_extension"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zhipu_magic' has no attribute {name!r}")
    module, _, attr = module.partition(":")
    value = getattr(import_module(f"{__name__}.{module}"), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext zhipu_magic``."""
    from .notebook.magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Called by ``%unload_ext zhipu_magic`` (and ``%reload_ext``)."""
    from .notebook.magics import unload_ipython_extension as _unload

    _unload(ipython)
