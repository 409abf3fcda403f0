"""The local server's injected faults before the answer: ``[[fault:NAME]]`` directives that fail a
request with an API error (auth, filter, rate limit, 5xx, a proxy's 502 page...) or delay it.

What each fault does is documented in :mod:`zhipu_magic.server`; the stream's mid-answer faults
(``stall``, ``drop``, ``error_frame``...) are applied by :mod:`.chat` as it streams. Standard library only.
"""

from __future__ import annotations

import hashlib
import math
import socket
from typing import TYPE_CHECKING

from .answers.plan import MAX_COUNT, MAX_WAIT
from .checks import Fail

if TYPE_CHECKING:
    from .answers.plan import Directives
    from .state import ServerState

_FAULTS = {
    "auth", "bad_param", "filter", "rate_limit", "rate_limit_ms", "balance", "daily", "server_error",
    "unavailable", "bad_gateway", "slow_first", "stall", "drop", "error_frame", "garbage", "no_choices",
    "no_done", "sensitive", "length", "hostile", "task_fail",
}  # fmt: skip
_BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def request_faults(state: ServerState, d: Directives, target: str, raw: bytes, conn: socket.socket) -> None:
    """Apply request-level faults: errors before any byte of the answer.

    Counted faults (``rate_limit``, ``server_error``...) count attempts of the same request (``target``
    and body ``raw``) in ``state``; ``slow_first`` sleeps on ``conn`` (wakes when the client leaves).
    """
    unknown = sorted(set(d.faults) - _FAULTS) + d.errors
    if unknown:
        raise Fail(400, "1214", f"Unknown directive {', '.join(unknown)} (see zhipu_magic.server docs).")
    if d.fault("slow_first"):
        state.sleep(wait_arg(d.arg("slow_first"), 1.0), conn)
    if d.fault("auth"):
        raise Fail(401, "1000", "Authentication failed (injected fault).")
    if d.fault("bad_param"):
        raise Fail(400, "1214", "Invalid parameter (injected fault).")
    if d.fault("filter"):
        raise Fail(
            400,
            "1301",
            "The input may contain unsafe or sensitive content (injected fault).",
            contentFilter=[{"level": 1, "role": "user"}],
        )
    if d.fault("balance"):
        raise Fail(429, "1113", "Your account is in arrears: insufficient balance, please recharge.")
    if d.fault("daily"):
        raise Fail(429, "1304", "The daily call limit for this API has been reached.")
    key = hashlib.sha256(target.encode() + b"\0" + raw).hexdigest()
    limits = {
        "rate_limit": 1,
        "rate_limit_ms": 1,
        "server_error": count_arg(d.arg("server_error"), 1),
        "unavailable": count_arg(d.arg("unavailable"), 1),
        "bad_gateway": count_arg(d.arg("bad_gateway"), 10**9),  # default: every attempt
    }
    active = [n for n in limits if d.fault(n)]
    if not active:
        return
    attempt = state.attempt(key)
    for name in active:
        if attempt > limits[name]:
            continue
        if name in ("rate_limit", "rate_limit_ms"):
            header, default = ("Retry-After", "1") if name == "rate_limit" else ("retry-after-ms", "1000")
            raise Fail(
                429, "1302", "Too many concurrent requests; please retry later.",
                headers={header: d.arg(name) or default},
            )  # fmt: skip
        if name == "server_error":
            raise Fail(500, "500", "Internal server error (injected fault).")
        if name == "unavailable":
            raise Fail(503, "1305", "The service is temporarily overloaded (injected fault).")
        raise Fail(502, "502", "Bad Gateway", html=_BAD_GATEWAY_HTML)
    state.succeeded(key)


def float_arg(value: str | None, default: float) -> float:
    """A directive's (or setting's) number; ``default`` when it is missing or not a number."""
    try:
        return float(value) if value else default
    except ValueError:
        return default


def wait_arg(value: str | None, default: float) -> float:
    """Seconds a fault waits: finite, at least 0, at most :data:`MAX_WAIT`."""
    seconds = float_arg(value, default)
    return min(MAX_WAIT, max(0.0, seconds)) if math.isfinite(seconds) else default


def int_arg(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def count_arg(value: str | None, default: int) -> int:
    """How many attempts a counted fault fails: the given N within [0, MAX_COUNT], else ``default``."""
    return min(MAX_COUNT, max(0, int_arg(value, default))) if value else default
