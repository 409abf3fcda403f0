"""``Answer``: THE accumulator of a chat answer, from stream chunks or from a whole response.

Written once and used twice: :class:`~zhipu_magic.api.stream.ChatStream` feeds one as it decodes
(``stream.text`` and ``err.partial`` come from it), and the notebook's
:class:`~zhipu_magic.core.reply.Reply` *is* one (a subclass with timing and display state), handed
to the stream so each delta is parsed exactly once.

``add_chunk`` sits on the per-token hot path: exact type checks, appends to lists. Every 256
pieces are folded into one block (blocks merge like a binary counter, so each character is copied
O(log n) times): a 200,000-token answer is held as a few strings, not 200,000 small objects. The
whole is joined lazily when ``.text`` / ``.reasoning`` are read (display ticks, not tokens).

Every field read from the server is type-checked where it is used: a wrong type (a dict
``finish_reason``, a string token count) is ignored and noted once at DEBUG, never fatal, so an
answer always renders. ``usage`` only ever holds int token counts (and dicts of them).

GLM-Z1 models put their chain of thought into ``content`` as ``<think>...</think>``; the split is a
small state machine that keeps at most a partial tag pending, so tags cut across chunks (``"<thi"``,
``"nk>"``) are still recognised. ``<think>`` only counts at the very start of the answer, so an
answer that *talks about* think tags later on is left alone.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from .usage import clean_usage

log = logging.getLogger("zhipu_magic.api.answer")

_OPEN = "<think>"
_CLOSE = "</think>"

# States of the <think> splitter.
_LEAD = 0  # nothing but whitespace seen in content so far: a <think> may still open
_THINK = 1  # inside <think>...</think>
_ANSWER = 2  # plain answer text; tags no longer special
_AFTER = 3  # just after </think>: whitespace before the answer is dropped

MAX_TOOL_CALLS = 128  # the API's limit on tools; an index beyond it is taken as "the next one"
FOLD = 256  # small pieces kept before they are joined into one block


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
        self._text: list[str] = []  # recent small pieces
        self._reasoning: list[str] = []
        self._text_blocks: list[str] = []  # older pieces, folded (sizes decreasing)
        self._reasoning_blocks: list[str] = []
        self._odd: set[str] | None = None  # fields of the wrong type already noted
        self._state = _LEAD
        self._pending = ""  # content held back: leading whitespace or a partial tag

    # -- reading -----------------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The answer so far (without any ``<think>`` block)."""
        return _joined(self._text_blocks, self._text)

    @property
    def reasoning(self) -> str:
        """The reasoning so far, from ``reasoning_content`` or a leading ``<think>`` block."""
        return _joined(self._reasoning_blocks, self._reasoning)

    @property
    def answering(self) -> bool:
        """True once answer text (not reasoning) has started; closes the reasoning section."""
        return bool(self._text or self._text_blocks)

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
                    content = delta.get("content")
                    if (  # the common token: plain answer text, nothing else in the delta
                        self._state == _ANSWER
                        and type(content) is str
                        and "reasoning_content" not in delta
                        and "tool_calls" not in delta
                    ):
                        parts = self._text
                        parts.append(content)
                        if len(parts) >= FOLD:
                            _fold(self._text_blocks, parts)
                    else:
                        self._add_delta(delta)
                reason = choice.get("finish_reason")
                if reason:
                    self._set_finish_reason(reason)
        usage = chunk.get("usage")
        if usage:
            self._set_usage(usage)
        model = chunk.get("model")
        if model and type(model) is str:
            self.model = model
        if self.request_id is None:
            self._set_request_id(chunk)

    def _add_delta(self, delta: dict[str, Any]) -> None:
        reasoning = delta.get("reasoning_content")
        content = delta.get("content")
        if reasoning and type(reasoning) is str:
            if self.first_token_at is None:
                self.first_token_at = self._clock()
            self._add_reasoning(reasoning)
        if content and type(content) is str:
            if self.first_token_at is None:
                self.first_token_at = self._clock()
            if self._state == _ANSWER:
                parts = self._text
                parts.append(content)
                if len(parts) >= FOLD:
                    _fold(self._text_blocks, parts)
            else:
                self._add_content(content)
        calls = delta.get("tool_calls")
        if calls:
            self._add_tool_calls(calls)

    def set_response(self, resp: dict[str, Any]) -> None:
        """Take a whole (non-stream or async-result) response and mark the answer finished."""
        model = resp.get("model")
        if model and type(model) is str:
            self.model = model
        self._set_request_id(resp)
        choices = resp.get("choices") or []
        if isinstance(choices, list) and choices:
            choice = choices[0] if isinstance(choices[0], dict) else {}
            message = choice.get("message") or {}
            if not isinstance(message, dict):
                message = {}
            if self.first_token_at is None:
                self.first_token_at = self._clock()
            if _str_or_none(message.get("reasoning_content")):
                self._add_reasoning(message["reasoning_content"])
            if _str_or_none(message.get("content")):
                self._add_content(message["content"])
            if message.get("tool_calls"):
                self._add_tool_calls(message["tool_calls"])
            if choice.get("finish_reason"):
                self._set_finish_reason(choice["finish_reason"])
        if resp.get("usage"):
            self._set_usage(resp["usage"])
        self.finish()

    # -- fields checked where they are read ----------------------------------------------------
    def _set_finish_reason(self, reason: Any) -> None:
        if type(reason) is str:
            self.finish_reason = reason
        else:
            self._note("finish_reason", reason)

    def _set_usage(self, usage: Any) -> None:
        clean = clean_usage(usage)
        if clean is None:
            self._note("usage", usage)
        else:
            self.usage = clean

    def _set_request_id(self, obj: dict[str, Any]) -> None:
        for name in ("request_id", "id"):
            value = obj.get(name)
            if value and type(value) is str:
                self.request_id = value
                return
            if value:
                self._note(name, value)

    def _note(self, field: str, value: Any) -> None:
        """A field of the wrong type: ignored, and said once at DEBUG (never the value itself)."""
        if self._odd is None:
            self._odd = set()
        if field not in self._odd:
            self._odd.add(field)
            log.debug(
                "ignored %s from the server: a %s where a string or count was expected",
                field,
                type(value).__name__,
            )

    def _add_text(self, piece: str) -> None:
        self._text.append(piece)
        if len(self._text) >= FOLD:
            _fold(self._text_blocks, self._text)

    def _add_reasoning(self, piece: str) -> None:
        self._reasoning.append(piece)
        if len(self._reasoning) >= FOLD:
            _fold(self._reasoning_blocks, self._reasoning)

    def finish(self) -> None:
        """End of input: release any held-back partial tag; stamp the finish time."""
        if self._pending:
            if self._state == _THINK:
                self._add_reasoning(self._pending)
            elif self._pending.strip():
                self._add_text(self._pending)
            self._pending = ""
        if self.finished_at is None:
            self.finished_at = self._clock()

    # -- the <think> splitter ------------------------------------------------------------------
    def _add_content(self, piece: str) -> None:
        buf = self._pending + piece
        self._pending = ""
        while buf:
            if self._state == _ANSWER:
                self._add_text(buf)
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
                self._add_reasoning(buf[:end])
            self._state = _AFTER
            return buf[end + len(_CLOSE) :]
        cut = buf.rfind("<", max(0, len(buf) - len(_CLOSE) + 1))
        if cut >= 0 and _CLOSE.startswith(buf[cut:]):
            self._pending = buf[cut:]
            buf = buf[:cut]
        if buf:
            self._add_reasoning(buf)
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
        for name in ("id", "type"):
            value = call.get(name)
            if value and type(value) is str:
                slot[name] = value
            elif value:
                self._note(f"tool_calls.{name}", value)
        fn = call.get("function") or {}
        if not isinstance(fn, dict):
            return
        name = fn.get("name")
        if name and type(name) is str:
            slot["function"]["name"] = name
        args = fn.get("arguments")
        if isinstance(args, str):
            slot["function"]["arguments"] += args
        elif args is not None:
            try:
                slot["function"]["arguments"] += json.dumps(args, ensure_ascii=False)
            except (TypeError, ValueError, RecursionError):
                self._note("tool_calls.arguments", args)


def _fold(blocks: list[str], parts: list[str]) -> None:
    """Join ``parts`` into one block; merge it with the blocks before it while they are not
    bigger (a binary counter: O(log n) blocks, each character copied O(log n) times)."""
    block = "".join(parts)
    parts.clear()
    while blocks and len(blocks[-1]) <= len(block):
        block = blocks.pop() + block
    blocks.append(block)


def _joined(blocks: list[str], parts: list[str]) -> str:
    """Everything so far as one string, kept as the only block, so repeated reads stay cheap."""
    if parts or len(blocks) > 1:
        whole = "".join(blocks + parts)  # one allocation: the pieces never exist twice
        parts.clear()
        blocks[:] = [whole] if whole else []
    return blocks[0] if blocks else ""


def _str_or_none(value: Any) -> str | None:
    """Model text fields are strings; anything else (a number, a list) is skipped, not fatal."""
    return value if type(value) is str else None
