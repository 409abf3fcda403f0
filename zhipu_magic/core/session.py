"""Which notebook this kernel serves, as far as the front end tells it: for the call log and for
the task panel's "this notebook" filter (one answer for both)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


def notebook_path(namespace: Mapping[str, Any] | None = None) -> str | None:
    """The notebook's path: ``__session__`` (ipykernel puts it in the user namespace), else
    ``JPY_SESSION_NAME`` (Jupyter Server gives it to the kernel), else None."""
    path = (namespace or {}).get("__session__") or os.environ.get("JPY_SESSION_NAME")
    return str(path) if path else None


def notebook_key(namespace: Mapping[str, Any] | None = None) -> str:
    """The notebook's path, or this process where there is none (terminal IPython, nbclient)."""
    return notebook_path(namespace) or f"process {os.getpid()}"
