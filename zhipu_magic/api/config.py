"""Settings and where they come from: argument > environment > default. Every default lives here.

The API key is wrapped in :class:`Secret` the moment it is read, so it cannot leak through a
``repr``, an f-string, a log record or a traceback by accident; only :meth:`Secret.reveal` gives it
back, and the client calls that exactly once per request, when it builds the header.
"""

from __future__ import annotations

import os
import pathlib
import urllib.parse

from .errors import InvalidKeyError

VERSION = "0.1.0"
DEFAULT_BASE_URL = "https://open.bigmodel.cn/api/paas/v4"
DEFAULT_MODEL = "glm-4-flash"
DEFAULT_VIDEO_MODEL = "cogvideox-flash"
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 300.0)  # (connect, read-idle) seconds
DEFAULT_MAX_RETRIES = 2
DEFAULT_RETRY_AFTER_CEILING = 60.0  # seconds; a server asking for longer gets an immediate error
DEFAULT_DEADLINE = 1800.0  # seconds a whole call may take (retries, a trickling body, a long stream)
MAX_BODY = 64 * 1024 * 1024  # decoded bytes of a JSON body (a gzip bomb stops here)
MAX_STREAM = 1024 * 1024 * 1024  # bytes of one event stream (a body that never ends stops here)

KEY_ENV_VARS = ("ZHIPUAI_API_KEY", "ZAI_API_KEY")
BASE_URL_ENV_VAR = "ZHIPUAI_BASE_URL"
HOME_ENV_VAR = "ZHIPU_MAGIC_HOME"


class Secret:
    """An API key that masks itself everywhere except :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        value = str(value)
        problem = key_problem(value)
        if problem is not None:
            value = ""  # no frame of the traceback keeps the key
            raise InvalidKeyError(problem)
        self._value = value

    def mask(self, text: str, shortest: int = 8) -> str:
        """``text`` with the key, and any run of its first or last ``shortest``+ characters (a key
        cut by a display limit is still a key), replaced by ``***``."""
        key = self._value
        if not key or not text:
            return text
        text = text.replace(key, "***")
        if len(key) <= shortest:
            return text
        return _mask_runs(_mask_runs(text, key, shortest), key[::-1], shortest, backwards=True)

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


def key_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as a Bearer key (a pasted smart quote, a control character),
    naming the position, never the key; None when it can."""
    for index, char in enumerate(value):
        code = ord(char)
        if code > 0xFF or code < 0x20 or code == 0x7F:
            shown = f" (U+{code:04X})" if code > 0x7F else ""
            return (
                f"the API key has a character that cannot be sent in an HTTP header at position "
                f"{index + 1} of {len(value)}{shown}; copy the key again as plain text"
            )
    return None


def _mask_runs(text: str, key: str, shortest: int, *, backwards: bool = False) -> str:
    """Mask every run of ``text`` that matches ``key`` from its start for ``shortest``+ chars."""
    if backwards:
        return _mask_runs(text[::-1], key, shortest)[::-1]
    head = key[:shortest]
    if head not in text:
        return text
    out, pos = [], 0
    while (start := text.find(head, pos)) >= 0:
        end = start + shortest
        while end < len(text) and end - start < len(key) and text[end] == key[end - start]:
            end += 1
        out += [text[pos:start], "***"]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def redact_url(url: str) -> str:
    """``url`` without credentials: ``http://user:pass@host/x`` -> ``http://***@host/x``; anything
    that does not parse is returned unchanged when it has no ``@``, else cut to its scheme."""
    text = str(url)
    if "@" not in text:
        return text
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return text.split("://", 1)[0] + "://***" if "://" in text else "***"
    if "@" not in parts.netloc:
        return text
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))


def strip_userinfo(url: str) -> str:
    """``url`` with any ``user:pass@`` removed: the client sends its Bearer key, never URL auth."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


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
    """Argument, else ``ZHIPUAI_BASE_URL``, else the mainland default; no trailing slash, and no
    ``user:pass@`` (never shown or stored, never sent instead of the Bearer key)."""
    for value in (explicit, os.environ.get(BASE_URL_ENV_VAR)):
        if value and value.strip():
            return strip_userinfo(value.strip().rstrip("/"))
    return DEFAULT_BASE_URL


def home_dir() -> pathlib.Path:
    """``ZHIPU_MAGIC_HOME`` or ``~/.zhipu_magic`` (not created here: callers decide)."""
    value = os.environ.get(HOME_ENV_VAR, "").strip()
    return pathlib.Path(value).expanduser() if value else pathlib.Path.home() / ".zhipu_magic"
