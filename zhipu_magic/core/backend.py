"""Which API answers: the one place that turns the key and base-URL settings into a client.

A key -> the configured API (``ZHIPUAI_BASE_URL`` or the default host). No key and no base URL ->
the built-in local server, started on first use. A base URL but no key -> ``MissingKeyError``
before anything is sent. The magics and the widget panels share one :data:`backend`, so a key
entered with ``%glm login`` applies to both. Knows nothing of IPython.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from ..api.config import (
    BASE_URL_ENV_VAR,
    DEFAULT_DEADLINE,
    DEFAULT_TIMEOUT,
    KEY_ENV_VARS,
    Secret,
    redact_url,
    resolve_api_key,
)
from ..api.errors import MissingKeyError

if TYPE_CHECKING:  # the client (and requests) load on first use, not with %load_ext
    from ..api.client import GLMClient


class Backend:
    """The session key (``%glm login``), and one cached client per (base URL, key, timeout)."""

    def __init__(self) -> None:
        self.session_key: Secret | None = None
        self._client: GLMClient | None = None
        self._ident: tuple[str, Secret, float, float | None] | None = None
        self._lock = threading.Lock()

    def key(self) -> Secret | None:
        """The session key, else the environment's (``ZHIPUAI_API_KEY``, ``ZAI_API_KEY``)."""
        return self.session_key or resolve_api_key()

    def key_source(self) -> str:
        """Where the key comes from, for ``%glm config`` (never the key itself)."""
        if self.session_key:
            return "%glm login"
        return next((v for v in KEY_ENV_VARS if os.environ.get(v)), "")

    @staticmethod
    def base_url(override: str | None = None) -> str | None:
        """A configured base URL (a setting, else ``ZHIPUAI_BASE_URL``), or None for "not configured"."""
        value = override or os.environ.get(BASE_URL_ENV_VAR, "")
        return value.strip().rstrip("/") or None

    def client(
        self,
        base_url: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT[1],
        deadline: float | None = DEFAULT_DEADLINE,
    ) -> tuple[GLMClient, bool]:
        """``(client, local)``; ``local`` is True when the built-in server answers."""
        key, base, local = self.key(), self.base_url(base_url), False
        if key is None:
            if base is not None:
                where = redact_url(base)
                message = f"no API key for {where}: set ZHIPUAI_API_KEY or run %glm login; nothing was sent"
                raise MissingKeyError(message, hint="")
            from ..server import start_local_server

            base, key, local = start_local_server().base_url, Secret("local"), True
        from ..api.client import GLMClient

        ident = (base or "", key, timeout, deadline)
        with self._lock:
            if self._client is None or self._ident != ident:
                if self._client is not None:
                    self._client.close()
                self._client = GLMClient(
                    api_key=key, base_url=base, timeout=(DEFAULT_TIMEOUT[0], timeout), deadline=deadline
                )
                self._ident = ident
            return self._client, local

    def forget_key(self) -> None:
        """``%glm logout``: drop the session key (the next call picks the environment's, if any)."""
        self.session_key = None

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._client, self._ident = None, None


backend = Backend()


def local_server_url() -> str:
    """The base URL of this process's built-in local server, started if needed: stored local tasks
    name their video and cover files relative to it, since the server that made them may be gone."""
    from ..server import start_local_server

    return start_local_server().base_url


def default_client() -> GLMClient:
    """The client the magics and panels use when given none: the configured API with a key, else
    the built-in local server (so a key from ``%glm login`` applies everywhere)."""
    return backend.client()[0]
