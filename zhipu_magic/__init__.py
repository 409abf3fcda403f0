"""zhipu_magic: Zhipu GLM models in Jupyter, streamed live, over a thin ``requests`` client.

Importing the package is cheap: the client, the errors and the magics load on first use, so
``%load_ext zhipu_magic`` does not pull in ipywidgets and ``GLMClient`` works without IPython.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "GLMClient": "client",
    "ChatStream": "client",
    "ZhipuAI": "compat",
    "LocalServer": "server",
    "GLMError": "errors",
    "AuthenticationError": "errors",
    "MissingKeyError": "errors",
    "BadRequestError": "errors",
    "ContentFilterError": "errors",
    "NotFoundError": "errors",
    "RateLimitError": "errors",
    "QuotaError": "errors",
    "ServerError": "errors",
    "APIConnectionError": "errors",
    "APITimeoutError": "errors",
    "StreamError": "errors",
    "IncompleteStreamError": "errors",
}

__all__ = [*_LAZY, "__version__", "load_ipython_extension", "unload_ipython_extension"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zhipu_magic' has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext zhipu_magic``."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Called by ``%unload_ext zhipu_magic`` (and ``%reload_ext``)."""
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)
