"""The local server's non-chat endpoints: video generation, embeddings, tokenizer, the models
list, async results and the static asset files.

Each is a route function ``(exchange, request)`` named in :data:`.handler.ROUTES`; chat, SSE streaming
and mid-stream faults are in :mod:`.chat`. Standard library only (plus the model table).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..api.models import MODELS
from .answers.plan import count_tokens, embedding_for, parse_directives, prompt_tokens
from .checks import Fail, check_model, validate_chat
from .faults import request_faults
from .wire import PREFIX, Exchange, Request, new_id, request_id_of

ASSETS = Path(__file__).with_name("assets")
_ASSET_TYPES = {".mp4": "video/mp4", ".png": "image/png", ".jpg": "image/jpeg"}


def submit_task(h: Exchange, model: str, tid: str, rid: str | None, success: dict[str, Any] | None) -> None:
    """Answer ``PROCESSING`` now; polls later get ``SUCCESS`` with ``success``'s fields, or ``FAIL`` when
    it is None (``[[fault:task_fail]]``)."""
    task = {"model": model, "id": tid, "request_id": rid or tid}
    status = "FAIL" if success is None else "SUCCESS"
    done = {**task, "task_status": status, **(success or {})}
    h.state.add_task(tid, rid or tid, model, done)
    h.send_json(200, {**task, "task_status": "PROCESSING"})


def asset(h: Exchange, req: Request) -> None:
    """A file under ``/files/`` (the video and cover the video tasks link to); honours a byte range."""
    name = req.param
    file = ASSETS / name
    if "/" in name or name.startswith(".") or not file.is_file():
        raise Fail(404, "1222", f"File not found: {name}")
    data = file.read_bytes()
    ctype = _ASSET_TYPES.get(file.suffix, "application/octet-stream")
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "max-age=3600"}
    rng = h.headers.get("Range", "")
    if rng.startswith("bytes=") and "," not in rng:
        start_s, _, end_s = rng[6:].partition("-")
        try:
            if start_s:
                start, end = int(start_s), int(end_s) if end_s else len(data) - 1
            else:
                start, end = max(0, len(data) - int(end_s)), len(data) - 1
        except ValueError:
            start, end = 0, len(data) - 1
        end = min(end, len(data) - 1)
        if start <= end:
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return h.send_body(206, data[start : end + 1], ctype, headers)
    h.send_body(200, data, ctype, headers)


def result(h: Exchange, req: Request) -> None:
    """``GET async-result/{id}``: one poll of a chat or video task (each waits ``poll_delay`` first)."""
    if h.state.poll_delay > 0:
        h.state.sleep(h.state.poll_delay)
    found = h.state.poll(req.param)
    if found is None:
        raise Fail(404, "1222", f"Task not found: {req.param}")
    h.send_json(200, found)


def video(h: Exchange, req: Request) -> None:
    body = req.body
    info = check_model(body, "video")
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise Fail(400, "1214", "Invalid parameter prompt: must be a string.")
    if not prompt and not body.get("image_url"):
        raise Fail(400, "1213", "The prompt parameter was not received (prompt or image_url is required).")
    prompt, directives = parse_directives(prompt or "", h.state.directives)
    if len(prompt) > 512:
        raise Fail(400, "1214", "Invalid parameter prompt: at most 512 characters.")
    request_faults(h.state, directives, req.target, req.raw, h.connection)
    base = f"{h.origin}{PREFIX}/files"
    success = {"video_result": [{"url": f"{base}/sample.mp4", "cover_image_url": f"{base}/cover.png"}]}
    failed = directives.fault("task_fail")
    submit_task(h, info.name, new_id(), request_id_of(body), None if failed else success)


def embeddings(h: Exchange, req: Request) -> None:
    body = req.body
    info = check_model(body, "embedding")
    inp = body.get("input")
    texts = [inp] if isinstance(inp, str) else inp
    if not texts or not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise Fail(400, "1213", "The input parameter was not received (a string or a list of strings).")
    dims = body.get("dimensions")
    if dims is None:
        dims = 1024 if info.name == "embedding-2" else 2048
    if not isinstance(dims, int) or isinstance(dims, bool) or not 1 <= dims <= 4096:
        raise Fail(400, "1214", "Invalid parameter dimensions.")
    data = [
        {"index": i, "object": "embedding", "embedding": embedding_for(t, dims)} for i, t in enumerate(texts)
    ]
    n = sum(count_tokens(t) for t in texts)
    usage = {"prompt_tokens": n, "completion_tokens": 0, "total_tokens": n}
    h.send_json(200, {"model": info.name, "object": "list", "data": data, "usage": usage})


def tokenizer(h: Exchange, req: Request) -> None:
    check_model(req.body, "chat")
    messages = validate_chat(req.body)
    rid = new_id()
    usage = {"prompt_tokens": prompt_tokens(messages)}
    h.send_json(200, {"id": rid, "created": int(time.time()), "request_id": rid, "usage": usage})


def models(h: Exchange, req: Request) -> None:
    data = [
        {"id": m.name, "object": "model", "created": 1735689600, "owned_by": "z-ai"} for m in MODELS.values()
    ]
    h.send_json(200, {"object": "list", "data": data})
