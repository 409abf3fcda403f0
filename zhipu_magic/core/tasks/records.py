"""What a task record is and how two versions of one merge: statuses, shortening, the FAIL reason.

Pure functions over plain dicts, shared by the store (disk or memory), the polling and the views.
Status only moves forward: ``PROCESSING`` (or any status string we do not know, stored verbatim and
treated as still pending) -> ``SUCCESS`` | ``FAIL``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ...api.text import truncate
from ..reply import Reply

PROCESSING = "PROCESSING"
SUCCESS = "SUCCESS"
FAIL = "FAIL"
UNKNOWN = "UNKNOWN"  # stored when the server gives no status at all
FINAL_STATUSES = frozenset({SUCCESS, FAIL})
PROMPT_CHARS = 200  # the prompt is kept shortened: it is for the list, not for replay


def is_final(status: object) -> bool:
    """SUCCESS and FAIL are final; everything else (PROCESSING, unknown strings) is pending."""
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

    A final status on disk wins over a pending one (and the first final status wins over a later,
    different final one); fields describing the outcome follow the status. ``submitted`` keeps the
    earliest value and ``polls`` the largest, so concurrent writers converge.
    """
    if not disk:
        return dict(new)
    out = dict(disk)
    disk_status, new_status = disk.get("status"), new.get("status", disk.get("status"))
    take_outcome = status_rank(new_status) > status_rank(disk_status) or (
        status_rank(new_status) == status_rank(disk_status) == 0
    )
    outcome = {"status", "result", "error", "finished"}
    for key, value in new.items():
        if key in outcome:
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
