"""One ``map`` run: worker threads ask for the rows under the :class:`~.pacing.Pacer`, every answer
is recorded in the call log as it arrives, and the caller's thread waits, reports progress at most
ten times a second, and takes the interrupt or a stop (``stop``: an event set from another thread, e.g.
by a Stop button).

The client is blocking ``requests``, so rows run on threads (as many as the ceiling; the pacer lets
``limit`` of them send). A rate-limit answer that got past the client's own retries cuts the limit
and puts the row back; a quota answer ends the run, keeping what was done; any other failure is
that row's :class:`~.result.RowError`. A stop (or KeyboardInterrupt) returns at once: rows still in
flight are marked not run, and their answers, when they come, still go to the call log, so the
next run does not pay for them again.
"""

from __future__ import annotations

import collections
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

from ...api.answer import Answer
from ...api.calls import Request
from ...api.errors import GLMError, QuotaError, RateLimitError, describe_error
from .. import ledger
from .ask import Job, parse_answer
from .pacing import Pacer
from .result import NOT_RUN, MapResult, RowError, RowInfo, tokens

MAX_RATE_RETRIES = 8  # rate-limit answers one row may get before it counts as failed
TICK = 0.1  # seconds between progress reports (at most ten a second)


class Progress(NamedTuple):
    """A moment of a run, for a progress display."""

    done: int
    failed: int
    in_flight: int
    total: int
    from_record: int
    prompt_tokens: int
    completion_tokens: int
    elapsed: float
    rows_per_s: float
    eta: float | None  # seconds, None before the first answer
    concurrency: float
    stopped: str | None
    finished: bool


def guarded(progress: Callable[[Progress], None] | None) -> Callable[[Progress], None] | None:
    """``progress`` that cannot end a run: a failing display warns once and is dropped (an interrupt,
    which is no ``Exception``, still goes through)."""
    if progress is None:
        return None
    broken: list[bool] = []

    def report(p: Progress) -> None:
        if broken:
            return
        try:
            progress(p)
        except Exception as exc:
            broken.append(True)
            warnings.warn(f"map: the progress display failed, the run goes on ({exc!r})", stacklevel=2)

    return report


class Run:
    """The state of one run, shared by the workers and the waiting caller."""

    def __init__(self, job: Job, requests: list[Request], result: MapResult, pending: list[int]) -> None:
        self.job, self.requests, self.result = job, requests, result
        self.from_record = len(result) - len(pending)
        self.pacer = Pacer(job.concurrency)
        self.queue = collections.deque(pending)
        self.remaining = len(pending)
        self.done = self.failed = self.asked_done = 0
        self.tokens_in = self.tokens_out = 0
        self.ended = False
        self.started = time.monotonic()
        self._cond = threading.Condition()
        self._rate_hits = collections.Counter[int]()

    # -- the caller's side ---------------------------------------------------------------------------
    def wait(self, progress: Callable[[Progress], None] | None, stop: threading.Event | None = None) -> None:
        """Run the workers until every row is settled, a quota stop, an interrupt, or ``stop`` is set
        (seen within a tick: the result is marked ``"stopped"``)."""
        progress = guarded(progress)
        workers = min(self.job.concurrency, self.remaining)
        for n in range(workers):
            threading.Thread(target=self.work, name=f"glm-map-{n}", daemon=True).start()
        try:
            due = time.monotonic() + TICK
            with self._cond:
                while not self.ended and self.remaining > 0:
                    self._cond.wait(max(due - time.monotonic(), 0.001))
                    if stop is not None and stop.is_set():
                        self.stop("stopped")
                        break
                    if time.monotonic() < due:
                        continue
                    due = time.monotonic() + TICK
                    if progress is not None and not self.ended and self.remaining > 0:
                        snapshot = self.snapshot()
                        self._cond.release()
                        try:
                            progress(snapshot)
                        finally:
                            self._cond.acquire()
        except KeyboardInterrupt:
            self.stop("interrupted")
        finally:
            self.stop(None)
        self.result.ended = time.monotonic()
        self.result.concurrency = self.pacer.limit
        if progress is not None:
            progress(self.snapshot())

    def stop(self, why: str | None) -> None:
        """End the run now (``why`` is kept on the result if it is the first reason)."""
        with self._cond:
            if why and self.result.stopped is None and self.remaining > 0:
                self.result.stopped = why
            self.ended = True
            self._cond.notify_all()
        self.pacer.close()

    def snapshot(self) -> Progress:
        elapsed = time.monotonic() - self.started
        rate = self.asked_done / elapsed if elapsed > 0 else 0.0
        eta = self.remaining / rate if rate > 0 else None
        return Progress(
            self.done + self.from_record, self.failed, self.pacer.in_flight, len(self.result),
            self.from_record,
            self.tokens_in, self.tokens_out, elapsed, rate, eta, self.pacer.limit,
            self.result.stopped, self.ended or self.remaining == 0,
        )  # fmt: skip

    # -- the workers' side ---------------------------------------------------------------------------
    def next_row(self) -> int | None:
        with self._cond:
            while not self.queue and not self.ended and self.remaining > 0:
                self._cond.wait(0.25)
            if self.ended or not self.queue:
                return None
            return self.queue.popleft()

    def work(self) -> None:
        while True:
            index = self.next_row()
            if index is None:
                return
            epoch = self.pacer.acquire()
            if epoch is None:
                return
            ok = False
            try:
                ok = self.ask(index, epoch)
            finally:
                self.pacer.release(ok=ok)

    def ask(self, index: int, epoch: int) -> bool:
        """Send one row and settle it; True when it was answered."""
        request, job = self.requests[index], self.job
        started = time.monotonic()
        try:
            response = job.client.send(request)
        except RateLimitError as err:
            self.pacer.rate_limited(epoch, err.retry_after)
            return self.rate_limited(index, err)
        except QuotaError as err:
            self.stop(f"quota: {describe_error(err, 200)}")
            return False
        except GLMError as err:
            kind = type(err).__name__
            self.settle(index, RowError(kind, err.message, err.code, err.status), retries=err.attempts - 1)
            return False
        except Exception as err:  # a row never aborts the run
            self.settle(index, RowError(type(err).__name__, describe_error(err, 300)))
            return False
        answer = Answer(request.body.get("model") if request.body else None)
        answer.set_response(response)
        seconds = time.monotonic() - started
        retries = response.attempts - 1 + self._rate_hits[index]
        log_id = None
        if job.log:
            log_id = ledger.record(
                answer, request.body, kind="map", local=job.local, base_url=job.base_url,
                retries=retries, duration=round(seconds, 3), **job.context,
            )  # fmt: skip
        value = parse_answer(answer.text, job.json)
        info = RowInfo(answer.usage, retries, seconds, False, log_id)
        self.settle(index, value, info=info)
        return True

    def rate_limited(self, index: int, err: RateLimitError) -> bool:
        with self._cond:
            self._rate_hits[index] += 1
            again = self._rate_hits[index] <= MAX_RATE_RETRIES and not self.ended
            if again:
                self.queue.appendleft(index)
                self._cond.notify_all()
        if not again:
            message = f"still rate-limited after {MAX_RATE_RETRIES} retries: {err.message}"
            self.settle(index, RowError("RateLimitError", message, err.code, err.status))
        return False

    def settle(self, index: int, value: Any, *, info: RowInfo | None = None, retries: int = 0) -> None:
        """Write one row's outcome (ignored once the run has ended: the caller has its result)."""
        with self._cond:
            if self.ended:
                return
            info = info or RowInfo(None, retries + self._rate_hits[index])
            self.result[index], self.result.info[index] = value, info
            failed = isinstance(value, RowError) and value.kind != NOT_RUN
            self.failed += failed
            self.done += not failed
            self.asked_done += 1
            self.tokens_in += tokens(info.usage, "prompt_tokens")
            self.tokens_out += tokens(info.usage, "completion_tokens")
            self.remaining -= 1
            self._cond.notify_all()
