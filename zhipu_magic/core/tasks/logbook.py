"""A finished task in the call log, once: the one logging path for chat and video tasks.

Every poll goes through :func:`.polling.poll_task`, which hands each final record (SUCCESS or FAIL)
here, so a task is logged however it finished: ``--wait``, ``%glm wait``, ``%glm result``, the card
polling by itself, the task panel's refresh or auto-refresh. The row is made under the request that
submitted the task (the record keeps its ``request_hash`` and, when small, its body: see
:func:`zhipu_magic.core.ledger.records.task_fields`), so a replay of that request finds it.

Once per task id: the record keeps the row's ``log_id``, and the ledger itself refuses a second row
for a task id inside the same transaction as the insert (:meth:`~zhipu_magic.core.ledger.db.Ledger.add`
with ``once_per_task``), so two kernels polling one task at the same moment still log it once.
A Batch API job is not logged here: its rows are, as ``map`` joins them back.

No display: the notebook reads ``log_id`` to put the provenance on the output it shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...api.inprocess import is_local
from .. import ledger
from .batches import is_batch
from .records import FAIL, SUCCESS, reply_from_record
from .store import TaskStore

CONTEXT_FIELDS = ("cell_id", "notebook")  # what ``log_context`` may carry into the row


class TaskFailed(Exception):
    """A task the server (or this package) ended with FAIL; its reason is the message."""


@dataclass
class TaskAnswer:
    """What a finished task recorded as an answer: a video's links as the text, or the failure."""

    model: str
    text: str
    task_id: str
    error: BaseException | None = None
    usage: Any = None
    request_id: str | None = None


def task_body(record: Mapping[str, Any]) -> dict[str, Any]:
    """The request that submitted the task: kept on the record, else rebuilt from the prompt."""
    if isinstance(record.get("request"), dict):
        return dict(record["request"])
    if record.get("kind") == "video":
        return {"model": record.get("model"), "prompt": record.get("prompt") or ""}
    return {
        "model": record.get("model"),
        "messages": [{"role": "user", "content": record.get("prompt") or ""}],
    }


def task_answer(record: Mapping[str, Any]) -> Any:
    """The answer object a final record logs as: a ``Reply`` for a chat, links for a video, or the
    failure; ``None`` for a record that is not final."""
    task_id, model = str(record.get("id")), str(record.get("model") or "")
    status = record.get("status")
    if status == FAIL:
        return TaskAnswer(model, "", task_id, TaskFailed(str(record.get("error") or "the task failed")))
    if status != SUCCESS:
        return None
    reply = reply_from_record(record)
    if reply is not None:
        return reply
    result = record.get("result") if isinstance(record.get("result"), Mapping) else {}
    urls = [v.get("url") for v in result.get("video_result") or [] if isinstance(v, Mapping)]
    text = "\n".join(u for u in urls if isinstance(u, str) and u)
    return TaskAnswer(model, text, task_id, request_id=record.get("request_id"))


def log_finished(store: TaskStore, record: dict[str, Any], **context: Any) -> dict[str, Any]:
    """Log a final chat or video task once and return its record (with ``log_id`` when logged).

    ``context`` (``cell_id``, ``notebook``) fills what the record's own ``log_context`` (stamped by
    the cell that submitted it) does not say. Never raises: the log never breaks a poll.
    """
    if record.get("log_id") is not None or is_batch(record) or not ledger.logging_enabled():
        return record
    try:
        answer = task_answer(record)
        if answer is None:
            return record
        stamped = record.get("log_context") if isinstance(record.get("log_context"), dict) else {}
        extra = {
            k: stamped.get(k) or context.get(k) for k in CONTEXT_FIELDS if stamped.get(k) or context.get(k)
        }
        if isinstance(record.get("request_hash"), str):
            extra["request_hash"] = record["request_hash"]  # the submitted request, even when too big to keep
        base_url = record.get("base_url")
        log_id = ledger.record(
            answer, task_body(record), kind="video" if record.get("kind") == "video" else "async",
            local=bool(record.get("local")) or is_local(base_url), base_url=base_url,
            task_id=str(record["id"]), once_per_task=True, **extra,
        )  # fmt: skip
    except Exception:  # noqa: BLE001 - the log never breaks a poll
        return record
    if log_id is None:
        return record
    return store.put({"id": str(record["id"]), "log_id": log_id})
