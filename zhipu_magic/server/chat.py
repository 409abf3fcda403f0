"""The local server's chat completions: sync, async tasks and SSE streams with their mid-stream faults.

The reply itself is planned in :mod:`.answers.plan` before any byte is sent; this module only
decides how the plan goes on the wire. A stream sends one chunk per event, at once, paced by
``[[interval:S]]`` or the server's token rate. Standard library only.
"""

from __future__ import annotations

import time
from typing import Any

from .answers.plan import Plan, parse_directives, plan_reply, text_of
from .checks import Fail, check_model, validate_chat
from .endpoints import submit_task
from .faults import request_faults, wait_arg
from .state import Disconnected
from .wire import Exchange, Request, dumps, new_id, request_id_of


def completions(h: Exchange, req: Request) -> None:
    """``POST chat/completions``: a JSON answer, or an SSE stream with ``"stream": true``."""
    _chat(h, req, async_=False)


def async_completions(h: Exchange, req: Request) -> None:
    """``POST async/chat/completions``: a task id now, the completion from ``async-result`` later."""
    _chat(h, req, async_=True)


def _chat(h: Exchange, req: Request, *, async_: bool) -> None:
    body = req.body
    info = check_model(body, "chat")
    stream = body.get("stream")
    if stream not in (None, True, False):
        raise Fail(400, "1214", "Invalid parameter stream: must be a boolean.")
    if async_ and not info.async_ or stream and not info.stream:
        raise Fail(400, "1212", f"The model {info.name} does not support this call method.")
    messages = validate_chat(body)
    last_user = next(m for m in reversed(messages) if m.get("role") == "user")
    prompt, directives = parse_directives(text_of(last_user.get("content")), h.state.directives)
    request_faults(h.state, directives, req.target, req.raw, h.connection)
    plan = plan_reply(info, body, messages, prompt, directives)
    rid = request_id_of(body)
    cid = new_id()
    if async_:
        success = None if directives.fault("task_fail") else completion(plan, cid, rid)
        return submit_task(h, info.name, cid, rid, success)
    if stream:
        return send_stream(h, plan, cid)
    if directives.fault("drop"):
        return h.hang_up()
    h.send_json(200, completion(plan, cid, rid))


def completion(plan: Plan, cid: str, request_id: str | None) -> dict[str, Any]:
    """The ``chat.completion`` object of a sync answer (and of a finished async task)."""
    choice = {"finish_reason": plan.finish_reason, "index": 0, "message": plan.message()}
    return {
        "choices": [choice],
        "created": int(time.time()),
        "id": cid,
        "model": plan.model,
        "object": "chat.completion",
        "request_id": request_id or cid,
        "usage": plan.usage(),
        **({"web_search": plan.sources} if plan.sources else {}),
    }


def send_stream(h: Exchange, plan: Plan, cid: str) -> None:
    """Stream ``plan`` as SSE ``chat.completion.chunk`` events; a client that leaves is counted."""
    h.start_stream()
    try:
        _Stream(h, plan, cid).run()
    except (Disconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
        h.client_left()


class _Stream:
    """One SSE answer in progress: the frames written so far and their pacing."""

    def __init__(self, h: Exchange, plan: Plan, cid: str) -> None:
        self.h, self.plan, self.d = h, plan, plan.directives
        created = int(time.time())
        self.head = {"id": cid, "created": created, "object": "chat.completion.chunk", "model": plan.model}
        self.times: list[float] = []
        h.state.last_write_times = self.times  # what tests read: when each frame left
        self.start = time.monotonic()
        self.sent = 0

    def run(self) -> None:
        plan, d = self.plan, self.d
        for piece in plan.reasoning:
            self.delta(reasoning_content=piece)
        half = len(plan.content) // 2
        for i, piece in enumerate(plan.content):
            if i == half and self.midstream():
                return
            self.delta(content=piece)
        if not plan.content and self.midstream():
            return
        for calls in plan.tool_frames():
            self.delta(tool_calls=calls)
        if d.fault("no_done") and d.arg("no_done") != "finish":
            return self.h.end_chunks()
        self.pace()
        final = {
            "index": 0,
            "finish_reason": plan.finish_reason,
            "delta": {"role": "assistant", "content": ""},
        }
        sources = {"web_search": plan.sources} if plan.sources else {}  # top level, not in the delta
        self.write(dumps({**self.head, "choices": [final], "usage": plan.usage(), **sources}))
        if not d.fault("no_done"):
            self.write(b"[DONE]")
        self.h.end_chunks()

    def write(self, payload: bytes) -> None:
        self.h.send_chunk(b"data: " + payload + b"\n\n")
        self.times.append(time.perf_counter())

    def pace(self) -> None:
        """Wait before every frame but the first: the fixed interval, else the token rate."""
        state = self.h.state
        if self.sent:
            if self.d.interval is not None:
                state.sleep(self.d.interval, self.h.connection)
            elif state.token_rate > 0:
                state.sleep(self.start + self.sent / state.token_rate - time.monotonic(), self.h.connection)
        self.sent += 1

    def delta(self, **kw: Any) -> None:
        self.pace()
        self.write(dumps({**self.head, "choices": [{"index": 0, "delta": {"role": "assistant", **kw}}]}))

    def midstream(self) -> bool:
        """Stream faults that strike halfway; True when the stream is over."""
        d = self.d
        if d.fault("stall"):
            self.h.state.sleep(wait_arg(d.arg("stall"), 5.0), self.h.connection)
        if d.fault("drop"):
            self.h.hang_up()
            return True
        if d.fault("error_frame"):
            error = {
                "code": d.arg("error_frame") or "1301",
                "message": "An error occurred during generation (injected).",
            }
            frame = dumps({"error": error})
        elif d.fault("garbage"):
            frame = b"this is not json"
        elif d.fault("no_choices"):
            frame = dumps({**self.head, "note": "no choices here"})
        else:
            return False
        self.write(frame)  # the last frame: the body ends right after it
        self.h.end_chunks()
        return True
