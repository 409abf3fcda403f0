"""The ``%glm tasks`` panel: submit chat/video tasks, list them newest first in a bounded scroll area
(this notebook's or all), refresh all pending ones at once, auto-refresh, delete one, clear finished.
Batch API jobs (``map(..., batch=True)``) are listed too, with their counts and a Cancel button.

A view over the task store (:mod:`zhipu_magic.core.tasks`); its HTML comes from
:mod:`..render.panels` (escaped; answers via ``reply_html``). The entry point is in :mod:`.widgets`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import ipywidgets as W

from ...api.errors import describe_error
from ...core.session import notebook_key
from ...core.tasks.batches import cancel_batch, is_batch
from ...core.tasks.polling import AutoRefresher, refresh, submit_task
from ...core.tasks.store import TaskStore, get_store, is_final
from ..render.batch import batch_row_html
from ..render.panels import task_row_html, video_urls
from .base import Background, Panel, client_or_error, close_children, reachable

MAX_ROWS = 50  # newest first; older ones are counted, not drawn
SCOPES = ("this notebook", "all")


class TaskRow(W.HBox):
    """One task in the list: its HTML (``value``, as before), a delete button, and for a batch still
    running a Cancel button (``on_cancel``)."""

    def __init__(self, task_id: str, on_delete: Any, on_cancel: Any = None) -> None:
        self.task_id = task_id
        self.html = W.HTMLMath(layout=W.Layout(flex="1 1 auto", width="100%"))
        self.delete_button = W.Button(icon="trash", tooltip="Remove this task from the list")
        self.delete_button.layout.width = "36px"
        self.delete_button.add_class("zm-delete")
        self.delete_button.on_click(lambda _b: on_delete(task_id))
        self.cancel_button = W.Button(icon="stop", tooltip="Cancel this batch")
        self.cancel_button.layout.width = "36px"
        self.cancel_button.layout.display = "none"
        self.cancel_button.add_class("zm-cancel")
        if on_cancel is not None:
            self.cancel_button.on_click(lambda _b: on_cancel(task_id))
        buttons = [self.cancel_button, self.delete_button]
        super().__init__([self.html, *buttons], layout=W.Layout(flex="0 0 auto", width="100%"))

    def paint(self, record: Mapping[str, Any], now: float, alive: bool | None) -> None:
        """The row's HTML, and Cancel shown only for a batch that can still be cancelled."""
        if is_batch(record):
            self.html.value = batch_row_html(record, now)
            live = not is_final(record.get("status")) and record.get("status") != "cancelling"
            self.cancel_button.layout.display = "" if live else "none"
        else:
            self.html.value = task_row_html(record, now, reachable=alive)

    @property
    def value(self) -> str:
        return str(self.html.value)


def _model_options(kind: str) -> list[str]:
    from ...api.models import MODELS

    return [m.name for m in MODELS.values() if m.kind == kind and m.async_]


class TaskPanel(Panel, W.VBox):
    """Submit chat/video tasks, list them newest first, refresh all pending ones concurrently."""

    def __init__(
        self, client: Any = None, store: TaskStore | None = None, *, auto_interval: float = 2.0
    ) -> None:
        from ...api.config import DEFAULT_MODEL

        self.client, problem = client_or_error(client)
        self.store = store or get_store()
        self.prompt = W.Textarea(placeholder="Prompt for a background task", layout=W.Layout(width="100%"))
        self.kind = W.ToggleButtons(
            options=["chat", "video"], value="chat", tooltips=["async chat task", "video generation task"]
        )
        self.kind.style.button_width = "64px"
        chat_models = _model_options("chat")
        self.model = W.Dropdown(
            options=chat_models,
            value=DEFAULT_MODEL if DEFAULT_MODEL in chat_models else chat_models[0],
            description="Model",
        )
        self.submit_button = W.Button(description="Submit", button_style="primary", icon="paper-plane")
        self.refresh_button = W.Button(
            description="Refresh", icon="refresh", tooltip="Poll all pending tasks"
        )
        self.auto = W.ToggleButton(value=False, description="Auto-refresh", icon="clock-o")
        self.scope = W.ToggleButtons(options=SCOPES, value=SCOPES[0], tooltips=["tasks of this notebook", ""])
        self.scope.style.button_width = "120px"
        self.clear_button = W.Button(
            description="Clear finished", icon="trash", tooltip="Remove finished tasks"
        )
        self.status = W.HTML()
        self.rows = W.VBox(layout=W.Layout(max_height="520px", overflow="auto", display="block"))
        self.rows.add_class("zm-task-rows")
        self.notebook = notebook_key()
        self._row_cache: dict[str, tuple[tuple[Any, ...], TaskRow]] = {}
        self._reachable: dict[str, bool] = {}
        self._checking: set[str] = set()
        self._draw_lock = threading.RLock()
        self._worker = Background(self._show_error)
        self._auto = AutoRefresher(self._auto_round, interval=auto_interval, on_stop=self._auto_stopped)
        super().__init__(
            [
                self.prompt,
                W.HBox([self.kind, self.model, self.submit_button]),
                W.HBox([self.refresh_button, self.auto, self.scope, self.clear_button]),
                self.status,
                self.rows,
            ]
        )
        self.add_class("zm-task-panel")
        self.add_class("zm-live")
        self.scope.observe(lambda _c: self.redraw(), names="value")
        self.clear_button.on_click(lambda _b: self.clear_finished())
        self.kind.observe(self._kind_changed, names="value")
        self.submit_button.on_click(lambda _b: self.submit())
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.auto.observe(self._auto_toggled, names="value")
        if self.store.problem or problem:
            self._show_error(problem or self.store.problem or "")
        self.redraw()

    def plain_text(self) -> str:
        """A summary for saved notebooks, nbconvert and terminals."""
        records = self.store.list()
        pending = sum(not is_final(r.get("status")) for r in records)
        return f"task panel: {len(records)} tasks, {pending} pending"

    # actions ----------------------------------------------------------------------------------
    def submit(self, prompt: str | None = None, *, wait: bool = False) -> None:
        """Submit the prompt as a chat or video task (worker thread), then list it."""
        text = (self.prompt.value if prompt is None else prompt).strip()
        if not text:
            self._show_error("type a prompt first")
            return
        kind, model = self.kind.value, self.model.value
        if not self._need_client():
            return

        def work() -> None:
            self._say(f"submitting a {kind} task to {model}\u2026")
            rec = submit_task(self.store, self.client, text, kind=kind, model=model)
            self.store.put({"id": rec["id"], "notebook": self.notebook})  # for the "this notebook" filter
            self.prompt.value = ""
            self._say(f"submitted task {rec['id']}")
            self.redraw()
            if self.auto.value:
                self._auto.start()

        self._worker.run(work, wait=wait)

    def refresh(self, *, wait: bool = False) -> None:
        """Poll every unfinished task concurrently (one round of HTTP calls), then repaint."""

        if not self._need_client():
            return

        def work() -> None:
            pending = len(self.store.pending())
            if not pending:
                self._say("nothing pending")
                self.redraw()
                return
            self.refresh_button.description = "Refreshing\u2026"
            try:
                started = time.monotonic()
                records = refresh(self.store, self.client)
                took = time.monotonic() - started
            finally:
                self.refresh_button.description = "Refresh"
            errors = [r for r in records if r.get("last_error")]
            done = sum(1 for r in records if is_final(r.get("status")))
            msg = f"polled {len(records)} task(s) in {took:.2f} s: {done} finished"
            if errors:
                self._show_error(f"{msg}; {len(errors)} error(s), e.g. {errors[0]['last_error']}")
            else:
                self._say(msg)
            self.redraw()

        self._worker.run(work, wait=wait)

    def cancel(self, task_id: str, *, wait: bool = False) -> None:
        """Cancel a batch (worker thread): the API moves it to cancelling, then cancelled."""
        if not self._need_client():
            return

        def work() -> None:
            rec = cancel_batch(self.store, self.client, task_id)
            self._say(f"batch {task_id}: {rec.get('status')}")
            self.redraw()
            if self.auto.value:
                self._auto.start()

        self._worker.run(work, wait=wait)

    def delete(self, task_id: str) -> None:
        """Remove one task from the list (and the store)."""
        self.store.delete(task_id)
        self._row_cache.pop(task_id, None)
        self._say(f"removed task {task_id}")
        self.redraw()

    def clear_finished(self) -> int:
        """Remove every finished task shown (this notebook's, or all); returns how many."""
        done = [r["id"] for r in self.visible() if is_final(r.get("status"))]
        for task_id in done:
            self.store.delete(task_id)
            self._row_cache.pop(task_id, None)
        self._say(f"removed {len(done)} finished task(s)")
        self.redraw()
        return len(done)

    def visible(self) -> list[dict[str, Any]]:
        """The records the list shows, newest first: not removed, and this notebook's unless "all"."""
        records = self.store.list()
        if self.scope.value == SCOPES[0]:
            records = [r for r in records if r.get("notebook") == self.notebook]
        return records

    def join(self, timeout: float | None = None) -> None:
        """Wait for the current action (tests and scripts)."""
        self._worker.join(timeout)

    def close(self) -> None:
        self._auto.stop()
        close_children(self)
        super().close()

    def _kind_changed(self, change: dict[str, Any]) -> None:
        from ...api.config import DEFAULT_MODEL, DEFAULT_VIDEO_MODEL

        options = _model_options(change["new"])
        self.model.options = options
        preferred = DEFAULT_VIDEO_MODEL if change["new"] == "video" else DEFAULT_MODEL
        if preferred in options:
            self.model.value = preferred

    # auto refresh -------------------------------------------------------------------------------
    def _auto_toggled(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._auto.start()
        else:
            self._auto.stop()

    def _auto_round(self) -> bool:
        if not self.store.pending() or self.client is None:
            return False
        records = refresh(self.store, self.client)
        errors = [r for r in records if r.get("last_error")]
        if errors:
            self._show_error(f"auto-refresh: {errors[0]['last_error']}")
        self.redraw()
        return bool(self.store.pending())

    def _auto_stopped(self, error: BaseException | None) -> None:
        if error is not None:
            self._show_error(f"auto-refresh stopped: {describe_error(error)}")
        else:
            self._say("auto-refresh: nothing pending, stopped")
        self.auto.value = False
        self.redraw()

    # drawing ------------------------------------------------------------------------------------
    def redraw(self) -> None:
        """Rebuild the list, newest first (at most ``MAX_ROWS``); unchanged rows keep their widget."""
        with self._draw_lock:
            now = time.time()
            records = self.visible()
            children: list[Any] = []
            for rec in records[:MAX_ROWS]:
                age = 0 if is_final(rec.get("status")) else int(now - float(rec.get("submitted") or now))
                alive = self._video_alive(rec)
                key = (rec.get("status"), rec.get("updated"), rec.get("last_error"), age, alive)
                cached = self._row_cache.get(rec["id"])
                if cached is None or cached[0] != key:
                    row = cached[1] if cached else TaskRow(rec["id"], self.delete, self.cancel)
                    row.paint(rec, now, alive)
                    self._row_cache[rec["id"]] = (key, row)
                children.append(self._row_cache[rec["id"]][1])
            if len(records) > MAX_ROWS:
                more = len(records) - MAX_ROWS
                children.append(W.HTML(f'<div style="opacity:0.6">{more} older task(s) not shown</div>'))
            if not children:
                scope = "for this notebook " if self.scope.value == SCOPES[0] else ""
                children = [W.HTML(f'<div style="opacity:0.6">no tasks {scope}yet</div>')]
            self.rows.children = tuple(children)
        self._check_videos(records[:MAX_ROWS])

    def _video_alive(self, record: Mapping[str, Any]) -> bool | None:
        """Known reachability of a finished video's links (None: not checked yet, or not a video)."""
        urls = video_urls(record) if record.get("kind") == "video" else []
        known = [self._reachable.get(u) for u in urls]
        if not urls or None in known:
            return None
        return all(known)

    def _check_videos(self, records: list[dict[str, Any]]) -> None:
        """Check unchecked video links on a daemon thread, then repaint (a dead link: one line)."""
        urls = [u for r in records if r.get("kind") == "video" for u in video_urls(r)]
        todo = [u for u in dict.fromkeys(urls) if u not in self._reachable and u not in self._checking]
        if not todo:
            return
        self._checking.update(todo)

        def check() -> None:
            for url in todo:
                self._reachable[url] = reachable(url)
                self._checking.discard(url)
            self.redraw()

        threading.Thread(target=check, name="glm-video-check", daemon=True).start()
