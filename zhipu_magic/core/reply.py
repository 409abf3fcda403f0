"""One model answer as the notebook holds it (``_glm``): the accumulated answer plus its story.

:class:`Reply` is an :class:`~zhipu_magic.api.answer.Answer` (the one accumulator of chunks) with
what the display and the user need around it: the messages sent, when it started and first spoke,
whether it was interrupted or failed, retries, a task id, the parsed ``--json`` object. It knows
nothing of display, so the magics, the widgets and plain code can all hold the same object.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from ..api.answer import Answer


class Reply(Answer):
    """A streamed or complete chat answer; see the module docstring."""

    def __init__(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        local: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(model, clock=clock)
        self.model: str = model
        self.messages = list(messages)
        self.local = local
        self.interrupted = False
        self.error: Exception | None = None
        self.task_id: str | None = None
        self.retries = 0  # failed HTTP attempts before this answer (rate limits, 5xx): shown in the footer
        self.parsed: Any = None
        self.json_mode = False
        self.log_id: int | None = None  # its row in the call log
        self.replayed: int | None = None  # the log row it was replayed from (None: a real call)
        self.provenance: dict[str, Any] | None = None  # what the saved output says of its origin
        self.sources: list[dict[str, Any]] = []  # web search results the answer cites (ref_N)
        self.tool_runs: list[dict[str, Any]] = []  # tool calls run so far, with results (the cards)
        self.tool_limit: int | None = None  # rounds made when the tool loop stopped at its limit
        self.tool_rounds = 0  # model calls of a tool cell, when more than one (``usage`` is their sum)
        self.started = clock()

    @property
    def elapsed(self) -> float:
        """Seconds from the request to the end (or to now while it runs)."""
        end = self.finished_at if self.finished_at is not None else self._clock()
        return max(0.0, end - self.started)

    @property
    def waited(self) -> float:
        """Seconds until the first token (or until now, while still waiting)."""
        end = self.first_token_at if self.first_token_at is not None else self._clock()
        return max(0.0, end - self.started)

    def tokens_per_second(self) -> float | None:
        """Completion tokens per second of generation: only for a stream (the one case where the
        time between the first and the last token was measured) with a known usage."""
        out = (self.usage or {}).get("completion_tokens")
        if not out or not self.chunks or not isinstance(out, (int, float)):
            return None
        start = self.first_token_at if self.first_token_at is not None else self.started
        span = (self.finished_at if self.finished_at is not None else self._clock()) - start
        if span < 0.05:  # everything in one burst: per-token timing means nothing, use the total
            span = self.elapsed
        return out / span if span > 0 else None

    def reasoning_tokens(self) -> tuple[int, bool]:
        """``(tokens, estimated)``: the usage's reasoning tokens, or, when the model put its thinking
        in the text without counting it (GLM-Z1's ``<think>``), about four characters a token."""
        details = (self.usage or {}).get("completion_tokens_details")
        counted = details.get("reasoning_tokens") if isinstance(details, dict) else None
        if isinstance(counted, int) and counted > 0:
            return counted, False
        reasoning = self.reasoning
        return ((len(reasoning) + 3) // 4, True) if reasoning else (0, False)

    def set_response(self, resp: dict[str, Any]) -> None:
        """A whole response (sync call or async result); an async result names its task."""
        if resp.get("task_status") is not None and resp.get("id"):
            self.task_id = resp["id"]
        super().set_response(resp)

    def parse_json(self) -> Any:
        """Parse the answer as JSON (``--json``), tolerating a ```json fence around it."""
        text = self.text.strip()
        if text.startswith("```"):
            text = text.split("\n", 1)[1] if "\n" in text else ""
            text = text.rsplit("```", 1)[0]
        self.parsed = json.loads(text)
        return self.parsed

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        text = self.text
        preview = text if len(text) <= 40 else text[:39] + "…"
        state = "interrupted" if self.interrupted else (self.finish_reason or "running")
        return f"<Reply {self.model}: {preview!r} ({len(text)} chars, {state}, {self.elapsed:.1f} s)>"
