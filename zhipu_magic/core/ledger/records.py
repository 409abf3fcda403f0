"""What a call record is, and the request hash that finds an identical earlier call.

A record is a plain dict whose keys are the ``calls`` table's columns (:data:`COLUMNS`). It is made
from any answer object with the fields of :class:`~zhipu_magic.api.answer.Answer` (``text``,
``reasoning``, ``usage``, ``finish_reason``, ``request_id``...), so a cell, the chat panel, ``map`` and
a batch row all record the same way. The API key is never an argument: nothing here can store it.

:func:`request_hash` is the one identity of a request (model, messages, parameters, backend): replay on
Run All and the resume of ``map`` both look calls up by it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ...api.config import redact_url
from .prices import cost, price_of

#: Body fields that do not change the answer asked for (how it is delivered, who asks).
NOT_HASHED = frozenset({"stream", "stream_options", "request_id", "user_id"})

OK, ERROR, INTERRUPTED = "ok", "error", "interrupted"

COLUMNS = (
    "time", "kind", "model", "request_hash", "request", "prompt", "answer", "reasoning",
    "finish_reason", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens",
    "total_tokens", "usage", "cost", "price_read", "request_id", "task_id", "retries", "duration",
    "status", "error", "conversation", "cell_id", "notebook", "backend", "session", "extra",
)  # fmt: skip
MAX_KEPT_REQUEST = 64_000  # characters of a submitted task's body its task record keeps (else the hash)
TOOL_RUN_FIELDS = ("id", "type", "function", "args", "result", "error", "seconds", "round")

SESSION = f"{int(time.time())}-{id(object()):x}"  # this process: %glm usage is per session


def backend_name(base_url: str | None, local: bool) -> str:
    """Which API answered: ``local`` for the built-in server (any port), else the base URL without
    credentials."""
    if local or not base_url:
        return "local"
    return redact_url(str(base_url)).rstrip("/")


def request_hash(body: Mapping[str, Any] | None, backend: str) -> str:
    """A stable hash of what was asked: the body without delivery fields, and who was asked."""
    asked = {k: v for k, v in (body or {}).items() if k not in NOT_HASHED}
    text = json.dumps(
        [backend, asked], sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def last_prompt(body: Mapping[str, Any] | None) -> str:
    """The last user message's text (what ``%glm log`` lists and searches), or a video prompt."""
    body = body or {}
    for message in reversed(body.get("messages") or []):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    prompt = body.get("prompt")
    return prompt if isinstance(prompt, str) else ""


def _int(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


def usage_columns(usage: Mapping[str, Any] | None) -> dict[str, int | None]:
    """The token counts a record keeps in columns (cached and reasoning tokens too)."""
    usage = usage or {}
    prompt_details = usage.get("prompt_tokens_details")
    done_details = usage.get("completion_tokens_details")
    return {
        "prompt_tokens": _int(usage.get("prompt_tokens")),
        "completion_tokens": _int(usage.get("completion_tokens")),
        "cached_tokens": _int(prompt_details.get("cached_tokens"))
        if isinstance(prompt_details, dict)
        else None,
        "reasoning_tokens": (
            _int(done_details.get("reasoning_tokens")) if isinstance(done_details, dict) else None
        ),
        "total_tokens": _int(usage.get("total_tokens")),
    }


def status_of(answer: Any) -> tuple[str, str | None]:
    """``(status, error line)`` of an answer object."""
    if getattr(answer, "interrupted", False):
        return INTERRUPTED, None
    error = getattr(answer, "error", None)
    if error is not None:
        return ERROR, f"{type(error).__name__}: {error}"[:500]
    return OK, None


def make_record(
    answer: Any,
    body: Mapping[str, Any] | None,
    *,
    kind: str,
    backend: str,
    batch: bool = False,
    **context: Any,
) -> dict[str, Any]:
    """The record of one call: ``answer`` (an ``Answer``/``Reply``), the request ``body`` (never a
    header), and ``context`` (``conversation``, ``cell_id``, ``notebook``, ``task_id``, ``duration``,
    ``retries``, ``time``: any column)."""
    usage = getattr(answer, "usage", None)
    model = getattr(answer, "model", None) or (body or {}).get("model")
    status, error = status_of(answer)
    price = price_of(model)
    local = backend == "local"  # the built-in server charges nothing
    record: dict[str, Any] = {
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "kind": kind,
        "model": model,
        "request_hash": request_hash(body, backend),
        "request": json.dumps(dict(body or {}), ensure_ascii=False, default=str),
        "prompt": last_prompt(body),
        "answer": getattr(answer, "text", "") or "",
        "reasoning": getattr(answer, "reasoning", "") or "",
        "finish_reason": getattr(answer, "finish_reason", None),
        **usage_columns(usage),
        "usage": json.dumps(usage) if usage else None,
        "cost": cost(model, usage, batch=batch, local=local)
        if usage or local
        else (0.0 if _is_free(price) else None),
        "price_read": (price.read or price.source) if price else None,
        "request_id": getattr(answer, "request_id", None),
        "task_id": getattr(answer, "task_id", None),
        "retries": getattr(answer, "retries", 0) or 0,
        "duration": _duration(answer),
        "status": status,
        "error": error,
        "backend": backend,
        "session": SESSION,
        "extra": extra_of(answer),
    }
    record.update({k: v for k, v in context.items() if k in COLUMNS})
    return record


def extra_of(answer: Any) -> str | None:
    """What an answer carries besides its text, as JSON: its web ``sources``, the tool calls it ran
    (``tool_runs``, without the Python values) and ``tool_limit``; ``None`` when there is none."""
    extra: dict[str, Any] = {}
    sources = getattr(answer, "sources", None)
    if isinstance(sources, list) and sources:
        extra["sources"] = sources
    runs = getattr(answer, "tool_runs", None)
    if isinstance(runs, list) and runs:
        extra["tool_runs"] = [{k: r.get(k) for k in TOOL_RUN_FIELDS} for r in runs if isinstance(r, Mapping)]
    if getattr(answer, "tool_limit", None):
        extra["tool_limit"] = answer.tool_limit
    return json.dumps(extra, ensure_ascii=False, default=str) if extra else None


def extra_in(row: Mapping[str, Any]) -> dict[str, Any]:
    """A record's ``extra`` read back (``{}`` when it has none or it is not a JSON object)."""
    try:
        extra = json.loads(row.get("extra") or "{}")
    except ValueError:
        return {}
    return extra if isinstance(extra, dict) else {}


def task_fields(body: Mapping[str, Any] | None, base_url: str | None, local: bool) -> dict[str, Any]:
    """What a task record keeps of the request that submitted it, so its answer is logged under that
    request (and a replay finds it): the ``request_hash``, and the ``request`` itself when small."""
    fields: dict[str, Any] = {"request_hash": request_hash(body, backend_name(base_url, local))}
    if len(json.dumps(dict(body or {}), ensure_ascii=False, default=str)) <= MAX_KEPT_REQUEST:
        fields["request"] = json.loads(json.dumps(dict(body or {}), default=str))
    return fields


def _is_free(price: Any) -> bool:
    return price is not None and price.input == 0 and price.output == 0


def _duration(answer: Any) -> float | None:
    elapsed = getattr(answer, "elapsed", None)
    return round(float(elapsed), 3) if isinstance(elapsed, (int, float)) else None


def answer_response(row: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded call as a whole chat response (what replay gives the answer object)."""
    message: dict[str, Any] = {"role": "assistant", "content": row.get("answer") or ""}
    if row.get("reasoning"):
        message["reasoning_content"] = row["reasoning"]
    response: dict[str, Any] = {
        "model": row.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": row.get("finish_reason") or "stop"}],
    }
    if row.get("request_id"):
        response["request_id"] = row["request_id"]
    return response


def provenance(answer: Any, body: Mapping[str, Any] | None, log_id: int | None) -> dict[str, Any]:
    """Where an answer came from, as the notebook saves it with the output (JSON-safe)."""
    body = dict(body or {})
    replayed = getattr(answer, "replayed", None)
    return {
        "model": getattr(answer, "model", None) or body.get("model"),
        "params": {k: v for k, v in body.items() if k not in ("model", "messages", "prompt", *NOT_HASHED)},
        "request_id": getattr(answer, "request_id", None),
        "log_id": log_id,
        "usage": getattr(answer, "usage", None),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "replayed": replayed is not None,
        "replayed_from": replayed,
    }
