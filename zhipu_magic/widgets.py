"""Widgets: the task card (``%%glm --async``), the task panel (``%glm tasks``), the chat panel.

ipywidgets is imported here only, and this module is imported only when a widget is wanted, so
``%load_ext zhipu_magic`` stays light. Widgets never turn model text into HTML themselves: answers
go through :mod:`.render` (``reply_html`` / ``safe_markdown_html``), and every other string that
reaches an ``HTML`` widget (ids, status strings, server reasons, prompts, URLs) is escaped with
``render.escape``. ``ipywidgets.HTML`` sets ``innerHTML`` unsanitized, so this matters.

Button callbacks run on the kernel's shell thread, and a second click (Stop!) is only seen when that
thread is free. So every action that talks HTTP runs on a worker thread and paints the widgets when
it is done; the click itself returns at once. Errors become one escaped line in the widget.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as W

from . import render
from .polling import AutoRefresher, poll_task, refresh
from .tasks import FAIL, PROCESSING, SUCCESS, TaskStore, get_store, is_final, reply_from_record

BADGE_COLORS = {PROCESSING: "#b45309", SUCCESS: "#15803d", FAIL: "#b91c1c"}
_HTTP_URL = re.compile(r"^https?://[^\s\"'<>\\`]+$", re.IGNORECASE)


# -- pieces of HTML (all escaped; answers via render) ------------------------------------------
def one_line(exc: BaseException | str) -> str:
    """An error as one line: GLMError's ``str`` already is; others get their type name."""
    from .errors import GLMError

    if isinstance(exc, str):
        text = exc
    elif isinstance(exc, GLMError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:400]


def error_html(message: str) -> str:
    return f'<div class="zm-error" style="color:#b91c1c">\u26a0 {render.escape(message)}</div>'


def badge_html(status: object) -> str:
    """The status as a coloured pill; unknown status strings are shown (escaped) in grey."""
    text = str(status or "?")
    color = BADGE_COLORS.get(text, "#6b7280")
    return (
        f'<span class="zm-badge zm-badge-{render.escape(text.lower())}" style="background:{color};'
        'color:white;border-radius:8px;padding:1px 8px;font-size:0.8em;font-weight:600">'
        f"{render.escape(text)}</span>"
    )


def elapsed_text(record: Mapping[str, Any], now: float | None = None) -> str:
    """Seconds since submission (until it finished)."""
    start = float(record.get("submitted") or 0)
    if not start:
        return ""
    end = float(record.get("finished") or 0) or (time.time() if now is None else now)
    secs = max(0.0, end - start)
    return f"{secs:.1f} s" if secs < 90 else f"{int(secs // 60)} min {int(secs % 60):02d} s"


def safe_http_url(url: object) -> str | None:
    """The URL if it is plain http(s) with nothing that could break out of an attribute."""
    if isinstance(url, str) and _HTTP_URL.match(url.strip()):
        return url.strip()
    return None


def video_html(result: Mapping[str, Any]) -> str:
    """A ``<video>`` player and cover image for each http(s) video in a video task result."""
    parts = []
    for item in result.get("video_result") or []:
        if not isinstance(item, Mapping):
            continue
        url, cover = safe_http_url(item.get("url")), safe_http_url(item.get("cover_image_url"))
        if url:
            poster = f' poster="{render.escape(cover)}"' if cover else ""
            parts.append(
                f'<video class="zm-video" controls preload="metadata" style="max-width:360px;width:100%"'
                f' src="{render.escape(url)}"{poster}></video>'
                f'<div><a href="{render.escape(url)}" target="_blank" rel="noopener noreferrer">'
                f"{render.escape(url)}</a></div>"
            )
        if cover:
            parts.append(
                f'<div class="zm-cover"><img src="{render.escape(cover)}" alt="cover image"'
                ' style="max-width:160px;border:1px solid #ddd"></div>'
            )
    return "".join(parts) or error_html("the task succeeded but returned no http(s) video URL")


def task_header_html(record: Mapping[str, Any], now: float | None = None) -> str:
    """``[badge] id · model · kind · elapsed`` plus the shortened prompt, all escaped."""
    bits = [str(record.get("id", "?")), str(record.get("model") or "?"), str(record.get("kind") or "chat")]
    elapsed = elapsed_text(record, now)
    if elapsed:
        bits.append(elapsed)
    prompt = record.get("prompt") or ""
    return (
        f'<div class="zm-task-header">{badge_html(record.get("status"))} '
        f"<code>{render.escape(' · '.join(bits))}</code>"
        + (f'<div style="opacity:0.7">{render.escape(prompt)}</div>' if prompt else "")
        + "</div>"
    )


def task_body_html(record: Mapping[str, Any]) -> str:
    """What the task produced: the answer (via render), the video, the failure reason, or a wait note."""
    status = record.get("status")
    if status == SUCCESS:
        if record.get("kind") == "video":
            return video_html(record.get("result") or {})
        reply = reply_from_record(record)
        return render.reply_html(reply, final=True) if reply is not None else ""
    if status == FAIL:
        return error_html(f"FAIL: {record.get('error') or 'no reason given'}")
    note = f"{status or 'pending'} \u2014 press Refresh to check again"
    out = f'<div class="zm-pending" style="opacity:0.7">{render.escape(note)}</div>'
    if record.get("last_error"):
        out += error_html(str(record["last_error"]))
    return out


def task_card_bundle(record: Mapping[str, Any]) -> dict[str, str]:
    """The non-widget fallback (terminal IPython, nbconvert): a static card as a mime bundle."""
    reply = reply_from_record(record)
    plain = [
        f"task {record.get('id')} · {record.get('model')} · {record.get('status')} · {elapsed_text(record)}"
    ]
    if reply is not None:
        plain.append(render.reply_text(reply, final=True))
    elif record.get("status") == FAIL:
        plain.append(f"FAIL: {record.get('error')}")
    elif record.get("kind") == "video" and record.get("status") == SUCCESS:
        plain += [str(v.get("url")) for v in (record.get("result") or {}).get("video_result") or []]
    else:
        plain.append(
            f"still {record.get('status')}: fetch it with %glm result {record.get('id')} (or %glm tasks)"
        )
    html = f'<div class="zm-task-card">{task_header_html(record)}{task_body_html(record)}</div>'
    return {"text/html": html, "text/plain": "\n".join(plain)}


# -- a worker thread per action -----------------------------------------------------------------
class _Background:
    """Runs one action at a time off the shell thread; its error lands in ``on_error`` as one line."""

    def __init__(self, on_error: Callable[[str], None]) -> None:
        self._thread: threading.Thread | None = None
        self._on_error = on_error

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, fn: Callable[[], None], *, wait: bool = False) -> bool:
        """Start ``fn`` unless an action is already running; ``wait`` joins it (tests, scripts)."""
        if self.busy:
            return False
        self._thread = threading.Thread(target=self._guard, args=(fn,), name="glm-widget", daemon=True)
        self._thread.start()
        if wait:
            self.join()
        return True

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _guard(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - shown in the widget, never a lost traceback
            self._on_error(one_line(exc))


def default_client() -> Any:
    """A client for the panels when none is given.

    With the extension loaded, the magics' own backend (so ``%glm login`` and ``%glm config`` apply
    to the panels too); otherwise the configured key, else the local server.
    """
    from .client import GLMClient
    from .config import resolve_api_key

    try:
        from IPython import get_ipython

        magics = getattr(get_ipython(), "_zhipu_magic", None)
    except ImportError:
        magics = None
    backend = getattr(magics, "_backend", None)
    if callable(backend):
        return backend()[0]

    if resolve_api_key() is not None:
        return GLMClient()
    from .server import start_local_server

    return start_local_server().client()


def _client_or_error(client: Any) -> tuple[Any, str | None]:
    """``(client, None)``, or ``(None, one-line reason)`` when no client can be made (no key)."""
    if client is not None:
        return client, None
    try:
        return default_client(), None
    except Exception as exc:  # noqa: BLE001 - e.g. MissingKeyError: shown in the panel
        return None, one_line(exc)


def _is_local(client: Any) -> bool:
    return str(getattr(client, "base_url", "")).startswith(("http://127.0.0.1:", "http://localhost:"))


# -- task card ------------------------------------------------------------------------------------
class TaskCard(W.VBox):
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
        self.body = W.HTML()
        self._worker = _Background(self._show_error)
        super().__init__([W.HBox([self.header, self.refresh_button]), self.message, self.body])
        self.add_class("zm-task-card")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.update(self.record)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget view plus a useful plain text (saved notebooks, nbconvert, logs)."""
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = task_card_bundle(self.record)["text/plain"]
        return bundle

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


def task_card(task: Mapping[str, Any] | str, client: Any, store: TaskStore | None = None) -> TaskCard:
    """The card ``%%glm --async`` shows (a widget); ``task_card_bundle`` is the non-widget twin."""
    return TaskCard(task, client, store)


def show_task(task: Mapping[str, Any] | str, client: Any, store: TaskStore | None = None) -> TaskCard | None:
    """Display a task: the live card in a widget front end, the static bundle elsewhere (terminal)."""
    store = store or get_store()
    if render.is_rich_frontend():
        from IPython.display import display

        card = task_card(task, client, store)
        display(card)
        return card
    task_id = str(task["id"] if isinstance(task, Mapping) else task)
    record = store.get(task_id) or (dict(task) if isinstance(task, Mapping) else {"id": task_id})
    render.show(task_card_bundle(record))
    return None


# -- task panel -----------------------------------------------------------------------------------
def _model_options(kind: str) -> list[str]:
    from .models import MODELS

    return [m.name for m in MODELS.values() if m.kind == kind and m.async_]


class TaskPanel(W.VBox):
    """Submit chat/video tasks, list them newest first, refresh all pending ones concurrently."""

    def __init__(
        self, client: Any = None, store: TaskStore | None = None, *, auto_interval: float = 2.0
    ) -> None:
        from .config import DEFAULT_MODEL

        self.client, problem = _client_or_error(client)
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
        self._worker = _Background(self._show_error)
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
            self.status.value = error_html(problem or self.store.problem or "")
        self.redraw()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget view plus a plain-text summary (saved notebooks, nbconvert, terminals)."""
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        records = self.store.list()
        pending = sum(not is_final(r.get("status")) for r in records)
        bundle["text/plain"] = f"task panel: {len(records)} tasks, {pending} pending"
        return bundle

    def _need_client(self) -> bool:
        """Make the client now if it could not be made before (e.g. ``%glm login`` since)."""
        if self.client is None:
            self.client, problem = _client_or_error(None)
            if problem:
                self._show_error(problem)
        return self.client is not None

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
            if kind == "video":
                response = self.client.video(text, model=model)
            else:
                response = self.client.submit(text, model=model)
            rec = self.store.record_submission(
                response,
                kind=kind,
                model=model,
                prompt=text,
                base_url=getattr(self.client, "base_url", None),
                local=_is_local(self.client),
            )
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
        from .config import DEFAULT_MODEL, DEFAULT_VIDEO_MODEL

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
            self._show_error(f"auto-refresh stopped: {one_line(error)}")
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
                row = cached[1] if cached else W.HTML()
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

    def _say(self, message: str) -> None:
        self.status.value = f'<div class="zm-status" style="opacity:0.7">{render.escape(message)}</div>'

    def _show_error(self, message: str) -> None:
        self.status.value = error_html(message)


def task_panel(client: Any = None, store: TaskStore | None = None) -> TaskPanel:
    """The ``%glm tasks`` panel."""
    return TaskPanel(client, store)


# -- chat panel -------------------------------------------------------------------------------------
def shutdown_stream(stream: Any) -> None:
    """Close a stream's connection *now*, from another thread (``ChatStream.shutdown``)."""
    try:
        stream.shutdown()
    except Exception:  # noqa: BLE001 - best effort: the worker's finally closes the stream anyway
        pass


class ChatPanel(W.VBox):
    """A chat over the named conversation that ``%%glm -c NAME`` uses, streamed from a worker thread.

    History, input, Send, Stop, model, Clear. The answer streams into ``live`` (throttled to
    ``min_interval``) on a worker thread, so the shell thread stays free to process a Stop click,
    which sets an event and shuts the socket down at once. Turns go into the shared conversation
    registry, and changes made there by the magic repaint the history.
    """

    def __init__(
        self,
        name: str = "default",
        client: Any = None,
        *,
        registry: Any = None,
        min_interval: float = 0.1,
    ) -> None:
        from .config import DEFAULT_MODEL
        from .conversation import conversations
        from .models import MODELS

        self.name = name
        self.client, problem = _client_or_error(client)
        self.registry = registry if registry is not None else conversations
        self.min_interval = min_interval
        self.reply: Any = None  # the last (or current) Reply, for scripts and tests
        self._stream: Any = None
        self._stop = threading.Event()
        self._worker = _Background(self._show_error)
        models = [m.name for m in MODELS.values() if m.kind == "chat" and m.stream]
        self.history = W.HTML(layout=W.Layout(max_height="480px", overflow="auto"))
        self.live = W.HTML()
        self.input = W.Textarea(placeholder=f"Message {name}", layout=W.Layout(width="100%"))
        self.model = W.Dropdown(
            options=models, value=DEFAULT_MODEL if DEFAULT_MODEL in models else models[0], description="Model"
        )
        self.send_button = W.Button(description="Send", button_style="primary", icon="paper-plane")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.clear_button = W.Button(description="Clear", icon="trash")
        self.status = W.HTML()
        super().__init__(
            [
                self.history,
                self.live,
                self.input,
                W.HBox([self.send_button, self.stop_button, self.model, self.clear_button]),
                self.status,
            ]
        )
        self.add_class("zm-chat-panel")
        self.send_button.on_click(lambda _b: self.send())
        self.stop_button.on_click(lambda _b: self.stop())
        self.clear_button.on_click(lambda _b: self.clear())
        self._unsubscribe = self.registry.subscribe(self._conversation_changed)
        if problem:
            self._show_error(problem)
        self.redraw()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget view plus a plain-text summary (saved notebooks, nbconvert, terminals)."""
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        turns = sum(m.get("role") == "user" for m in self.conversation.messages())
        bundle["text/plain"] = f"chat panel: conversation {self.name!r}, {turns} turns"
        return bundle

    @property
    def conversation(self) -> Any:
        return self.registry.get(self.name)

    @property
    def streaming(self) -> bool:
        return self._worker.busy

    # actions ----------------------------------------------------------------------------------
    def send(self, prompt: str | None = None, *, wait: bool = False) -> None:
        """Stream an answer to ``prompt`` (default: the input box) on a worker thread."""
        text = (self.input.value if prompt is None else prompt).strip()
        if not text:
            self._show_error("type a message first")
            return
        if self.streaming:
            self._show_error("an answer is still streaming: Stop it first")
            return
        if self.client is None:
            self.client, problem = _client_or_error(None)
            if problem:
                self._show_error(problem)
                return
        self.input.value = ""
        self._stop.clear()
        self.send_button.disabled, self.stop_button.disabled = True, False
        self._say("")
        self._worker.run(lambda: self._answer(text, self.model.value), wait=wait)

    def stop(self) -> None:
        """Stop the answer now: the worker sees the event, the socket is shut down at once."""
        self._stop.set()
        stream = self._stream
        if stream is not None:
            shutdown_stream(stream)

    def clear(self) -> None:
        """Forget this conversation (for ``%%glm -c NAME`` too)."""
        self.stop()
        self.conversation.reset()
        self.live.value = ""
        self._say(f"conversation {self.name!r} cleared")

    def join(self, timeout: float | None = None) -> None:
        self._worker.join(timeout)

    def close(self) -> None:
        self.stop()
        self._unsubscribe()
        super().close()

    # the worker -------------------------------------------------------------------------------------
    def _answer(self, text: str, model: str) -> None:
        from .errors import GLMError
        from .reply import Reply

        messages = [*self.conversation.messages(), {"role": "user", "content": text}]
        reply = self.reply = Reply(model, messages, local=_is_local(self.client))
        self.live.value = render.reply_html(reply, final=False)
        last_paint = 0.0
        try:
            stream = self._stream = self.client.stream(messages, model=model)
            try:
                for chunk in stream:
                    reply.add_chunk(chunk)
                    if self._stop.is_set():
                        break
                    now = time.monotonic()
                    if now - last_paint >= self.min_interval:
                        self.live.value = render.reply_html(reply, final=False)
                        last_paint = now
            finally:
                self._stream = None
                stream.close()
        except GLMError as exc:
            if not self._stop.is_set():  # a connection we shut down ourselves is not an error
                reply.error = exc
        except Exception as exc:  # noqa: BLE001 - shown as one line, partial kept
            if not self._stop.is_set():  # after Stop, whatever the torn-down read raised is the stop
                reply.error = exc
        finally:
            reply.interrupted = self._stop.is_set()
            reply.finish()
            self.send_button.disabled, self.stop_button.disabled = False, True
        self._finish(text, reply)

    def _finish(self, text: str, reply: Any) -> None:
        if reply.error is not None:
            self.live.value = render.reply_html(reply, final=True)  # partial answer + "failed" note
            self._show_error(one_line(reply.error))
            return
        if reply.text or reply.reasoning:
            self.live.value = ""
            self.conversation.add_turn(text, reply.text, reasoning=reply.reasoning)  # repaints history
        else:
            self.live.value = render.reply_html(reply, final=True)
        note = " · stopped: the answer above is partial" if reply.interrupted else ""
        self._say(render.footer_text(reply) + note)

    # drawing ------------------------------------------------------------------------------------
    def _conversation_changed(self, name: str) -> None:
        if name == self.name:
            self.redraw()

    def redraw(self) -> None:
        """Repaint the history from the shared conversation (render.history_bundle escapes it)."""
        messages = [m for m in self.conversation.messages() if m.get("role") != "system"]
        if messages:
            self.history.value = render.history_bundle(self.name, messages)["text/html"]
        else:
            self.history.value = (
                f'<div style="opacity:0.6">conversation {render.escape(self.name)}: no messages yet</div>'
            )

    def _say(self, message: str) -> None:
        self.status.value = (
            f'<div class="zm-status" style="opacity:0.7">{render.escape(message)}</div>' if message else ""
        )

    def _show_error(self, message: str) -> None:
        self.status.value = error_html(message)


def chat_panel(name: str | None = None, client: Any = None) -> ChatPanel:
    """The ``%glm chat [NAME]`` panel (default conversation name: ``default``)."""
    return ChatPanel(name or "default", client)
