"""The ``%glm tasks`` panel: submit chat/video tasks, list them newest first, refresh all pending ones
at once, auto-refresh.

A view over the task store (:mod:`zhipu_magic.core.tasks`); its HTML comes from
:mod:`..render.panels` (escaped; answers via ``reply_html``). The entry point is in :mod:`.widgets`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import ipywidgets as W

from ...api.errors import describe_error
from ...core.tasks.polling import AutoRefresher, refresh, submit_task
from ...core.tasks.store import TaskStore, get_store, is_final
from ..render.panels import task_body_html, task_header_html
from .base import Background, Panel, client_or_error


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
        self.status = W.HTML()
        self.rows = W.VBox(layout=W.Layout(max_height="520px", overflow="auto"))
        self._row_cache: dict[str, tuple[tuple[Any, ...], W.HTML]] = {}
        self._worker = Background(self._show_error)
        self._auto = AutoRefresher(self._auto_round, interval=auto_interval, on_stop=self._auto_stopped)
        super().__init__(
            [
                self.prompt,
                W.HBox([self.kind, self.model, self.submit_button]),
                W.HBox([self.refresh_button, self.auto]),
                self.status,
                self.rows,
            ]
        )
        self.add_class("zm-task-panel")
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

    def join(self, timeout: float | None = None) -> None:
        """Wait for the current action (tests and scripts)."""
        self._worker.join(timeout)

    def close(self) -> None:
        self._auto.stop()
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
        """Rebuild the list, newest first; unchanged rows keep their widget (and open/closed state)."""
        now = time.time()
        children = []
        for i, rec in enumerate(self.store.list()):
            age = 0 if is_final(rec.get("status")) else int(now - float(rec.get("submitted") or now))
            key = (rec.get("status"), rec.get("updated"), rec.get("last_error"), i < 3, age)
            cached = self._row_cache.get(rec["id"])
            if cached is None or cached[0] != key:
                html = self._row_html(rec, open_=i < 3)
                row = cached[1] if cached else W.HTMLMath()
                row.value = html
                self._row_cache[rec["id"]] = (key, row)
            children.append(self._row_cache[rec["id"]][1])
        if not children:
            empty = W.HTML('<div style="opacity:0.6">no tasks yet</div>')
            children = [empty]
        self.rows.children = tuple(children)

    @staticmethod
    def _row_html(record: Mapping[str, Any], *, open_: bool) -> str:
        body = task_body_html(record)
        if is_final(record.get("status")):
            body = f"<details{' open' if open_ else ''}><summary>result</summary>{body}</details>"
        return (
            '<div class="zm-task-row" style="border-top:1px solid #e5e7eb;padding:4px 0">'
            f"{task_header_html(record)}{body}</div>"
        )
