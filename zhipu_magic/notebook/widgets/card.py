"""The card ``%%glm --async`` shows for one task: id, model, status badge, elapsed time, Refresh, and
the result when it is done.

A view over the task store's record (:mod:`zhipu_magic.core.tasks`); its HTML comes from
:mod:`..render.panels` (escaped; answers via ``reply_html``). The entry points are in :mod:`.widgets`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as W

from ...core.tasks.polling import poll_task
from ...core.tasks.store import TaskStore, get_store, is_final
from ..render.panels import error_html, task_body_html, task_card_bundle, task_header_html
from .base import Background, TextRepr


class TaskCard(TextRepr, W.VBox):
    """One async task: id, model, status badge, elapsed time, Refresh, and the result when done."""

    def __init__(self, task: Mapping[str, Any] | str, client: Any, store: TaskStore | None = None) -> None:
        self.store = store or get_store()
        self.client = client
        task_id = str(task["id"] if isinstance(task, Mapping) else task)
        self.record: dict[str, Any] = self.store.get(task_id) or (
            dict(task) if isinstance(task, Mapping) else {"id": task_id, "status": "?"}
        )
        self.header = W.HTML()
        self.refresh_button = W.Button(description="Refresh", icon="refresh", tooltip="Poll this task once")
        self.refresh_button.layout.width = "auto"
        self.message = W.HTML()
        self.body = W.HTMLMath()
        self._worker = Background(self._show_error)
        super().__init__([W.HBox([self.header, self.refresh_button]), self.message, self.body])
        self.add_class("zm-task-card")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.update(self.record)

    def plain_text(self) -> str:
        """What saved notebooks, nbconvert and logs show: the static card's text."""
        return task_card_bundle(self.record)["text/plain"]

    def update(self, record: Mapping[str, Any]) -> None:
        """Repaint from a record."""
        self.record = dict(record)
        self.header.value = task_header_html(self.record)
        body = task_body_html(self.record)
        if self.body.value != body:
            self.body.value = body
        self.refresh_button.disabled = is_final(self.record.get("status"))

    def refresh(self, *, wait: bool = False) -> None:
        """Poll once on a worker thread (the click returns at once)."""

        def work() -> None:
            self.refresh_button.description = "Refreshing\u2026"
            try:
                self.message.value = ""
                self.update(poll_task(self.store, self.client, self.record["id"]))
            finally:
                self.refresh_button.description = "Refresh"

        self._worker.run(work, wait=wait)

    def join(self, timeout: float | None = None) -> None:
        self._worker.join(timeout)

    def _show_error(self, message: str) -> None:
        self.message.value = error_html(message)
        self.update(self.store.get(self.record["id"]) or self.record)
