"""The card ``%%glm --async`` shows for one task: id, model, status badge, elapsed time, Refresh, and
the result when it is done.

A view over the task store's record (:mod:`zhipu_magic.core.tasks`); its HTML comes from
:mod:`..render.panels` (escaped; answers via ``reply_html``). The entry points are in :mod:`.widgets`.

While its task is unfinished the card polls by itself (1 s, 2 s, 4 s, 8 s, then every 10 s) on a
daemon thread, and stops when the task is final or the card is closed or collected. It is shown
beside a note output (``TextRepr``): what a saved notebook shows once the kernel is gone.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from typing import Any

import ipywidgets as W

from ...api.errors import APIConnectionError, RateLimitError, ServerError, describe_error
from ...core.tasks.batches import is_batch
from ...core.tasks.polling import poll_task
from ...core.tasks.store import TaskStore, get_store, is_final
from .. import render
from ..render.batch import batch_card_bundle
from ..render.panels import (
    error_html,
    reopen_note_bundle,
    task_body_html,
    task_card_bundle,
    task_header_html,
    video_urls,
)
from .base import Background, Backoff, TextRepr, close_children, reachable

BACKOFF = (1.0, 10.0)  # seconds: the first wait between automatic polls, and the longest


def static_card(record: Mapping[str, Any]) -> dict[str, str]:
    """A finished task as a plain output (saved with the notebook); a video whose link no longer
    answers says so in one line instead of showing a dead player; a batch as its counts and files."""
    if is_batch(record):
        return batch_card_bundle(record)
    alive = all(reachable(u) for u in video_urls(record)) if record.get("kind") == "video" else None
    return task_card_bundle(record, reachable=alive)


def show_updatable(bundle: dict[str, str], display_id: str | None = None) -> str:
    """Publish ``bundle`` as a new output, or replace the output ``display_id``; returns the id."""
    import uuid

    if display_id is None:
        display_id = uuid.uuid4().hex
        render.show(bundle, display_id=display_id)
    else:
        render.show(bundle, display_id=display_id, update=True)
    return display_id


class TaskCard(TextRepr, W.VBox):
    """One async task: id, model, status badge, elapsed time, Refresh, and the result when done."""

    _polling: weakref.WeakSet[TaskCard] = weakref.WeakSet()
    noun = "task"  # what the reopen note calls it

    def __init__(
        self,
        task: Mapping[str, Any] | str,
        client: Any,
        store: TaskStore | None = None,
        *,
        auto: bool = True,
        backoff: tuple[float, float] = BACKOFF,
    ) -> None:
        self.store = store or get_store()
        self.client = client
        task_id = str(task["id"] if isinstance(task, Mapping) else task)
        self.record: dict[str, Any] = self.store.get(task_id) or (
            dict(task) if isinstance(task, Mapping) else {"id": task_id, "status": "?"}
        )
        self.header = W.HTML()
        self.refresh_button = W.Button(description="Refresh", icon="refresh", tooltip="Poll this task now")
        self.refresh_button.layout.width = "auto"
        self.message = W.HTML()
        self.body = W.HTMLMath()
        self._worker = Background(self._show_error)
        self._poll_lock = threading.Lock()
        self._note_id: str | None = None
        self._note_final = False
        super().__init__([W.HBox([self.header, self.refresh_button]), self.message, self.body])
        self.add_class("zm-task-card")
        self.add_class("zm-live")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.update(self.record)
        self.poller: Backoff | None = None
        if auto and not is_final(self.record.get("status")) and client is not None:
            self.poller = Backoff(self, TaskCard._auto_poll, start=backoff[0], maximum=backoff[1]).start()
            TaskCard._polling.add(self)

    def plain_text(self) -> str:
        """What saved notebooks, nbconvert and logs show: the static card's text."""
        return task_card_bundle(self.record)["text/plain"]

    def reopen_note(self) -> dict[str, str]:
        """Beside the live card: one line while the task runs, the static card once it is final."""
        if is_final(self.record.get("status")):
            return reopen_note_bundle(self.plain_text(), static_card(self.record)["text/html"])
        task_id = self.record.get("id")
        return reopen_note_bundle(
            f"{self.noun} {task_id} was still running when this was saved: %glm result {task_id} shows it"
        )

    def _ipython_display_(self) -> None:
        """The note (replaced by the static card once the task is final), then the live card."""
        self._note_id = show_updatable(self.reopen_note())
        self._note_final = is_final(self.record.get("status"))
        render.show(self._repr_mimebundle_())

    def update(self, record: Mapping[str, Any]) -> None:
        """Repaint from a record; a final record also becomes the saved static output."""
        self.record = dict(record)
        final = is_final(self.record.get("status"))
        self.paint(final)
        if final and self._note_id is not None and not self._note_final:
            self._note_final = True
            show_updatable(self.reopen_note(), self._note_id)

    def paint(self, final: bool) -> None:
        """Header, body and buttons from ``self.record`` (a batch card paints its own)."""
        self.header.value = task_header_html(self.record)
        alive = None
        if final and self.record.get("kind") == "video":
            alive = all(reachable(u) for u in video_urls(self.record))
        body = task_body_html(self.record, reachable=alive)
        if self.body.value != body:
            self.body.value = body
        self.refresh_button.disabled = final

    def refresh(self, *, wait: bool = False) -> None:
        """Poll once on a worker thread (the click returns at once)."""

        def work() -> None:
            self.refresh_button.description = "Refreshing\u2026"
            try:
                self.message.value = ""
                self._poll()
            finally:
                self.refresh_button.description = "Refresh"

        self._worker.run(work, wait=wait)

    def _poll(self) -> None:
        with self._poll_lock:
            if not is_final(self.record.get("status")):
                self.update(poll_task(self.store, self.client, self.record["id"]))

    def _auto_poll(self) -> bool:
        """One automatic poll (on the poller thread); True (stop) once the task is final, or on an
        error that polling again cannot fix (a bad key, say: Refresh retries it by hand)."""
        try:
            self._poll()
        except Exception as exc:  # noqa: BLE001 - one line in the card
            self._show_error(describe_error(exc))
            return not isinstance(exc, (APIConnectionError, ServerError, RateLimitError))
        return is_final(self.record.get("status"))

    @classmethod
    def stop_polling(cls) -> None:
        """Stop every card's automatic polling (tests, extension unload)."""
        for card in list(cls._polling):
            if card.poller is not None:
                card.poller.stop()

    def join(self, timeout: float | None = None) -> None:
        self._worker.join(timeout)

    def close(self) -> None:
        if self.poller is not None:
            self.poller.stop()
        close_children(self)
        super().close()

    def _show_error(self, message: str) -> None:
        self.message.value = error_html(message)
        self.update(self.store.get(self.record["id"]) or self.record)
