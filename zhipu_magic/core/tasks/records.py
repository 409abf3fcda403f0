"""What a task record is and how two versions of one merge: statuses, shortening, the FAIL reason,
the types a stored record may hold and how one is read from a file without trusting it.

Pure functions over plain dicts, shared by the store (disk or memory), the polling and the views.
Status only moves forward: ``PROCESSING`` (or any status string we do not know, stored verbatim and
treated as still pending) -> ``SUCCESS`` | ``FAIL``.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...api.text import truncate
from ..reply import Reply

PROCESSING = "PROCESSING"
SUCCESS = "SUCCESS"
FAIL = "FAIL"
UNKNOWN = "UNKNOWN"  # stored when the server gives no status at all
# A Batch API job keeps the API's own status words; these end it (the others: validating,
# in_progress, finalizing, cancelling) are pending like PROCESSING.
BATCH_FINAL = ("completed", "failed", "expired", "cancelled")
FINAL_STATUSES = frozenset({SUCCESS, FAIL, *BATCH_FINAL})
PROMPT_CHARS = 200  # the prompt is kept shortened: it is for the list, not for replay


def is_final(status: object) -> bool:
    """SUCCESS and FAIL (and a batch's completed, failed, expired, cancelled) are final; everything
    else (PROCESSING, unknown strings) is pending."""
    return status in FINAL_STATUSES


def status_rank(status: object) -> int:
    """0 = pending of any spelling, 1 = final. Unknown strings rank as pending: we keep polling."""
    return 1 if is_final(status) else 0


def shorten(text: str, limit: int = PROMPT_CHARS) -> str:
    """One line, at most ``limit`` characters, for lists and cards."""
    return truncate(text, limit)


def failure_reason(response: Mapping[str, Any]) -> str:
    """A one-line reason for a FAIL answer; the API does not promise one, so we look in a few places."""
    err = response.get("error")
    if isinstance(err, Mapping):
        code, msg = err.get("code"), err.get("message")
        if msg:
            return shorten(f"[{code}] {msg}" if code else str(msg), 300)
    for key in ("message", "msg", "reason", "fail_reason"):
        if response.get(key):
            return shorten(str(response[key]), 300)
    if response.get("content_filter"):
        return "blocked by the content filter"
    return "the server reported FAIL without a reason"


def merge(disk: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """Combine what is on disk with a new version of the same task; status never moves back.

    A final status on disk wins over a pending one (the first FAIL keeps its reason; a later SUCCESS
    brings the fresher result, e.g. renewed video links; the first final status wins over a later,
    different final one); fields describing the outcome follow the status. ``submitted`` keeps the
    earliest value and ``polls`` the largest, so concurrent writers converge.
    """
    if not disk:
        return dict(new)
    out = dict(disk)
    disk_status, new_status = disk.get("status"), new.get("status", disk.get("status"))
    take_outcome = (
        status_rank(new_status) > status_rank(disk_status)
        or status_rank(new_status) == status_rank(disk_status) == 0
        or new_status == disk_status == SUCCESS  # a fresher result (renewed links) replaces the stale
    )
    outcome = {"status", "result", "error", "finished", *BATCH_OUTCOME}
    for key, value in new.items():
        if key == "collected":  # a batch joined back stays joined
            out[key] = bool(disk.get(key)) or bool(value)
        elif key in outcome:
            if take_outcome:
                out[key] = value
        elif key == "submitted":
            out[key] = min(x for x in (disk.get(key), value) if x is not None) if value else disk.get(key)
        elif key == "polls":
            out[key] = max(int(disk.get(key) or 0), int(value or 0))
        elif key == "updated":
            out[key] = max(float(disk.get(key) or 0), float(value or 0))
        else:
            out[key] = value
    if is_final(out.get("status")):
        out["last_error"] = None
    return out


# A batch's fields that describe its progress or outcome: they follow the status like ``result``.
BATCH_OUTCOME = ("request_counts", "output_file_id", "error_file_id")

# What a stored record's fields may hold. A file is user-writable data: anything else (a string
# ``submitted``, a list ``result``) is refused on read, so no view or merge meets a surprise type.
_TEXT_FIELDS = ("kind", "model", "prompt", "status", "error", "last_error", "request_id", "base_url",
               "input_file_id", "output_file_id", "error_file_id", "map_key")  # fmt: skip
_TIME_FIELDS = ("submitted", "updated", "finished")
MAX_DEPTH = 64  # nesting a task result may have (real ones use about 6)


def _depth_ok(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests at most ``limit`` deep; iterative, so any depth is safe to check."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return True


def invalid_reason(record: Any) -> str | None:
    """Why ``record`` (parsed from a file) is not a usable task record, or None when it is."""
    if not isinstance(record, dict):
        return "not a JSON object"
    if not isinstance(record.get("id"), str) or not record["id"]:
        return "no task id"
    if not _depth_ok(record):
        return f"nested deeper than {MAX_DEPTH}"
    for key in _TEXT_FIELDS:
        if record.get(key) is not None and not isinstance(record[key], str):
            return f"{key} is not text"
    for key in _TIME_FIELDS:
        value = record.get(key)
        if value is not None and not _finite_number(value):
            return f"{key} is not a time"
    polls = record.get("polls")
    if polls is not None and (not isinstance(polls, int) or isinstance(polls, bool) or polls < 0):
        return "polls is not a count"
    if record.get("result") is not None and not isinstance(record["result"], dict):
        return "result is not an object"
    if record.get("log_id") is not None and not _count(record["log_id"]):
        return "log_id is not a row id"
    context = record.get("log_context")
    if context is not None and not (
        isinstance(context, dict) and all(v is None or isinstance(v, str) for v in context.values())
    ):
        return "log_context is not text"
    return _batch_invalid(record)


def _batch_invalid(record: dict[str, Any]) -> str | None:
    """Why a batch's own fields are unusable (counts that are not counts, rows not ranges), or None."""
    counts = record.get("request_counts")
    if counts is not None and (not isinstance(counts, dict) or not all(_count(v) for v in counts.values())):
        return "request_counts are not counts"
    rows = record.get("rows")
    if rows is not None and not (
        isinstance(rows, list)
        and all(isinstance(r, list) and len(r) == 2 and _count(r[0]) and _count(r[1]) for r in rows)
    ):
        return "rows are not ranges"
    return None


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --- the local server's asset links -------------------------------------------------------------
# A local server's video and cover links name its port, which dies with the kernel. Records keep
# them as ``zhipu-local:files/NAME`` and get them back as links to whichever local server runs now.
LOCAL_SCHEME = "zhipu-local:"
_LOCAL_ASSET = re.compile(
    r"^http://(?:127\.0\.0\.1|localhost|\[::1\]):\d+/api/paas/v4/(files/[A-Za-z0-9._-]+)$"
)


def _map_urls(record: dict[str, Any], fn: Any) -> dict[str, Any]:
    result = record.get("result")
    if not isinstance(result, dict):
        return record
    changed = False
    items = []
    for key in ("video_result", "image_result"):
        if not isinstance(result.get(key), list):
            continue
        new = []
        for item in result[key]:
            if isinstance(item, dict):
                fixed = {k: fn(v) if k in ("url", "cover_image_url") and isinstance(v, str) else v
                         for k, v in item.items()}  # fmt: skip
                changed |= fixed != item
                item = fixed
            new.append(item)
        items.append((key, new))
    if not changed:
        return record
    return {**record, "result": {**result, **dict(items)}}


def stable_local_assets(record: dict[str, Any]) -> dict[str, Any]:
    """A local task's asset links in a form that outlives the server's port (other records as they are)."""
    if not record.get("local"):
        return record
    return _map_urls(record, lambda url: _LOCAL_ASSET.sub(LOCAL_SCHEME + r"\1", url))


def has_local_assets(record: Mapping[str, Any]) -> bool:
    """Whether the record holds ``zhipu-local:`` links to resolve before showing them."""
    return LOCAL_SCHEME in str(record.get("result") or "")


def resolve_local_assets(record: dict[str, Any], base_url: str) -> dict[str, Any]:
    """``zhipu-local:files/NAME`` -> ``{base_url}/files/NAME`` (a running local server's base URL)."""
    base = base_url.rstrip("/") + "/"

    def resolve(url: str) -> str:
        return base + url[len(LOCAL_SCHEME) :] if url.startswith(LOCAL_SCHEME) else url

    return _map_urls(record, resolve)


MAX_FILE_BYTES = 8 * 1024 * 1024  # a record is a prompt and one answer; real ones are a few KB
# Never follow a link, never block on a FIFO or device: a task file is a regular file or set aside.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class UnusableRecord(ValueError):
    """A task file we will not use (why is the message); it is set aside."""


def _read_upto(fd: int, size: int) -> bytes:
    parts, left = [], size
    while left > 0:
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def read_record_file(path: Path, limit: int = MAX_FILE_BYTES) -> dict[str, Any]:
    """The record in ``path``: a regular file (no link followed, no blocking open), at most ``limit``
    bytes, valid JSON of the right shape. Raises :class:`FileNotFoundError`, another ``OSError`` for
    a file we may not read, or :class:`UnusableRecord` for one to set aside."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symbolic link
            raise UnusableRecord("a symbolic link") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnusableRecord("not a regular file")
        if info.st_size > limit:
            raise UnusableRecord(f"larger than {limit // 1024 // 1024} MB")
        raw = _read_upto(fd, info.st_size + 1)  # one byte more: a file that grew is refused below
    finally:
        os.close(fd)
    if len(raw) > min(info.st_size, limit):
        raise UnusableRecord("changed while being read")
    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise UnusableRecord("nested too deep") from None
    except ValueError:
        raise UnusableRecord("not valid JSON") from None
    reason = invalid_reason(data)
    if reason:
        raise UnusableRecord(reason)
    return data


def jsonable(value: Any) -> Any:
    """JSON-safe copy; anything exotic becomes its ``repr`` (a ``Secret`` reprs as a mask)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return repr(value)


def reply_from_record(record: Mapping[str, Any]) -> Any:
    """A finished chat task as a :class:`~zhipu_magic.reply.Reply` (for the renderer, ``_glm``, ``-o``).

    Its clock runs from ``submitted`` to ``finished``, so the footer's seconds are the task's
    lifetime. None for tasks that are not a successful chat.
    """
    result = record.get("result")
    if record.get("status") != SUCCESS or not isinstance(result, Mapping) or record.get("kind") == "video":
        return None
    now = [float(record.get("submitted") or time.time())]
    messages = [{"role": "user", "content": str(record.get("prompt") or "")}]
    reply = Reply(
        str(record.get("model") or ""), messages, local=bool(record.get("local")), clock=lambda: now[0]
    )
    now[0] = float(record.get("finished") or record.get("updated") or now[0])
    reply.set_response(dict(result))
    reply.task_id = str(record.get("id"))
    return reply
