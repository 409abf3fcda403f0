"""Pure retry policy: should this failure be retried, and how long to wait first.

No I/O and no clock of its own: the caller injects ``clock``, ``rng`` and ``sleep`` so tests can
check the policy without real waiting. Business code is consulted before HTTP status (the table is
:mod:`.codes`), because the platform answers both "slow down" (1302) and "out of money" (1113) with
429, and only the first is worth a retry.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping

from . import codes

RETRY_STATUSES = frozenset({408, 500, 501, 502, 503, 504})

BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
SLEEP_SLICE = 0.1


def should_retry(status: int | None, code: str | None = None, *, connect_error: bool = False) -> bool:
    """True when another attempt may succeed.

    ``connect_error`` means the request never reached the server (refused, DNS, connect timeout),
    so repeating it cannot double-bill. A read timeout or a dropped response is not retried: the
    server may already be generating (and charging for) the answer.
    """
    if connect_error:
        return True
    row = codes.lookup(code)
    if row is not None:
        return row.retryable
    if status is None:
        return False
    if status == 429:
        return True  # a 429 with a rate code or no code at all; quota codes were refused above
    return status in RETRY_STATUSES


def _positive_finite(value: float) -> float | None:
    return value if math.isfinite(value) and value > 0 else None


def parse_retry_after(
    headers: Mapping[str, str] | None, *, clock: Callable[[], float] = time.time
) -> float | None:
    """Seconds the server asked us to wait, or None when absent or malformed.

    ``retry-after-ms`` wins over ``Retry-After`` (seconds or an HTTP date). ``0``, negative,
    ``inf``, ``nan`` and garbage are treated as absent, so the normal backoff applies.
    """
    if not headers:
        return None
    lowered = {str(k).lower(): str(v).strip() for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms:
        try:
            found = _positive_finite(float(raw_ms) / 1000.0)
        except ValueError:
            found = None
        if found is not None:
            return found
    raw = lowered.get("retry-after")
    if not raw:
        return None
    try:
        return _positive_finite(float(raw))
    except ValueError:
        pass
    import email.utils  # only for an HTTP-date Retry-After: rare, and slow to import

    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    try:
        return _positive_finite(when.timestamp() - clock())
    except (OverflowError, OSError, ValueError):
        return None


def backoff(retry_index: int, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: ``min(0.5 * 2**n, 8) * uniform(0.75, 1)``."""
    base = min(BACKOFF_BASE * 2 ** max(retry_index, 0), BACKOFF_CAP)
    return base * (0.75 + 0.25 * rng())


def retry_delay(
    retry_index: int,
    headers: Mapping[str, str] | None = None,
    *,
    clock: Callable[[], float] = time.time,
    rng: Callable[[], float] = random.random,
) -> tuple[float, bool]:
    """``(seconds, server_asked)``: the server's Retry-After when valid, else the backoff.

    The caller compares a server-asked wait with its ceiling and raises at once when it is longer,
    instead of blocking a notebook cell for an hour.
    """
    asked = parse_retry_after(headers, clock=clock)
    if asked is not None:
        return asked, True
    return backoff(retry_index, rng), False


def sliced_sleep(seconds: float, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Sleep in short slices, so a KeyboardInterrupt (Stop in Jupyter) lands promptly everywhere."""
    deadline = time.monotonic() + max(seconds, 0.0)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        sleep(min(left, SLEEP_SLICE))
