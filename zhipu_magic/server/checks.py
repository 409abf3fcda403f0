"""The local server's request checks: authentication (key or SDK-style JWT), the model, the chat body.

Each check raises :class:`Fail`, the API error the handler sends as ``{"error": {...}}``; the codes
and messages follow the real API (see :mod:`zhipu_magic.server`). Pure: no sockets, no server state.
Standard library only (plus the model table of :mod:`zhipu_magic.api.models`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from ..api.models import ModelInfo, get_model
from .images import check_parts

_ROLES = {"system", "user", "assistant", "tool", "function", "observation"}


class Fail(Exception):
    """An API error to send as ``{"error": {...}}``; raised anywhere in request handling."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers: dict[str, str] = extra.pop("headers", {})
        self.html: bytes | None = extra.pop("html", None)  # a proxy's page instead of JSON
        self.extra = extra


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_auth(authorization: str | None, key: str | None) -> None:
    """Accept the configured key as a bearer token (or an SDK-style JWT made from it); any token when
    the server has no key. Raises :class:`Fail` (401) otherwise."""
    header = (authorization or "").strip()
    token = header[7:].strip() if header[:7].lower() == "bearer " else header
    if not token or token.lower() == "bearer":
        raise Fail(401, "1001", "The Authorization header is missing; send 'Authorization: Bearer <key>'.")
    if key is None or hmac.compare_digest(token.encode(), key.encode()):
        return
    if token.count(".") == 2:
        _check_jwt(token, key)
        return
    raise Fail(401, "1000", "Authentication failed: the API key is not valid.")


def _check_jwt(token: str, key: str) -> None:
    """Verify an SDK-style HS256 JWT (``exp`` in milliseconds) against the configured ``id.secret``."""
    kid, _, secret = key.partition(".")
    try:
        h64, p64, s64 = token.split(".")
        pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
        payload = json.loads(base64.urlsafe_b64decode(pad(p64)))
        sig = base64.urlsafe_b64decode(pad(s64))
    except ValueError:
        raise Fail(401, "1002", "Invalid token.")
    good = hmac.new(secret.encode(), f"{h64}.{p64}".encode(), hashlib.sha256).digest()
    if not isinstance(payload, dict) or payload.get("api_key") != kid or not hmac.compare_digest(sig, good):
        raise Fail(401, "1002", "Invalid token.")
    exp = payload.get("exp")
    if not _is_number(exp) or exp < time.time() * 1000:
        raise Fail(401, "1003", "Token expired.")


def check_model(body: dict[str, Any], kind: str) -> ModelInfo:
    """The model the body names, if it is known and of this kind (chat, video, image, embedding)."""
    name = body.get("model")
    if name is None or name == "":
        raise Fail(400, "1213", "The model parameter was not received.")
    if not isinstance(name, str):
        raise Fail(400, "1214", "Invalid parameter model: must be a string.")
    info = get_model(name)
    if info is None:
        raise Fail(400, "1211", "Unknown Model, please check the model code.")
    if info.kind != kind:
        raise Fail(
            400,
            "1212",
            f"The model {name} does not support this API ({kind}); it is a {info.kind} model.",
        )
    return info


def validate_chat(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Check the chat fields the real API checks; explicit nulls mean "not given"."""
    messages = body.get("messages")
    if messages is None:
        raise Fail(400, "1213", "The messages parameter was not received.")
    if not isinstance(messages, list):
        raise Fail(400, "1214", "Invalid parameter messages: must be an array.")
    if not messages:
        raise Fail(400, "1214", "Invalid parameter messages: must not be empty.")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise Fail(400, "1214", f"Invalid parameter messages[{i}]: needs a valid role.")
        content = m.get("content")
        if m["role"] in ("user", "system") and not isinstance(content, (str, list)):
            raise Fail(400, "1214", f"Invalid parameter messages[{i}].content.")
        try:
            check_parts(content)  # every image part decodes (issue 13)
        except ValueError as err:
            raise Fail(400, "1210", f"Image input format/parsing error: messages[{i}].{err}") from None
    if not any(m.get("role") == "user" for m in messages):
        raise Fail(400, "1214", "Invalid parameter messages: at least one user message is required.")
    t = body.get("temperature")
    if t is not None and (not _is_number(t) or not 0 <= t <= 1):
        raise Fail(400, "1214", "Invalid parameter temperature: must be within [0, 1].")
    p = body.get("top_p")
    if p is not None and (not _is_number(p) or not 0 < p <= 1):
        raise Fail(400, "1214", "Invalid parameter top_p: must be within (0, 1].")
    mt = body.get("max_tokens")
    if mt is not None and (not isinstance(mt, int) or isinstance(mt, bool) or mt < 1):
        raise Fail(400, "1214", "Invalid parameter max_tokens: must be a positive integer.")
    for name in ("do_sample", "tool_stream"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise Fail(400, "1214", f"Invalid parameter {name}: must be a boolean.")
    th = body.get("thinking")
    if th is not None and (not isinstance(th, dict) or th.get("type") not in ("enabled", "disabled", None)):
        raise Fail(400, "1214", "Invalid parameter thinking: type must be enabled or disabled.")
    rf = body.get("response_format")
    if rf is not None and (not isinstance(rf, dict) or rf.get("type") not in ("text", "json_object")):
        raise Fail(400, "1214", "Invalid parameter response_format: type must be text or json_object.")
    if body.get("tools") is not None and not isinstance(body["tools"], list):
        raise Fail(400, "1214", "Invalid parameter tools: must be an array.")
    return messages
