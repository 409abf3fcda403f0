"""Settings and where they come from: argument > environment > default. Every default lives here.

The API key is wrapped in :class:`Secret` the moment it is read, so it cannot leak through a
``repr``, an f-string, a log record or a traceback by accident; only :meth:`Secret.reveal` gives it
back, and the client calls that exactly once per request, when it builds the header.
"""

from __future__ import annotations

import os
import pathlib

VERSION = "0.1.0"
DEFAULT_BASE_URL = "https://open.bigmodel.cn/api/paas/v4"
DEFAULT_MODEL = "glm-4-flash"
DEFAULT_VIDEO_MODEL = "cogvideox-flash"
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 300.0)  # (connect, read-idle) seconds
DEFAULT_MAX_RETRIES = 2
DEFAULT_RETRY_AFTER_CEILING = 60.0  # seconds; a server asking for longer gets an immediate error

KEY_ENV_VARS = ("ZHIPUAI_API_KEY", "ZAI_API_KEY")
BASE_URL_ENV_VAR = "ZHIPUAI_BASE_URL"
HOME_ENV_VAR = "ZHIPU_MAGIC_HOME"


class Secret:
    """An API key that masks itself everywhere except :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        self._value = str(value)

    def reveal(self) -> str:
        """The real key; call only where the header is built."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> object:
        # Pickling would write the key somewhere we do not control (widget state, caches).
        raise TypeError("Secret cannot be pickled")


def resolve_api_key(explicit: str | Secret | None = None) -> Secret | None:
    """Argument, else ``ZHIPUAI_API_KEY``, else ``ZAI_API_KEY``; blank values count as unset."""
    if explicit is not None:
        secret = explicit if isinstance(explicit, Secret) else Secret(str(explicit).strip())
        if secret:
            return secret
    for name in KEY_ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return Secret(value)
    return None


def resolve_base_url(explicit: str | None = None) -> str:
    """Argument, else ``ZHIPUAI_BASE_URL``, else the mainland default; no trailing slash."""
    for value in (explicit, os.environ.get(BASE_URL_ENV_VAR)):
        if value and value.strip():
            return value.strip().rstrip("/")
    return DEFAULT_BASE_URL


def home_dir() -> pathlib.Path:
    """``ZHIPU_MAGIC_HOME`` or ``~/.zhipu_magic`` (not created here: callers decide)."""
    value = os.environ.get(HOME_ENV_VAR, "").strip()
    return pathlib.Path(value).expanduser() if value else pathlib.Path.home() / ".zhipu_magic"
