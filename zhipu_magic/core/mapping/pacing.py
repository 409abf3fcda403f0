"""AIMD concurrency for ``map``: how many rows may be in flight at once.

Starts at the ceiling the caller gave. A rate-limit answer halves the limit (never below 1) and holds
every new request until the server's ``Retry-After`` has passed; each success then adds
``1 / limit``, so the limit grows back by about one per round of answers (slowly, like TCP). Only a
request sent after the last cut can cut again, so a burst of 429s from one crowded moment halves
once, not once per answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_PAUSE = 60.0  # seconds: a longer Retry-After is held to this (the row is retried after it)


class Pacer:
    """Slots for requests in flight under an adaptive limit; shared by the worker threads."""

    def __init__(self, ceiling: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if int(ceiling) < 1:
            raise ValueError("concurrency is a whole number of at least 1")
        self.ceiling = int(ceiling)
        self.limit = float(self.ceiling)
        self.in_flight = 0
        self.cuts = 0  # how many times the limit was halved
        self.low = float(self.ceiling)  # the lowest the limit went
        self._epoch = 0
        self._resume_at = 0.0
        self._clock = clock
        self._cond = threading.Condition()
        self._closed = False

    def acquire(self) -> int | None:
        """Wait for a slot; the epoch to hand back to :meth:`rate_limited`, or None once closed."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                wait = self._resume_at - self._clock()
                if wait <= 0 and self.in_flight < max(1, int(self.limit)):
                    self.in_flight += 1
                    return self._epoch
                self._cond.wait(min(wait, 0.25) if wait > 0 else 0.25)

    def release(self, *, ok: bool) -> None:
        """A request ended; ``ok`` grows the limit by ``1 / limit`` up to the ceiling."""
        with self._cond:
            self.in_flight -= 1
            if ok:
                self.limit = min(float(self.ceiling), self.limit + 1.0 / max(self.limit, 1.0))
            self._cond.notify_all()

    def rate_limited(self, epoch: int, retry_after: float | None) -> None:
        """A rate-limit answer to a request sent in ``epoch``: halve (once per epoch) and pause."""
        with self._cond:
            if epoch == self._epoch:
                self.limit = max(1.0, self.limit / 2)
                self.low = min(self.low, self.limit)
                self._epoch += 1
                self.cuts += 1
            pause = min(max(retry_after or 0.0, 0.0), MAX_PAUSE)
            self._resume_at = max(self._resume_at, self._clock() + pause)
            self._cond.notify_all()

    def close(self) -> None:
        """No more slots: waiting workers return None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
