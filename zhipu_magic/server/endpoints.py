"""The local server's non-chat endpoints: video generation, images, embeddings, tokenizer, the models
list, async results and the static asset files.

Each is a plain function taking the request handler (:class:`~zhipu_magic.server_http._Handler`), which
routes to them; chat, SSE streaming and mid-stream faults stay in :mod:`.server_http`. The ids and the
URL prefix both sides use live here, so this module imports nothing from :mod:`.server_http` at run
time. Standard library only.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..api.models import MODELS
from . import answers
from .checks import _Fail, _validate_chat, check_model
from .faults import request_faults

if TYPE_CHECKING:
    from .handler import _Handler

PREFIX = "/api/paas/v4"
ASSETS = Path(__file__).with_name("assets")
_ASSET_TYPES = {".mp4": "video/mp4", ".png": "image/png", ".jpg": "image/jpeg"}


def _new_id() -> str:
    """Modern-style ids: ``yyyyMMddHHmmss`` + 16 hex (30 chars)."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + uuid.uuid4().hex[:16]


def _request_id(body: dict[str, Any]) -> str | None:
    """The caller's own ``request_id``, if it sent a string one."""
    rid = body.get("request_id")
    return rid if isinstance(rid, str) else None


def origin(h: _Handler) -> str:
    """Scheme and authority the client used, so asset URLs work through port mappings too."""
    app = h.server.app
    host = h.headers.get("Host") or f"{app.host}:{app.port}"
    return f"http://{host}"


def asset(h: _Handler, name: str) -> None:
    file = ASSETS / name
    if "/" in name or name.startswith(".") or not file.is_file():
        raise _Fail(404, "1222", f"File not found: {name}")
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
            return h._send(206, data[start : end + 1], ctype, headers)
    h._send(200, data, ctype, headers)


def result(h: _Handler, task_id: str) -> None:
    app = h.server.app
    if app.poll_delay > 0:
        app._sleep(app.poll_delay)
    found = app._poll(task_id)
    if found is None:
        raise _Fail(404, "1222", f"Task not found: {task_id}")
    h._send_json(200, found)


def video(h: _Handler, body: dict[str, Any], raw: bytes) -> None:
    info = check_model(body, "video")
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise _Fail(400, "1214", "Invalid parameter prompt: must be a string.")
    if not prompt and not body.get("image_url"):
        raise _Fail(400, "1213", "The prompt parameter was not received (prompt or image_url is required).")
    prompt, directives = answers.parse_directives(prompt or "")
    if len(prompt) > 512:
        raise _Fail(400, "1214", "Invalid parameter prompt: at most 512 characters.")
    request_faults(h.server.app, directives, h.path, raw, h.connection)
    rid = _request_id(body)
    tid = _new_id()
    task = {"model": info.name, "id": tid, "request_id": rid or tid}
    done = dict(task)
    if directives.fault("task_fail"):
        done["task_status"] = "FAIL"
    else:
        base = f"{origin(h)}{PREFIX}/files"
        done["task_status"] = "SUCCESS"
        done["video_result"] = [{"url": f"{base}/sample.mp4", "cover_image_url": f"{base}/cover.png"}]
    h.server.app._add_task(tid, rid or tid, info.name, done)
    h._send_json(200, {**task, "task_status": "PROCESSING"})


def image(h: _Handler, body: dict[str, Any]) -> None:
    check_model(body, "image")
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        raise _Fail(400, "1213", "The prompt parameter was not received.")
    url = f"{origin(h)}{PREFIX}/files/cover.png"
    h._send_json(200, {"created": int(time.time()), "data": [{"url": url}]})


def embeddings(h: _Handler, body: dict[str, Any]) -> None:
    info = check_model(body, "embedding")
    inp = body.get("input")
    texts = [inp] if isinstance(inp, str) else inp
    if not texts or not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise _Fail(400, "1213", "The input parameter was not received (a string or a list of strings).")
    dims = body.get("dimensions")
    if dims is None:
        dims = 1024 if info.name == "embedding-2" else 2048
    if not isinstance(dims, int) or isinstance(dims, bool) or not 1 <= dims <= 4096:
        raise _Fail(400, "1214", "Invalid parameter dimensions.")
    data = [
        {"index": i, "object": "embedding", "embedding": answers.embedding_for(t, dims)}
        for i, t in enumerate(texts)
    ]
    n = sum(answers.count_tokens(t) for t in texts)
    usage = {"prompt_tokens": n, "completion_tokens": 0, "total_tokens": n}
    h._send_json(200, {"model": info.name, "object": "list", "data": data, "usage": usage})


def tokenizer(h: _Handler, body: dict[str, Any]) -> None:
    check_model(body, "chat")
    messages = _validate_chat(body)
    rid = _new_id()
    usage = {"prompt_tokens": answers.prompt_tokens(messages)}
    h._send_json(200, {"id": rid, "created": int(time.time()), "request_id": rid, "usage": usage})


def models(h: _Handler) -> None:
    data = [
        {"id": m.name, "object": "model", "created": 1735689600, "owned_by": "z-ai"} for m in MODELS.values()
    ]
    h._send_json(200, {"object": "list", "data": data})
