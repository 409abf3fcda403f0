"""Files and batch jobs, like the API's (``zhipu_api.md`` §8.1): multipart upload, list, content and
delete of files; create, retrieve, list and cancel of batches, with real state transitions over time.

A batch validates its input file first (each line JSON with a ``custom_id``, no duplicate id, one
model, at most :data:`MAX_LINES`): a bad file ends ``failed`` with ``errors``. Then each line is sent
to this server's own ``chat/completions`` over HTTP, so it takes the same chat path, faults included
(a line with ``[[fault:bad_param]]`` lands in the error file). The output and error files are JSONL
in the API's shape, not in input order; ``request_counts`` moves as lines finish. ``endpoint`` may be
``/v4/...`` or ``/v1/...``. Standard library only; state lives per server in :data:`STORES`.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
import urllib.error
import urllib.request
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .checks import Fail, check_auth
from .wire import PREFIX, Exchange, Request, dumps, new_id

if TYPE_CHECKING:
    from .state import ServerState

MAX_LINES = 50_000
ENDPOINTS = ("/v4/chat/completions", "/v1/chat/completions", "/chat/completions")
WORKERS = 8  # lines of one batch answered at once
STEP_DELAY = 0.05  # seconds spent in "validating" and "finalizing", so pollers can see them


class Store:
    """One server's files and batches."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}

    def add_file(self, content: bytes, filename: str, purpose: str) -> dict[str, Any]:
        meta = {
            "id": "file-" + new_id(), "object": "file", "bytes": len(content),
            "created_at": int(time.time()), "filename": filename, "purpose": purpose, "status": "processed",
        }  # fmt: skip
        with self.lock:
            self.files[meta["id"]], self.contents[meta["id"]] = meta, content
        return meta


STORES: weakref.WeakKeyDictionary[ServerState, Store] = weakref.WeakKeyDictionary()
_STORES_LOCK = threading.Lock()


def store_of(state: ServerState) -> Store:
    with _STORES_LOCK:
        found = STORES.get(state)
        if found is None:
            found = STORES[state] = Store()
        return found


def now_ms() -> int:
    return int(time.time() * 1000)


# -- files ----------------------------------------------------------------------------------------
def upload(h: Exchange, req: Request) -> None:
    """``POST files`` (multipart/form-data: ``file`` and ``purpose``)."""
    check_auth(h.headers.get("Authorization"), h.state.api_key)
    ctype = h.headers.get("Content-Type", "")
    if "multipart/form-data" not in ctype:
        raise Fail(400, "1210", "files: a multipart/form-data body with a file is expected.")
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {ctype}\r\n\r\n".encode("latin-1") + req.raw
    )
    fields: dict[str, Any] = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    if "file" not in fields:
        raise Fail(400, "1213", "The file field is missing.")
    purpose = (fields.get("purpose") or (None, b""))[1].decode("utf-8", "replace").strip()
    if not purpose:
        raise Fail(400, "1213", "The purpose field is missing.")
    filename, content = fields["file"]
    h.send_json(200, store_of(h.state).add_file(content, filename or "upload.jsonl", purpose))


def list_files(h: Exchange, req: Request) -> None:
    store = store_of(h.state)
    with store.lock:
        data = sorted(store.files.values(), key=lambda f: f["id"], reverse=True)
    h.send_json(200, {"object": "list", "data": data, "has_more": False})


def file_content(h: Exchange, req: Request) -> None:
    """``GET files/{id}/content``: the bytes as uploaded (or as a batch wrote them)."""
    store = store_of(h.state)
    with store.lock:
        content = store.contents.get(req.param)
    if content is None:
        raise Fail(404, "1222", f"File {req.param} not found.")
    h.send_body(200, content, "application/octet-stream")


def delete_file(h: Exchange, req: Request) -> None:
    store = store_of(h.state)
    with store.lock:
        found = store.files.pop(req.param, None)
        store.contents.pop(req.param, None)
    if found is None:
        raise Fail(404, "1222", f"File {req.param} not found.")
    h.send_json(200, {"id": req.param, "object": "file", "deleted": True})


# -- batches --------------------------------------------------------------------------------------
def create_batch(h: Exchange, req: Request) -> None:
    """``POST batches``: the batch object now (``validating``); the work on a thread."""
    body, store = req.body, store_of(h.state)
    file_id, endpoint = body.get("input_file_id"), body.get("endpoint", "/v4/chat/completions")
    if not isinstance(file_id, str) or file_id not in store.contents:
        raise Fail(400, "1214", "input_file_id does not name an uploaded file.")
    if endpoint not in ENDPOINTS:
        raise Fail(400, "1214", f"Unsupported endpoint {str(endpoint)[:60]}.")
    metadata = body.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 16):
        raise Fail(400, "1214", "metadata: at most 16 string pairs.")
    batch = {
        "id": "batch_" + new_id(), "object": "batch", "endpoint": endpoint, "input_file_id": file_id,
        "completion_window": body.get("completion_window", "24h"), "status": "validating",
        "created_at": now_ms(), "in_progress_at": None, "finalizing_at": None, "completed_at": None,
        "failed_at": None, "cancelling_at": None, "cancelled_at": None, "output_file_id": None,
        "error_file_id": None, "errors": None, "metadata": metadata,
        "request_counts": {"total": 0, "completed": 0, "failed": 0},
    }  # fmt: skip
    with store.lock:
        store.batches[batch["id"]] = batch
        snapshot = json.loads(dumps(batch))
    auth = h.headers.get("Authorization") or ""
    args = (h.state, store, batch, h.origin + PREFIX, auth)
    threading.Thread(target=process, args=args, name="local-batch", daemon=True).start()
    h.send_json(200, snapshot)


def get_batch(h: Exchange, req: Request) -> None:
    h.send_json(200, _batch(h, req.param))


def cancel_batch(h: Exchange, req: Request) -> None:
    """``POST batches/{id}/cancel``: ``cancelling`` until the lines in flight end, then ``cancelled``."""
    store = store_of(h.state)
    batch = _batch(h, req.param)
    with store.lock:
        live = store.batches[req.param]
        if live["status"] in ("validating", "in_progress", "finalizing"):
            live["status"], live["cancelling_at"] = "cancelling", now_ms()
        batch = json.loads(dumps(live))
    h.send_json(200, batch)


def list_batches(h: Exchange, req: Request) -> None:
    store = store_of(h.state)
    with store.lock:
        data = [json.loads(dumps(b)) for b in sorted(store.batches.values(), key=lambda b: b["id"])]
    h.send_json(200, {"object": "list", "data": data[::-1][:100], "has_more": len(data) > 100})


def _batch(h: Exchange, batch_id: str) -> dict[str, Any]:
    store = store_of(h.state)
    with store.lock:
        found = store.batches.get(batch_id)
        if found is None:
            raise Fail(404, "1222", f"Batch {batch_id} not found.")
        return json.loads(dumps(found))


# -- the work ---------------------------------------------------------------------------------------
def validate(content: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The lines of an input file, and the errors that fail the whole batch."""
    lines, errors, seen, models = [], [], set(), set()
    for number, raw in enumerate(content.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            errors.append({"code": "invalid_json_line", "message": "not JSON", "line": number})
            continue
        custom_id = line.get("custom_id") if isinstance(line, dict) else None
        body = line.get("body") if isinstance(line, dict) else None
        if not isinstance(custom_id, str) or not custom_id or not isinstance(body, dict):
            errors.append({"code": "invalid_request", "message": "custom_id and body needed", "line": number})
            continue
        if custom_id in seen:
            errors.append({"code": "duplicate_custom_id", "message": custom_id, "line": number})
        seen.add(custom_id)
        models.add(str(body.get("model")))
        lines.append(line)
    if len(models) > 1:
        errors.append({"code": "mixed_models", "message": "one model per file: " + ", ".join(sorted(models))})
    if len(lines) > MAX_LINES:
        errors.append({"code": "too_many_requests", "message": f"at most {MAX_LINES} lines"})
    if not lines and not errors:
        errors.append({"code": "empty_file", "message": "the input file has no requests"})
    return lines, errors


def process(state: ServerState, store: Store, batch: dict[str, Any], base: str, auth: str) -> None:
    """Validate, answer every line through ``chat/completions``, write the output and error files."""
    time.sleep(STEP_DELAY)
    with store.lock:
        content = store.contents.get(batch["input_file_id"], b"")
    lines, errors = validate(content)
    with store.lock:
        if batch["status"] == "cancelling":
            batch["status"], batch["cancelled_at"] = "cancelled", now_ms()
            return
        if errors:
            batch.update(status="failed", failed_at=now_ms(), errors={"object": "list", "data": errors})
            return
        batch.update(status="in_progress", in_progress_at=now_ms())
        batch["request_counts"]["total"] = len(lines)
    done: list[tuple[bool, bytes]] = []

    def one(line: dict[str, Any]) -> None:
        with store.lock:
            if batch["status"] == "cancelling":
                return
        ok, out = answer_line(base, auth, line, batch["id"])
        with store.lock:
            done.append((ok, out))
            batch["request_counts"]["completed" if ok else "failed"] += 1

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(one, lines))
    finish(store, batch, done)


def finish(store: Store, batch: dict[str, Any], done: list[tuple[bool, bytes]]) -> None:
    with store.lock:
        cancelled = batch["status"] == "cancelling"
        if not cancelled:
            batch.update(status="finalizing", finalizing_at=now_ms())
    if not cancelled:
        time.sleep(STEP_DELAY)
    output = b"".join(out + b"\n" for ok, out in done if ok)
    failed = b"".join(out + b"\n" for ok, out in done if not ok)
    out_meta = store.add_file(output, f"{batch['id']}_output.jsonl", "batch") if output else None
    err_meta = store.add_file(failed, f"{batch['id']}_error.jsonl", "batch") if failed else None
    with store.lock:
        batch["output_file_id"] = out_meta and out_meta["id"]
        batch["error_file_id"] = err_meta and err_meta["id"]
        if cancelled:
            batch.update(status="cancelled", cancelled_at=now_ms())
        else:
            batch.update(status="completed", completed_at=now_ms())


def answer_line(base: str, auth: str, line: dict[str, Any], batch_id: str) -> tuple[bool, bytes]:
    """One input line sent to this server's chat path; its output (or error) file line."""
    body = {**line["body"], "stream": False}
    request = urllib.request.Request(
        base + "/chat/completions", data=dumps(body), method="POST",
        headers={"Content-Type": "application/json", "Authorization": auth},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - our own server
            status, payload = response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        status, payload = err.code, _json_or_text(err.read())
    except OSError as err:
        status, payload = 500, {"error": {"code": "500", "message": f"{type(err).__name__}: {err}"}}
    ok = status == 200
    record = {
        "response": {"status_code": status, "body": payload},
        "custom_id": line["custom_id"], "id": batch_id,
    }  # fmt: skip
    return ok, dumps(record)


def _json_or_text(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {"error": {"code": "500", "message": raw[:200].decode("utf-8", "replace")}}
    return parsed if isinstance(parsed, dict) else {"error": {"code": "500", "message": "not an object"}}
