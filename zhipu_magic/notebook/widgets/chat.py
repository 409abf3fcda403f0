"""The chat panel (``%glm chat [NAME]``): a conversation shared with ``%%glm -c NAME``, streamed on a
worker thread so a Stop click is seen at once.

A view over the shared conversation registry (:mod:`zhipu_magic.core.conversation`). The entry
point (``chat_panel``) is in :mod:`.widgets`. Answers are painted with ``render.reply_html``, the
history with ``render.history_bundle``: the same HTML a cell shows.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import ipywidgets as W

from ...api import calls
from ...api.errors import describe_error
from ...core import ledger
from ...core.reply import Reply
from .. import render
from ..render.panels import reopen_note_bundle as render_note
from .base import Background, Panel, client_or_error, close_children, is_local
from .prompt import PromptBox


def shutdown_stream(stream: Any) -> None:
    """Close a stream's connection *now*, from another thread (``ChatStream.shutdown``)."""
    try:
        stream.shutdown()
    except Exception:  # noqa: BLE001 - best effort: the worker's finally closes the stream anyway
        pass


class ChatPanel(Panel, W.VBox):
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
        from ...api.config import DEFAULT_MODEL
        from ...api.models import MODELS
        from ...core.conversation import conversations

        self.name = name
        self.client, problem = client_or_error(client)
        self.registry = registry if registry is not None else conversations
        self.min_interval = min_interval
        self.reply: Any = None  # the last (or current) Reply, for scripts and tests
        self._stream: Any = None
        self._stop = threading.Event()
        self._worker = Background(self._show_error)
        models = [m.name for m in MODELS.values() if m.kind == "chat" and m.stream]
        self.history = W.HTMLMath(layout=W.Layout(max_height="480px", overflow="auto"))
        self.live = W.HTMLMath()
        self.input = PromptBox(
            placeholder=f"Message {name}: Shift+Enter or Ctrl/Cmd+Enter sends, Enter adds a line"
        )
        self.input.on_submit(self.send)
        self._confirm_clear = False
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
        self.add_class("zm-live")
        self.send_button.on_click(lambda _b: self.send())
        self.stop_button.on_click(lambda _b: self.stop())
        self.clear_button.on_click(lambda _b: self.clear_clicked())
        self._unsubscribe = self.registry.subscribe(self._conversation_changed)
        if problem:
            self._show_error(problem)
        self.redraw()

    def plain_text(self) -> str:
        """A summary for saved notebooks, nbconvert and terminals."""
        turns = sum(m.get("role") == "user" for m in self.registry.messages(self.name))
        return f"chat panel: conversation {self.name!r}, {turns} turns"

    def reopen_note(self) -> dict[str, str]:
        return render_note(
            f"chat panel for conversation {self.name!r}: run this cell to reopen it"
            f" (%glm history {self.name} shows the conversation)"
        )

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
        if not self._need_client():
            return
        self._cancel_clear()
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

    def clear_clicked(self) -> None:
        """The Clear button asks first: the conversation is shared with ``%%glm -c NAME`` cells."""
        if not self._confirm_clear:
            self._confirm_clear = True
            self.clear_button.description, self.clear_button.button_style = "Really clear?", "danger"
            self._say(
                f"Clear forgets conversation {self.name!r} for %%glm -c {self.name} cells too:"
                " click again to clear"
            )
            return
        self.clear()

    def _cancel_clear(self) -> None:
        self._confirm_clear = False
        self.clear_button.description, self.clear_button.button_style = "Clear", ""

    def clear(self) -> None:
        """Forget this conversation (for ``%%glm -c NAME`` too)."""
        self._cancel_clear()
        self.stop()
        self.conversation.reset()
        self.live.value = ""
        self._say(f"conversation {self.name!r} cleared")

    def join(self, timeout: float | None = None) -> None:
        self._worker.join(timeout)

    def close(self) -> None:
        self.stop()
        self._unsubscribe()
        close_children(self)
        super().close()

    # the worker -------------------------------------------------------------------------------------
    def _answer(self, text: str, model: str) -> None:
        messages = [*self.conversation.messages(), {"role": "user", "content": text}]
        reply = self.reply = Reply(model, messages, local=is_local(self.client))
        request = calls.stream(messages, model)
        self.live.value = render.reply_html(reply, final=False)
        last_paint = 0.0
        try:
            stream = self._stream = self.client.open_stream(request, into=reply)  # it fills the reply
            try:
                for _chunk in stream:
                    if self._stop.is_set():
                        break
                    now = time.monotonic()
                    if now - last_paint >= self.min_interval:
                        self.live.value = render.reply_html(reply, final=False)
                        last_paint = now
            finally:
                self._stream = None
                stream.close()
        except Exception as exc:  # noqa: BLE001 - a GLMError or any other: shown as one line, partial kept
            if not self._stop.is_set():  # after Stop, whatever the torn-down read raised is the stop
                reply.error = exc
        finally:
            reply.interrupted = self._stop.is_set()
            reply.finish()
            self.send_button.disabled, self.stop_button.disabled = False, True
        base_url = getattr(self.client, "base_url", None)
        ledger.record(
            reply,
            request.body,
            kind="chat_panel",
            local=reply.local,
            base_url=base_url,
            conversation=self.name,
        )
        self._finish(text, reply)

    def _finish(self, text: str, reply: Any) -> None:
        if reply.error is not None:
            self.live.value = render.reply_html(reply, final=True)  # partial answer + "failed" note
            self._show_error(describe_error(reply.error))
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
        messages = [m for m in self.registry.messages(self.name) if m.get("role") != "system"]
        if messages:
            self.history.value = render.history_bundle(self.name, messages)["text/html"]
        else:
            self.history.value = (
                f'<div style="opacity:0.6">conversation {render.escape(self.name)}: no messages yet</div>'
            )
