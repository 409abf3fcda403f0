"""Python functions the model can call: the one tool loop (``run_tools``) and the ``@tool`` registry.

The loop sends the conversation with the functions' schemas (:mod:`.schema`); while the model asks
for calls, it runs each function with the parsed arguments and sends the results back (``role:
tool``, ``tool_call_id``), up to ``max_rounds`` model calls. Nothing the model sends can crash it:
arguments that are not JSON or do not fit the signature, a name that was never offered, a function
that raises or a call the user declined all go back to the model as an error text. With thinking on,
each round's ``reasoning_content`` goes back in the assistant message, as the API asks. A function
runs only when the caller passed it: the model cannot reach anything else.

Client-level and display-free: the notebook calls the same loop with its own callbacks.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .answer import Answer
from .calls import Messages, as_messages
from .calls import chat as chat_request
from .calls import stream as stream_request
from .config import DEFAULT_MODEL
from .schema import function_tool, tool_name
from .search import sources_of

MAX_RESULT = 20_000  # characters of a function's result sent back to the model
MAX_ROUNDS = 5
TOOLS: dict[str, Callable[..., Any]] = {}  # what ``@tool`` registered (``--tools all``)


def tool(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``fn`` as a tool (for ``%%glm --tools all`` and ``registered()``); returns it as is."""
    TOOLS[tool_name(fn)] = fn
    return fn


def registered() -> dict[str, Callable[..., Any]]:
    """The functions registered with ``@tool``, by name."""
    return dict(TOOLS)


def as_functions(functions: Iterable[Callable[..., Any]] | Mapping[str, Callable[..., Any]]) -> dict:
    """``{name: function}`` from a list of functions or a mapping."""
    if isinstance(functions, Mapping):
        return dict(functions)
    return {tool_name(fn): fn for fn in functions}


def tool_schemas(functions: Mapping[str, Callable[..., Any]]) -> list[dict[str, Any]]:
    """The ``tools`` list for ``functions`` (each named as the mapping names it)."""
    out = []
    for name, fn in functions.items():
        schema = function_tool(fn)
        schema["function"]["name"] = name
        out.append(schema)
    return out


class ToolRun:
    """What a tool loop did: the final ``answer``, every ``calls`` record, the whole ``messages``
    transcript, the web ``sources`` seen, how many ``rounds`` (model calls) it took and whether it
    stopped at the round limit (``exhausted``)."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages
        self.calls: list[dict[str, Any]] = []
        self.sources: list[dict[str, Any]] = []
        self.answer: Answer | None = None
        self.rounds = 0
        self.exhausted = False
        self.usage: dict[str, Any] = {}  # tokens of every round added up (what the whole loop cost)

    @property
    def text(self) -> str:
        return self.answer.text if self.answer is not None else ""

    def add_sources(self, found: list[dict[str, Any]]) -> None:
        seen = {s.get("link") for s in self.sources}
        self.sources.extend(s for s in found if s.get("link") not in seen)

    def __repr__(self) -> str:
        return f"<ToolRun {self.rounds} rounds, {len(self.calls)} calls: {self.text[:40]!r}>"


def run_tools(
    client: Any,
    messages: Messages,
    functions: Iterable[Callable[..., Any]] | Mapping[str, Callable[..., Any]] = (),
    *,
    model: str = DEFAULT_MODEL,
    max_rounds: int = MAX_ROUNDS,
    stream: bool = False,
    extra_tools: Iterable[dict[str, Any]] = (),
    confirm: Callable[[str, dict[str, Any]], bool] | None = None,
    on_call: Callable[[dict[str, Any]], None] | None = None,
    on_chunk: Callable[[Answer], None] | None = None,
    new_answer: Callable[[], Answer] | None = None,
    **params: Any,
) -> ToolRun:
    """Chat with ``functions`` as tools until the model answers or ``max_rounds`` model calls were
    made; see the module docstring. ``extra_tools`` are sent as they are (a ``web_search`` tool).
    ``confirm(name, args)`` may refuse a call; ``on_call(record)`` follows each call, ``on_chunk(answer)``
    each stream chunk; ``new_answer()`` makes each round's :class:`Answer`."""
    if max_rounds < 1:
        raise ValueError("max_rounds is at least 1")
    table = as_functions(functions)
    tools = [*tool_schemas(table), *extra_tools]
    run = ToolRun(as_messages(messages))
    while run.rounds < max_rounds:
        run.rounds += 1
        answer = new_answer() if new_answer is not None else Answer(model)
        run.answer = answer
        body = {**params, "tools": tools} if tools else params
        _ask(client, run, answer, model, body, stream, on_chunk)
        run.usage = add_usage(run.usage, answer.usage)
        if not answer.tool_calls:
            return run
        run.messages.append(assistant_message(answer))
        last = run.rounds >= max_rounds
        for call in answer.tool_calls:
            record = _unrun(call, run.rounds) if last else run_call(call, table, confirm, run.rounds)
            run.calls.append(record)
            if not last:
                run.messages.append(tool_message(record))
            if on_call is not None:
                on_call(record)
    run.exhausted = True
    return run


def _ask(
    client: Any, run: ToolRun, answer: Answer, model: str, body: dict, stream: bool, on_chunk: Any
) -> None:
    """One model call of the loop, accumulated into ``answer``; sources collected on the way."""
    timeout = body.get("timeout")
    body = {k: v for k, v in body.items() if k != "timeout"}
    if not stream:
        response = client.send(chat_request(run.messages, model, **body), timeout=timeout)
        answer.set_response(response)
        run.add_sources(sources_of(response))
        if on_chunk is not None:
            on_chunk(answer)
        return
    with client.open_stream(stream_request(run.messages, model, **body), timeout=timeout, into=answer) as s:
        for chunk in s:
            if "web_search" in chunk:
                run.add_sources(sources_of(chunk))
            if on_chunk is not None:
                on_chunk(answer)
    answer.finish()


def add_usage(total: Mapping[str, Any] | None, more: Mapping[str, Any] | None) -> dict[str, Any]:
    """Two usages added up, field by field (token counts, and the ``*_details`` counts inside);
    anything that is not a non-negative int is left out."""
    out: dict[str, Any] = {}
    for usage in (total or {}, more or {}):
        for key, value in usage.items():
            if isinstance(value, Mapping):
                out[key] = add_usage(out.get(key) if isinstance(out.get(key), dict) else {}, value)
            elif type(value) is int and value >= 0:
                out[key] = (out.get(key) if type(out.get(key)) is int else 0) + value
    return out


def assistant_message(answer: Answer) -> dict[str, Any]:
    """The model's turn as it goes back: text, its reasoning (thinking on) and the calls it asked for."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.text}
    if answer.reasoning:
        message["reasoning_content"] = answer.reasoning
    message["tool_calls"] = [
        {"id": c.get("id"), "type": c.get("type") or "function", "function": dict(c["function"])}
        for c in answer.tool_calls
    ]
    return message


def tool_message(record: dict[str, Any]) -> dict[str, Any]:
    """A call's outcome as the ``role: tool`` message answering it."""
    content = f"error: {record['error']}" if record["error"] else record["result"]
    return {"role": "tool", "tool_call_id": record["id"], "content": content}


def _record(call: dict[str, Any], round_: int) -> dict[str, Any]:
    fn = call.get("function") or {}
    return {
        "id": call.get("id") or f"call_{round_}_{fn.get('name')}",
        "type": "function",
        "function": {"name": str(fn.get("name") or ""), "arguments": str(fn.get("arguments") or "")},
        "args": None,
        "result": "",
        "value": None,
        "error": None,
        "seconds": 0.0,
        "round": round_,
    }


def _unrun(call: dict[str, Any], round_: int) -> dict[str, Any]:
    record = _record(call, round_)
    record["error"] = "not run: the round limit was reached"
    return record


def run_call(
    call: dict[str, Any],
    functions: Mapping[str, Callable[..., Any]],
    confirm: Callable[[str, dict[str, Any]], bool] | None = None,
    round_: int = 1,
) -> dict[str, Any]:
    """Run one call the model asked for; the record says what happened (never raises but for an
    interrupt)."""
    record = _record(call, round_)
    name = record["function"]["name"]
    fn = functions.get(name)
    if fn is None:
        offered = ", ".join(functions) or "none"
        record["error"] = f"there is no function named {name!r} (available: {offered})"
        return record
    args, problem = parse_arguments(fn, record["function"]["arguments"])
    record["args"] = args
    if problem is None and confirm is not None and not confirm(name, args or {}):
        problem = "the user declined this call"
    if problem is not None:
        record["error"] = problem
        return record
    start = time.monotonic()
    try:
        value = fn(**(args or {}))
    except Exception as err:  # the model hears about it; the loop goes on
        record["error"] = f"{type(err).__name__}: {err}"[:MAX_RESULT]
    else:
        record["value"] = value
        record["result"] = result_text(value)
    record["seconds"] = time.monotonic() - start
    return record


def parse_arguments(fn: Callable[..., Any], text: str) -> tuple[dict[str, Any] | None, str | None]:
    """``(arguments, None)`` or ``(None or the arguments, problem)``: JSON, an object, fitting ``fn``."""
    try:
        args = json.loads(text) if text.strip() else {}
    except ValueError as err:
        return None, f"the arguments are not valid JSON ({err}); send a JSON object"
    if not isinstance(args, dict):
        return None, f"the arguments must be a JSON object, got {type(args).__name__}"
    try:
        inspect.signature(fn).bind(**args)
    except TypeError as err:
        return args, f"the arguments do not match {tool_name(fn)}{signature_text(fn)}: {err}"
    return args, None


def signature_text(fn: Callable[..., Any]) -> str:
    """``(a: int, b: int) -> int``, with string annotations resolved where they can be."""
    try:
        return str(inspect.signature(fn, eval_str=True))
    except Exception:
        return str(inspect.signature(fn))


def result_text(value: Any) -> str:
    """What a function returned, as the text the model reads (JSON when it can be)."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            text = repr(value)
    return text if len(text) <= MAX_RESULT else text[: MAX_RESULT - 1] + "…"


__all__ = ["TOOLS", "ToolRun", "add_usage", "registered", "run_call", "run_tools", "tool", "tool_schemas"]
