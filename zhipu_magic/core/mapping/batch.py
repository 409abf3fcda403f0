"""``map(..., batch=True)``: the rows not yet answered go through the vendor's Batch API (half price,
no concurrency limit) instead of one request each: one JSONL input file (``custom_id`` = the row's
position), one batch, kept in the task store as a task (:mod:`zhipu_magic.core.tasks.batches`: the
task panel lists it, a card follows it, it survives a kernel restart), polled until it ends, then the
output and error files joined back to the rows by ``custom_id``. Every answer is recorded in the call
log like a direct row (``kind="batch"``, batch price), so a rerun of the same call sends nothing
again, whichever path answered first; a rerun while the batch is unfinished (after an interrupt or a
restart) finds it in the task store and collects it instead of submitting it again.

Inputs are split over the API's limits (:data:`MAX_LINES` requests, :data:`MAX_BYTES` per file).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from ...api.answer import Answer
from ...api.batches import jsonl
from ...api.calls import Request
from ...api.errors import APIConnectionError, GLMError, RateLimitError, ServerError
from ...api.retry import sliced_sleep
from .. import ledger
from ..tasks.batches import digest, find_batch, mark_collected, poll_batch, record_batch, unpack_rows
from ..tasks.records import is_final
from ..tasks.store import TaskStore, get_store
from .ask import Job, parse_answer
from .result import MapResult, RowError, RowInfo

MAX_LINES = 50_000
MAX_BYTES = 100 * 1024 * 1024


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
    template: str = "",
    store: TaskStore | None = None,
    on_batch: Callable[[dict[str, Any]], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Answer the ``pending`` rows of ``result`` through batches (one per part), each kept in the
    task store as it is created (and handed to ``on_batch``: a notebook shows its card); ``report``
    gets the summed ``request_counts`` as they are polled.

    A part whose identical batch is already in the store and not yet joined back (an interrupted or
    restarted earlier run of the same call) is not submitted again: that batch is waited for and
    collected. An interrupt (or ``stop`` set: a Stop button) leaves the batches running and says how
    to collect or cancel them."""
    store = store or get_store()
    records: list[dict[str, Any]] = []
    try:
        for group in parts(requests, pending):
            records.append(submit_or_find(job, requests, group, store, template, len(result)))
            if on_batch is not None:
                on_batch(records[-1])
        records = follow(job, store, records, poll, report)
    except KeyboardInterrupt:
        result.stopped = stopped_line([str(r["id"]) for r in records], stop is not None and stop.is_set())
        return
    for record in records:
        join(job, requests, result, unpack_rows(record.get("rows") or []), record)
        mark_collected(store, str(record["id"]))


def stopped_line(ids: list[str], stopped: bool) -> str:
    """Why the run ended early, in one line: the batches run on, how to collect or cancel them."""
    word, listed = ("stopped" if stopped else "interrupted"), ", ".join(ids)
    if not ids:
        return f"{word} before a batch was created"
    if not stopped:
        return f"interrupted: batch {listed} runs on; run the same call again to collect it"
    return (
        f"stopped: batch {listed} runs on; run the same call again to collect it, "
        f"or cancel it (the task panel, %glm tasks, has Cancel)"
    )


def submit_or_find(
    job: Job, requests: list[Request], group: list[int], store: TaskStore, template: str, row_count: int
) -> dict[str, Any]:
    """The batch of ``group``: the stored one of an earlier identical call, else a new one (uploaded,
    created, recorded before the first poll)."""
    content = jsonl((f"row-{i}", requests[i].body or {}) for i in group)
    key = digest(content)
    found = find_batch(store, key, job.base_url)
    if found is not None:
        return found
    uploaded = job.client.upload_file(content, "batch", filename="map.jsonl")
    batch = job.client.create_batch(uploaded["id"], metadata={"source": "zhipu_magic.map"})
    return record_batch(
        store, batch, model=job.model, prompt=f"map: {template}", base_url=job.base_url, local=job.local,
        rows=group, row_count=row_count, map_key=key, template_hash=digest(template),
    )  # fmt: skip


def follow(
    job: Job,
    store: TaskStore,
    records: list[dict[str, Any]],
    poll: float,
    report: Callable[[dict[str, Any]], None] | None,
) -> list[dict[str, Any]]:
    """Poll every unfinished batch until all are final (transient API trouble is waited out)."""
    while True:
        if report is not None:
            report({"request_counts": summed(records)})
        if all(is_final(r.get("status")) for r in records):
            return records
        sliced_sleep(poll)
        for n, record in enumerate(records):
            if not is_final(record.get("status")):
                try:
                    records[n] = poll_batch(store, job.client, str(record["id"]))
                except (APIConnectionError, ServerError, RateLimitError):
                    pass  # noted on the record; polled again next round


def summed(records: list[dict[str, Any]]) -> dict[str, int]:
    total = {"total": 0, "completed": 0, "failed": 0}
    for record in records:
        counts = record.get("request_counts") or {}
        for key in total:
            total[key] += int(counts.get(key) or 0)
    return total


def join(
    job: Job, requests: list[Request], result: MapResult, group: list[int], batch: dict[str, Any]
) -> None:
    """The output and error files of a finished batch (its record) laid onto the rows of ``group``."""
    seen: set[int] = set()
    rows = set(group)
    status = batch.get("status")
    detail = batch.get("error")
    for file_id in (batch.get("output_file_id"), batch.get("error_file_id")):
        if not file_id:
            continue
        try:
            content = job.client.file_content(file_id)
        except GLMError as err:
            detail = f"its file {file_id} could not be read ({err.message or err}); run again to resend"
            continue
        for raw in content.splitlines():
            index = _row(raw, rows)
            if index is not None:
                seen.add(index)
                settle(job, requests[index], result, index, json.loads(raw), str(batch["id"]))
    for index in rows - seen:
        why = "the batch ended without this row" if status == "completed" else f"the batch {status}"
        result[index] = RowError(f"batch_{status}", f"{why}{': ' + detail if detail else ''}")


def _row(raw: bytes, group: set[int]) -> int | None:
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
