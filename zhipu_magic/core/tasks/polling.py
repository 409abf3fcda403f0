"""Polling async tasks: one poll, a concurrent refresh, a resumable wait, background auto-refresh.

Why threads: the transport is ``requests`` (blocking), and a Refresh must cost one round-trip however
many tasks are pending, so every pending task gets its own worker for that one call. The asyncio
entry points (:func:`arefresh`, :func:`run_sync`) run the same blocking polls in an executor, so they
work on any loop, including the one Jupyter's kernel is already running (top-level ``await`` in a
cell; :func:`run_sync` uses nest-asyncio there, because ``asyncio.run`` refuses a running loop).

No IPython or ipywidgets here: the panels and the magics call these and draw the records.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ...api import calls, inprocess
from ...api.errors import APIConnectionError, GLMError, NotFoundError, RateLimitError, ServerError
from ...api.retry import sliced_sleep
from ..ledger.records import task_fields
from ..session import notebook_key
from .batches import is_batch, poll_batch
from .logbook import log_finished
from .store import TaskStore, is_final

T = TypeVar("T")
MAX_WORKERS = 64  # one thread per pending task up to this many; beyond it, a second round
BACKOFF_START, BACKOFF_MAX = 1.0, 10.0


def _transient(exc: BaseException) -> bool:
    """Worth polling again later (connection trouble, 5xx, rate limit); others need the user."""
    return isinstance(exc, (APIConnectionError, ServerError, RateLimitError))


def poll_task(store: TaskStore, client: Any, task_id: str) -> dict[str, Any]:
    """One ``GET async-result/{id}`` merged into the store; returns the record.

    An id the server does not know (404) becomes a local FAIL, since polling it again cannot help.
    Any other API error is noted on the record (``last_error``, status unchanged) and re-raised.
    A Batch API job is polled as one (:func:`.batches.poll_batch`). A task this poll finds final is
    logged in the call log, once per task id (:func:`.logbook.log_finished`): every way of polling
    (a wait, ``%glm result``, a card, a panel) logs it the same way.
    """
    if is_batch(store.get(task_id)):
        return poll_batch(store, client, task_id)
    try:
        response = client.result(task_id)
    except NotFoundError as exc:
        failed = store.mark_failed(task_id, f"the server does not know this task id ({exc.message or exc})")
        return log_finished(store, failed)
    except GLMError as exc:
        store.note_error(task_id, str(exc))
        raise
    record = store.apply_result(task_id, response)
    return log_finished(store, record) if is_final(record.get("status")) else record


def submit_task(
    store: TaskStore,
    client: Any,
    prompt: str,
    *,
    kind: str = "chat",
    model: str | None = None,
    messages: list[dict[str, Any]] | None = None,
    local: bool | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Submit a chat task (``async/chat/completions``) or a video task (``videos/generations``) and
    record it in the store before anything polls it, so a wait can always be resumed by id.

    ``messages`` (chat only) defaults to ``prompt`` as one user message; ``prompt`` is what the task
    list shows. Returns the stored record (``id``, ``status``, ...).
    """
    request = calls.task(kind, prompt, model=model, messages=messages, **params)
    return submit_request(store, client, request, prompt=prompt, kind=kind, local=local)


def submit_request(
    store: TaskStore,
    client: Any,
    request: calls.Request,
    *,
    prompt: str,
    kind: str = "chat",
    local: bool | None = None,
) -> dict[str, Any]:
    """Send an already built task request (what a dry run showed) and record the task at once."""
    response = client.send(request)
    base_url = getattr(client, "base_url", None)
    if local is None:
        local = inprocess.is_local(base_url)
    model = str((request.body or {}).get("model") or "")
    return store.record_submission(
        response,
        kind=kind,
        model=model,
        prompt=prompt,
        base_url=base_url,
        local=local,
        notebook=notebook_key(),
        **task_fields(request.body, base_url, local),  # its answer is logged under this request
    )


def _poll_quietly(store: TaskStore, client: Any, task_id: str) -> dict[str, Any]:
    """poll_task for a batch: errors stay on the record (one line), never escape a worker thread."""
    try:
        return poll_task(store, client, task_id)
    except Exception as exc:  # noqa: BLE001 - reported on the record, shown in the panel
        if not isinstance(exc, GLMError):
            store.note_error(task_id, f"{type(exc).__name__}: {exc}")
        return store.get(task_id) or {"id": task_id, "last_error": str(exc)}


def _pending_ids(store: TaskStore, task_ids: Iterable[str] | None) -> list[str]:
    if task_ids is None:
        return [r["id"] for r in store.pending()]
    ids = []
    for tid in task_ids:
        rec = store.get(tid)
        if rec is None or not is_final(rec.get("status")):
            ids.append(tid)
    return ids


def refresh(
    store: TaskStore, client: Any, task_ids: Iterable[str] | None = None, *, max_workers: int = MAX_WORKERS
) -> list[dict[str, Any]]:
    """Poll every unfinished task (or those in ``task_ids``) at once; returns their new records.

    Bounded: one HTTP call per task, all in flight together, so the whole refresh takes about one
    round-trip. Finished tasks are not polled again. Errors are kept on each record.
    """
    ids = _pending_ids(store, task_ids)
    if not ids:
        return []
    if len(ids) == 1:
        return [_poll_quietly(store, client, ids[0])]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(ids)), thread_name_prefix="glm-poll") as pool:
        return list(pool.map(lambda tid: _poll_quietly(store, client, tid), ids))


async def arefresh(
    store: TaskStore, client: Any, task_ids: Iterable[str] | None = None, *, max_workers: int = MAX_WORKERS
) -> list[dict[str, Any]]:
    """:func:`refresh` as a coroutine: ``await zhipu_magic.tasks.arefresh(store, client)`` in a cell.

    The polls run in a private thread pool (the loop's default pool is only a few threads wide),
    so the loop stays free while they are in flight.
    """
    ids = _pending_ids(store, task_ids)
    if not ids:
        return []
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=min(max_workers, len(ids)), thread_name_prefix="glm-apoll") as pool:
        futures = [loop.run_in_executor(pool, _poll_quietly, store, client, tid) for tid in ids]
        return list(await asyncio.gather(*futures))


def run_sync(awaitable: Awaitable[T]) -> T:
    """Run a coroutine to completion from sync code, even inside Jupyter's already running loop.

    Outside a loop this is ``asyncio.run``. Inside one (a kernel cell, a widget callback) the loop is
    made re-entrant with nest-asyncio first, which is what lets the call block until it is done.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_as_coroutine(awaitable))
    import nest_asyncio

    nest_asyncio.apply(loop)
    return loop.run_until_complete(_as_coroutine(awaitable))


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def wait_for_task(
    store: TaskStore,
    client: Any,
    task_id: str,
    *,
    deadline: float | None = None,
    sleep: Callable[[float], None] = sliced_sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll until the task is SUCCESS or FAIL; returns the record (still pending if the time ran out).

    ``deadline`` is a budget in seconds from now (``None``: no limit). Between polls the wait grows
    1 s, 2 s, 4 s, 8 s, then 10 s. Transient API trouble (connection, 5xx, rate limit) is noted on
    the record and waited out; other API errors are raised. A KeyboardInterrupt propagates at once
    and leaves the task pending in the store, so a later wait (or Refresh) resumes it.
    """
    start = clock()
    delay = BACKOFF_START
    while True:
        record = store.get(task_id)
        if record is not None and is_final(record.get("status")):
            return record
        try:
            record = poll_task(store, client, task_id)
        except Exception as exc:
            if not _transient(exc):
                raise
            record = store.get(task_id) or {"id": task_id}
        if is_final(record.get("status")):
            return record
        pause = delay
        if deadline is not None:
            left = deadline - (clock() - start)
            if left <= 0:
                return record
            pause = min(pause, left)
        sleep(pause)
        delay = min(delay * 2, BACKOFF_MAX)


class AutoRefresher:
    """Calls ``refresh_once()`` every ``interval`` seconds on a daemon thread until it returns False.

    ``refresh_once`` does one bounded refresh and says whether anything is still pending; ``on_stop``
    runs on the worker thread when the loop ends (nothing pending, :meth:`stop`, or an error).
    """

    def __init__(
        self,
        refresh_once: Callable[[], bool],
        *,
        interval: float = 2.0,
        on_stop: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        self.refresh_once, self.interval, self.on_stop = refresh_once, interval, on_stop
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start polling (no-op while already running)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="glm-autorefresh", daemon=True)
        self._thread.start()

    def stop(self, *, join: float | None = None) -> None:
        """Ask the loop to end after the current round (optionally wait for it)."""
        self._stop.set()
        thread = self._thread
        if join is not None and thread is not None and thread is not threading.current_thread():
            thread.join(join)

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            while not self._stop.is_set():
                if not self.refresh_once():
                    break
                if self._stop.wait(self.interval):
                    break
        except Exception as exc:  # noqa: BLE001 - handed to on_stop, shown as one line
            error = exc
        finally:
            self._stop.set()
            if self.on_stop is not None:
                self.on_stop(error)
