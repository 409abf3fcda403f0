"""``map(..., batch=True)``: the rows not yet answered go through the vendor's Batch API (half price,
no concurrency limit) instead of one request each: one JSONL input file (``custom_id`` = the row's
position), one batch, polled until it ends, then the output and error files joined back to the rows
by ``custom_id``. Every answer is recorded in the call log like a direct row (``kind="batch"``, batch
price), so a rerun of the same call sends nothing again, whichever path answered first.

Inputs are split over the API's limits (:data:`MAX_LINES` requests, :data:`MAX_BYTES` per file).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from ...api.answer import Answer
from ...api.batches import jsonl
from ...api.calls import Request
from ...api.errors import GLMError
from .. import ledger
from .ask import Job, parse_answer
from .result import MapResult, RowError, RowInfo

MAX_LINES = 50_000
MAX_BYTES = 100 * 1024 * 1024
DONE = ("completed", "failed", "expired", "cancelled")


def parts(requests: list[Request], pending: list[int]) -> list[list[int]]:
    """``pending`` cut into groups that each fit one input file."""
    groups: list[list[int]] = [[]]
    size = 0
    for index in pending:
        line = len(json.dumps(requests[index].body, ensure_ascii=False).encode()) + 120
        if groups[-1] and (len(groups[-1]) >= MAX_LINES or size + line > MAX_BYTES):
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += line
    return [g for g in groups if g]


def run_batches(
    job: Job,
    requests: list[Request],
    result: MapResult,
    pending: list[int],
    *,
    poll: float = 2.0,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Answer the ``pending`` rows of ``result`` through batches (one per part); ``report`` gets each
    batch object as it is polled."""
    for group in parts(requests, pending):
        content = jsonl((f"row-{i}", requests[i].body or {}) for i in group)
        uploaded = job.client.upload_file(content, "batch", filename="map.jsonl")
        batch = job.client.create_batch(uploaded["id"], metadata={"source": "zhipu_magic.map"})
        while batch.get("status") not in DONE:
            if report is not None:
                report(batch)
            time.sleep(poll)
            batch = job.client.batch(batch["id"])
        if report is not None:
            report(batch)
        join(job, requests, result, group, batch)


def join(
    job: Job, requests: list[Request], result: MapResult, group: list[int], batch: dict[str, Any]
) -> None:
    """The output and error files of a finished ``batch`` laid onto the rows of ``group``."""
    seen: set[int] = set()
    for file_id in (batch.get("output_file_id"), batch.get("error_file_id")):
        if not file_id:
            continue
        for raw in job.client.file_content(file_id).splitlines():
            index = _row(raw, group)
            if index is not None:
                seen.add(index)
                settle(job, requests[index], result, index, json.loads(raw), batch["id"])
    status = batch.get("status")
    for index in set(group) - seen:
        why = "the batch ended without this row" if status == "completed" else f"the batch {status}"
        errors = (batch.get("errors") or {}).get("data") or []
        detail = "; ".join(str(e.get("message") or e.get("code")) for e in errors[:3] if isinstance(e, dict))
        result[index] = RowError(f"batch_{status}", f"{why}{': ' + detail if detail else ''}")


def _row(raw: bytes, group: list[int]) -> int | None:
    try:
        custom_id = json.loads(raw).get("custom_id", "")
        index = int(str(custom_id).removeprefix("row-"))
    except (ValueError, AttributeError):
        return None
    return index if index in group else None


def settle(
    job: Job, request: Request, result: MapResult, index: int, line: dict[str, Any], batch_id: str
) -> None:
    response = line.get("response") if isinstance(line.get("response"), dict) else {}
    body = response.get("body") if isinstance(response.get("body"), dict) else {}
    if response.get("status_code") != 200:
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        code = error.get("code")
        result[index] = RowError(
            "batch_error", str(error.get("message") or "the row failed"), None if code is None else str(code),
            response.get("status_code") if isinstance(response.get("status_code"), int) else None,
        )  # fmt: skip
        return
    answer = Answer((request.body or {}).get("model"))
    try:
        answer.set_response(body)
    except (GLMError, TypeError, ValueError) as err:
        result[index] = RowError("batch_error", f"an answer that could not be read: {err}")
        return
    log_id = None
    if job.log:
        log_id = ledger.record(
            answer, request.body, kind="batch", local=job.local, base_url=job.base_url, batch=True,
            task_id=batch_id, **job.context,
        )  # fmt: skip
    result[index] = parse_answer(answer.text, job.json)
    result.info[index] = RowInfo(answer.usage, 0, 0.0, False, log_id)
