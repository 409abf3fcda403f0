"""Prompts over data: one prompt template over every row of a list, a Series or a DataFrame.

- :mod:`.data`: the rows (pandas recognised without importing it), the template filled per row,
  the answers given back in the input's shape.
- :mod:`.ask`: each row's request (:mod:`zhipu_magic.api.calls`), the resume from the call log,
  ``json`` answers parsed.
- :mod:`.pacing`: AIMD concurrency (halve on a rate limit, honour Retry-After, grow back slowly).
- :mod:`.runner`: the worker threads, the call log record of each row, progress, stop.
- :mod:`.result`: :class:`MapResult`, :class:`RowError`, :class:`RowInfo`.

``zhipu_magic.map`` is :func:`map_rows` (named ``map`` only at the package surface, so nothing in
here shadows the builtin); the notebook adds the live progress display around it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ...api.config import DEFAULT_MODEL
from .ask import Job, build_requests, resume
from .data import rows_of, shaped
from .result import NOT_RUN, MapResult, RowError, RowInfo
from .runner import Progress, Run


def map_rows(
    prompt: str,
    data: Any,
    *,
    model: str = DEFAULT_MODEL,
    system: str | None = None,
    json: bool = False,
    concurrency: int = 8,
    client: Any = None,
    progress: Callable[[Progress], None] | None = None,
    log: bool = True,
    log_context: dict[str, Any] | None = None,
    batch: bool = False,
    batch_poll: float = 2.0,
    stop: threading.Event | None = None,
    on_batch: Callable[[dict[str, Any]], None] | None = None,
    **params: Any,
) -> Any:
    """Ask ``prompt`` once per row of ``data`` and return the answers aligned with the rows.

    ``data``: a list of values (``{}`` or ``{value}`` in the prompt), a list of dicts or a DataFrame
    (``{column}``), or a Series. Nothing in braces is evaluated; a prompt that names nothing gets the
    row appended. Returns a :class:`MapResult` (a list; a pandas Series on the same index for pandas
    input, the MapResult in ``.attrs["glm_map"]``): each item the answer text (the parsed object with
    ``json=True``) or a :class:`RowError`. Rows whose identical request is in the call log are not
    sent again (``totals["from_record"]``). ``concurrency`` is the ceiling: it halves on rate limits
    and grows back; a quota error stops the run with what was done kept. ``client``: a ``GLMClient``
    (default: the configured API, or the local server). ``progress`` is called at most ten times a
    second with a :class:`Progress`. ``log=False``: neither recorded nor resumed; ``log_context``: more
    call-log columns (``cell_id``, ``notebook``). ``batch=True``: the rows go through the Batch API
    (half price; polled every ``batch_poll`` seconds; kept in the task store as a task, so an
    interrupt returns with the batch running on, and the same call run again collects it).
    ``stop``: an event another thread (a Stop button) sets to end the run like an interrupt, the
    result marked ``"stopped"``. ``on_batch``: called with each batch's task record as it is created
    (or found again), e.g. to show its card. ``params`` go into every request (``temperature=0``...).
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("map() needs a prompt template (a non-empty string)")
    if int(concurrency) < 1:
        raise ValueError("concurrency is a whole number of at least 1")
    rows = rows_of(data)
    if client is None:
        from ..backend import backend

        client, local = backend.client()
    else:
        from ...api.inprocess import is_local

        local = is_local(client.base_url)
    job = Job(client, local, model, system, json, int(concurrency), params, log, dict(log_context or {}))
    requests, notes = build_requests(job, prompt, rows)
    result = MapResult(len(requests))
    result.notes += notes
    pending = resume(job, requests, result)
    if batch:
        by_batch(job, requests, result, pending, progress, batch_poll, prompt, stop, on_batch)
    else:
        run = Run(job, requests, result, pending)
        with quiet_pool():
            run.wait(progress, stop)
    return shaped(result, rows, result)


def by_batch(
    job: Job,
    requests: list[Any],
    result: MapResult,
    pending: list[int],
    progress: Callable[[Progress], None] | None,
    poll: float,
    template: str = "",
    stop: threading.Event | None = None,
    on_batch: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """The pending rows through the Batch API, its ``request_counts`` reported as progress."""
    from .batch import run_batches

    start, old = time.monotonic(), len(result) - len(pending)

    def report(batch: dict[str, Any], finished: bool = False) -> None:
        if stop is not None and stop.is_set():
            raise KeyboardInterrupt
        counts = batch.get("request_counts") or {}
        done, failed = int(counts.get("completed") or 0), int(counts.get("failed") or 0)
        elapsed = time.monotonic() - start
        in_flight = max(int(counts.get("total") or len(pending)) - done - failed, 0)
        if progress is not None:
            progress(Progress(
                old + done, failed, in_flight, len(result), old, 0, 0, elapsed, done / max(elapsed, 1e-9),
                None, 0.0, result.stopped, finished,
            ))  # fmt: skip

    try:
        run_batches(
            job, requests, result, pending, poll=poll, report=report, template=template, on_batch=on_batch,
            stop=stop,
        )  # fmt: skip
    except KeyboardInterrupt:  # between two steps: the batch (if created) runs on, kept as a task
        result.stopped = "interrupted: the batch runs on; run the same call again to collect it"
    result.ended = time.monotonic()
    if progress is not None:
        t = result.totals
        progress(Progress(
            t["done"], t["failed"], 0, len(result), t["from_record"], t["prompt_tokens"],
            t["completion_tokens"], t["seconds"], 0.0, None, 0.0, result.stopped, True,
        ))  # fmt: skip


class quiet_pool:  # noqa: N801 - used as a context manager
    """Above ten threads ``requests`` keeps ten connections and drops the rest with a urllib3
    warning per answer; the dropped connection is the whole cost, so the warning is silenced."""

    def __enter__(self) -> None:
        import logging

        self._logger = logging.getLogger("urllib3.connectionpool")
        self._filter = _PoolFull()
        self._logger.addFilter(self._filter)

    def __exit__(self, *exc: object) -> None:
        self._logger.removeFilter(self._filter)


class _PoolFull:
    @staticmethod
    def filter(record: Any) -> bool:
        return "Connection pool is full" not in str(record.msg)


__all__ = ["NOT_RUN", "MapResult", "Progress", "RowError", "RowInfo", "map_rows"]
