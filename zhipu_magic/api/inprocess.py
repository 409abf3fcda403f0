"""Base URLs served by a ``LocalServer`` inside this process.

The server registers itself here when it starts and leaves when it stops, so the rest of the
package can tell "the built-in local server answered" (a footer's "local server") without
importing the server. Another server on loopback, such as a user's proxy, is not in this set.
"""

from __future__ import annotations

import threading

_urls: set[str] = set()
_lock = threading.Lock()


def register(base_url: str) -> None:
    with _lock:
        _urls.add(base_url.rstrip("/"))


def unregister(base_url: str) -> None:
    with _lock:
        _urls.discard(base_url.rstrip("/"))


def is_local(base_url: str | None) -> bool:
    """Whether ``base_url`` is a running ``LocalServer`` of this process."""
    return bool(base_url) and base_url.rstrip("/") in _urls
