"""``Answer``: THE accumulator of a chat answer, from stream chunks or from a whole response.

Written once and used twice: :class:`~zhipu_magic.api.stream.ChatStream` feeds one as it decodes
(``stream.text`` and ``err.partial`` come from it), and the notebook's
:class:`~zhipu_magic.core.reply.Reply` *is* one (a subclass with timing and display state), handed
to the stream so each delta is parsed exactly once.

``add_chunk`` sits on the per-token hot path: exact type checks, appends to lists. Strings are
joined lazily when ``.text`` / ``.reasoning`` are read (display ticks, not tokens).

GLM-Z1 models put their chain of thought into ``content`` as ``<think>...</think>``; the split is a
small state machine that keeps at most a partial tag pending, so tags cut across chunks (``"<thi"``,
``"nk>"``) are still recognised. ``<think>`` only counts at the very start of the answer, so an
answer that *talks about* think tags later on is left alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

_OPEN = "<think>"
_CLOSE = "</think>"

# States of the <think> splitter.
_LEAD = 0  # nothing but whitespace seen in content so far: a <think> may still open
_THINK = 1  # inside <think>...</think>
_ANSWER = 2  # plain answer text; tags no longer special
_AFTER = 3  # just after </think>: whitespace before the answer is dropped

MAX_TOOL_CALLS = 128  # the API's limit on tools; an index beyond it is taken as "the next one"


class Answer:
    """Text, reasoning, tool calls, usage and finish reason of one answer, as they arrive."""

    def __init__(self, model: str | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.model = model
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self.request_id: str | None = None
        self.tool_calls: list[dict[str, Any]] = []
        self.chunks = 0
        self._clock = clock
        self.first_token_at: float | None = None
        self.finished_at: float | None = None
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._state = _LEAD
        self._pending = ""  # content held back: leading whitespace or a partial tag

    # -- reading -----------------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The answer so far (without any ``<think>`` block)."""
        return _joined(self._text)

    @property
    def reasoning(self) -> str:
        """The reasoning so far, from ``reasoning_content`` or a leading ``<think>`` block."""
        return _joined(self._reasoning)

    @property
    def answering(self) -> bool:
        """True once answer text (not reasoning) has started; closes the reasoning section."""
        return bool(self._text)

    @property
    def done(self) -> bool:
        return self.finished_at is not None

    # -- feeding -----------------------------------------------------------------------------
    def add_chunk(self, chunk: dict[str, Any]) -> None:
        """Take one stream chunk (``choices[0].delta``, ``finish_reason``, ``usage``). Cheap."""
        self.chunks += 1
        choices = chunk.get("choices")
        if choices and type(choices) is list:
            choice = choices[0]
            if type(choice) is dict:
                delta = choice.get("delta")
                if delta and type(delta) is dict:
                    self._add_delta(delta)
                reason = choice.get("finish_reason")
                if reason:
                    self.finish_reason = str(reason)
        usage = chunk.get("usage")
        if usage and type(usage) is dict:
            self.usage = usage
        if chunk.get("model") and type(chunk["model"]) is str:
            self.model = chunk["model"]
        if self.request_id is None:
            self.request_id = chunk.get("request_id") or chunk.get("id")

    def _add_delta(self, delta: dict[str, Any]) -> None:
        reasoning = _str_or_none(delta.get("reasoning_content"))
        content = _str_or_none(delta.get("content"))
        if reasoning or content:
            if self.first_token_at is None:
                self.first_token_at = self._clock()
            if reasoning:
                self._reasoning.append(reasoning)
            if content:
                if self._state == _ANSWER:
                    self._text.append(content)
                else:
                    self._add_content(content)
        calls = delta.get("tool_calls")
        if calls:
            self._add_tool_calls(calls)

    def set_response(self, resp: dict[str, Any]) -> None:
        """Take a whole (non-stream or async-result) response and mark the answer finished."""
        self.model = resp.get("model") or self.model
        self.request_id = resp.get("request_id") or resp.get("id") or self.request_id
        choices = resp.get("choices") or []
        if isinstance(choices, list) and choices:
            choice = choices[0] if isinstance(choices[0], dict) else {}
            message = choice.get("message") or {}
            if not isinstance(message, dict):
                message = {}
            if self.first_token_at is None:
                self.first_token_at = self._clock()
            if _str_or_none(message.get("reasoning_content")):
                self._reasoning.append(message["reasoning_content"])
            if _str_or_none(message.get("content")):
                self._add_content(message["content"])
            if message.get("tool_calls"):
                self._add_tool_calls(message["tool_calls"])
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
        if resp.get("usage") and isinstance(resp["usage"], dict):
            self.usage = resp["usage"]
        self.finish()

    def finish(self) -> None:
        """End of input: release any held-back partial tag; stamp the finish time."""
        if self._pending:
            if self._state == _THINK:
                self._reasoning.append(self._pending)
            elif self._pending.strip():
                self._text.append(self._pending)
            self._pending = ""
        if self.finished_at is None:
            self.finished_at = self._clock()

    # -- the <think> splitter ------------------------------------------------------------------
    def _add_content(self, piece: str) -> None:
        buf = self._pending + piece
        self._pending = ""
        while buf:
            if self._state == _ANSWER:
                self._text.append(buf)
                return
            if self._state == _AFTER:  # drop the blank lines between </think> and the answer
                buf = buf.lstrip()
                if buf:
                    self._state = _ANSWER
                continue
            if self._state == _LEAD:
                stripped = buf.lstrip()
                if stripped.startswith(_OPEN):
                    self._state = _THINK
                    buf = stripped[len(_OPEN) :]
                    continue
                if _OPEN.startswith(stripped):  # only whitespace or a partial "<think"
                    self._pending = buf
                    return
                self._state = _ANSWER
                continue
            buf = self._add_thinking(buf)

    def _add_thinking(self, buf: str) -> str:
        """Inside ``<think>``: keep reasoning up to ``</think>``; returns what follows the tag."""
        end = buf.find(_CLOSE)
        if end >= 0:
            if end:
                self._reasoning.append(buf[:end])
            self._state = _AFTER
            return buf[end + len(_CLOSE) :]
        cut = buf.rfind("<", max(0, len(buf) - len(_CLOSE) + 1))
        if cut >= 0 and _CLOSE.startswith(buf[cut:]):
            self._pending = buf[cut:]
            buf = buf[:cut]
        if buf:
            self._reasoning.append(buf)
        return ""

    def _add_tool_calls(self, calls: list[dict[str, Any]]) -> None:
        if not isinstance(calls, list):
            return
        for call in calls:
            if isinstance(call, dict):
                self._add_tool_call(call)

    def _add_tool_call(self, call: dict[str, Any]) -> None:
        index = call.get("index", len(self.tool_calls))
        if not isinstance(index, int) or not 0 <= index < MAX_TOOL_CALLS:
            index = len(self.tool_calls)
        while len(self.tool_calls) <= index:
            self.tool_calls.append(
                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
            )
        slot = self.tool_calls[index]
        if call.get("id"):
            slot["id"] = call["id"]
        if call.get("type"):
            slot["type"] = call["type"]
        fn = call.get("function") or {}
        if not isinstance(fn, dict):
            return
        if fn.get("name"):
            slot["function"]["name"] = fn["name"]
        args = fn.get("arguments")
        if isinstance(args, str):
            slot["function"]["arguments"] += args
        elif args is not None:
            slot["function"]["arguments"] += json.dumps(args, ensure_ascii=False)


def _joined(parts: list[str]) -> str:
    """Join in place, so repeated reads stay cheap."""
    if len(parts) > 1:
        parts[:] = ["".join(parts)]
    return parts[0] if parts else ""


def _str_or_none(value: Any) -> str | None:
    """Model text fields are strings; anything else (a number, a list) is skipped, not fatal."""
    return value if type(value) is str else None
