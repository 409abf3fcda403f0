"""A Batch API job as a task: its record in the task store, one poll, cancel, and the lookup that
lets a rerun of the same ``map(..., batch=True)`` call collect a batch it submitted before (after an
interrupt or a kernel restart) instead of paying for a new one.

A batch record is a task record (``kind="batch"``) whose ``status`` is the API's own word
(validating, in_progress, finalizing, cancelling; final: completed, failed, expired, cancelled; see
:data:`.records.BATCH_FINAL`), with ``request_counts``, the ``input_file_id`` / ``output_file_id`` /
``error_file_id``, and what joins the answers back to the rows: ``rows`` (the row positions, in
``custom_id`` order, as ``[first, last]`` ranges), ``row_count`` (the rows of the whole call),
``map_key`` (the hash of the input file: same rows, prompt, model and params give the same key) and
``template_hash``. ``collected`` turns true once the answers were joined back.

No IPython here; :mod:`.polling` sends a batch id here, so Refresh, auto-refresh and ``wait`` work
for batches as for any task.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ...api.errors import GLMError, NotFoundError
from ..session import notebook_key
from .records import is_final, shorten
from .store import TaskStore

KIND = "batch"


def is_batch(record: Mapping[str, Any] | None) -> bool:
    return record is not None and record.get("kind") == KIND


def looks_like_batch_id(task_id: str) -> bool:
    """The API's batch ids start ``batch_`` (an async task's never do)."""
    return str(task_id).startswith("batch_")


def digest(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def pack_rows(rows: Iterable[int]) -> list[list[int]]:
    """Row positions as ``[first, last]`` ranges (a 50,000-row batch of a run is usually one)."""
    out: list[list[int]] = []
    for row in rows:
        if out and row == out[-1][1] + 1:
            out[-1][1] = row
        else:
            out.append([row, row])
    return out


def unpack_rows(ranges: Iterable[Iterable[int]]) -> list[int]:
    return [row for first, last in ranges for row in range(first, last + 1)]


def batch_update(batch: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a batch object (as the API answers it) that a record keeps."""
    counts = batch.get("request_counts")
    status = batch.get("status")
    now = time.time()
    update: dict[str, Any] = {
        "id": str(batch["id"]),
        "status": status if isinstance(status, str) and status else "validating",
        "updated": now,
        "last_error": None,
        "request_counts": {
            k: counts[k]
            for k in ("total", "completed", "failed")
            if isinstance(counts, Mapping) and isinstance(counts.get(k), int) and counts[k] >= 0
        },  # fmt: skip
    }
    for key in ("input_file_id", "output_file_id", "error_file_id"):
        if isinstance(batch.get(key), str):
            update[key] = batch[key]
    if is_final(update["status"]):
        update["finished"] = now
        update["error"] = batch_errors(batch)
    return update


def batch_errors(batch: Mapping[str, Any]) -> str | None:
    """A failed batch's reasons (bad lines, mixed models...) as one line, or None."""
    errors = batch.get("errors")
    data = errors.get("data") if isinstance(errors, Mapping) else None
    if not isinstance(data, list) or not data:
        return None
    said = []
    for item in data[:3]:
        if isinstance(item, Mapping):
            line = f" (line {item['line']})" if isinstance(item.get("line"), int) else ""
            said.append(f"{item.get('code') or 'error'}: {item.get('message') or ''}{line}".strip())
    more = f" and {len(data) - 3} more" if len(data) > 3 else ""
    return shorten("; ".join(said) + more, 300)


def record_batch(
    store: TaskStore,
    batch: Mapping[str, Any],
    *,
    model: str,
    prompt: str,
    base_url: str | None,
    local: bool,
    rows: Iterable[int] = (),
    row_count: int = 0,
    map_key: str | None = None,
    template_hash: str | None = None,
) -> dict[str, Any]:
    """Store a batch just created (before anything polls it), with what joins it back to the rows."""
    created = batch.get("created_at")
    submitted = created / 1000 if isinstance(created, int) and created > 10**11 else time.time()
    record = {
        "kind": KIND, "model": model, "prompt": shorten(prompt), "submitted": submitted, "polls": 0,
        "result": None, "error": None, "base_url": base_url, "local": local, "notebook": notebook_key(),
        "rows": pack_rows(rows), "row_count": row_count, "map_key": map_key,
        "template_hash": template_hash, "collected": False, **batch_update(batch),
    }  # fmt: skip
    return store.put(record)


def poll_batch(store: TaskStore, client: Any, batch_id: str) -> dict[str, Any]:
    """One ``GET batches/{id}`` merged into the store; returns the record. A batch the server does
    not know (404) becomes ``failed`` here; other API errors are noted on the record and raised."""
    try:
        batch = client.batch(batch_id)
    except NotFoundError as exc:
        why = f"the server does not know this batch ({exc.message or exc})"
        return store.put({"id": batch_id, "status": "failed", "error": shorten(why, 300),
                          "updated": time.time(), "finished": time.time()})  # fmt: skip
    except GLMError as exc:
        store.note_error(batch_id, str(exc))
        raise
    return store.put(batch_update(batch), count_poll=True)


def cancel_batch(store: TaskStore, client: Any, batch_id: str) -> dict[str, Any]:
    """Ask the API to cancel the batch (``cancelling``, then ``cancelled``); returns the record."""
    return store.put(batch_update(client.cancel_batch(batch_id)))


def find_batch(store: TaskStore, map_key: str, base_url: str | None) -> dict[str, Any] | None:
    """The batch a same call submitted to the same API and has not collected yet (a failed one is
    not reused: its input was refused), newest first; None when there is none."""
    for record in store.list():
        if (
            is_batch(record)
            and record.get("map_key") == map_key
            and record.get("base_url") == base_url
            and not record.get("collected")
            and record.get("status") != "failed"
        ):
            return record
    return None


def mark_collected(store: TaskStore, batch_id: str) -> dict[str, Any]:
    return store.put({"id": batch_id, "collected": True, "updated": time.time()})


def counts_text(record: Mapping[str, Any]) -> str:
    """``24 done, 1 failed of 25`` (or empty before the API counted anything)."""
    counts = record.get("request_counts") or {}
    total = counts.get("total") or record.get("rows") and len(unpack_rows(record["rows"]))
    if not total:
        return ""
    failed = f", {counts.get('failed')} failed" if counts.get("failed") else ""
    return f"{counts.get('completed') or 0} done{failed} of {total}"


def batch_summary(record: Mapping[str, Any]) -> str:
    """One line: id, model, status, counts, where the output is (or why it failed)."""
    bits = [f"batch {record.get('id')}", str(record.get("model") or "?"), str(record.get("status"))]
    counts = counts_text(record)
    if counts:
        bits.append(counts)
    if record.get("error"):
        bits.append(str(record["error"]))
    if record.get("output_file_id"):
        bits.append(f"output file {record['output_file_id']}")
    if record.get("error_file_id"):
        bits.append(f"error file {record['error_file_id']}")
    if record.get("collected"):
        bits.append("joined back to its rows")
    return " · ".join(bits)
