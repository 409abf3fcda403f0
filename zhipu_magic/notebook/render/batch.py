"""HTML for a Batch API job (the batch card, its row in the task panel, its static card): the API's
status as a badge, ``request_counts`` as a bar, where the output is, and how to collect it.

Pure, like :mod:`.panels`: nothing here comes from a model, but ids, status words and the server's
reasons are escaped all the same (``ipywidgets.HTML`` sets ``innerHTML`` unsanitized).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...core.tasks.batches import batch_summary, counts_text
from ...core.tasks.records import is_final
from .markdown import escape
from .panels import error_html, task_header_html

BATCH_COLORS = {
    "validating": "#6b7280", "in_progress": "#b45309", "finalizing": "#b45309", "completed": "#15803d",
    "failed": "#b91c1c", "expired": "#b91c1c", "cancelling": "#6b7280", "cancelled": "#6b7280",
}  # fmt: skip
COLLECT = "run the same map(..., batch=True) call (or %%glm --map cell) again to join the answers to the rows"


def batch_header_html(record: Mapping[str, Any], now: float | None = None) -> str:
    """``[badge] id · model · batch · elapsed`` and the template it ran."""
    return task_header_html(record, now, kind="batch", colors=BATCH_COLORS)


def counts_bar_html(record: Mapping[str, Any]) -> str:
    """The completed (green) and failed (red) shares of ``request_counts`` and the words for them."""
    counts = record.get("request_counts") or {}
    total = int(counts.get("total") or 0)
    words = counts_text(record) or "no requests counted yet"
    if not total:
        return f'<div class="zm-batch-counts" style="opacity:0.8">{escape(words)}</div>'
    done = 100 * int(counts.get("completed") or 0) / total
    failed = 100 * int(counts.get("failed") or 0) / total
    bar = (
        '<div style="display:flex;height:6px;width:240px;background:#e5e7eb;border-radius:3px;'
        f'overflow:hidden"><div style="width:{done:.1f}%;background:#15803d"></div>'
        f'<div style="width:{failed:.1f}%;background:#b91c1c"></div></div>'
    )
    return f'<div class="zm-batch-counts">{bar}<span style="opacity:0.8">{escape(words)}</span></div>'


def batch_body_html(record: Mapping[str, Any]) -> str:
    """Counts, then where the output is (final), the reason (failed), or a wait note (pending)."""
    out = counts_bar_html(record)
    status = record.get("status")
    if record.get("error"):
        out += error_html(f"{status}: {record['error']}")
    if is_final(status):
        files = [
            f"{name} file <code>{escape(str(record[key]))}</code>"
            for key, name in (("output_file_id", "output"), ("error_file_id", "error"))
            if record.get(key)
        ]
        if files:
            out += f'<div class="zm-batch-files">{" · ".join(files)}</div>'
        note = "joined back to its rows" if record.get("collected") else COLLECT
        if files or record.get("collected"):
            out += f'<div class="zm-pending" style="opacity:0.7">{escape(note)}</div>'
    else:
        note = (
            f"{str(status or 'pending').replace('_', ' ')}: checked again automatically; Refresh checks now"
        )
        out += f'<div class="zm-pending" style="opacity:0.7">{escape(note)}</div>'
    if record.get("last_error"):
        out += error_html(str(record["last_error"]))
    return out


def batch_card_bundle(record: Mapping[str, Any]) -> dict[str, str]:
    """The static card (a finished batch, terminal IPython, nbconvert) as a mime bundle."""
    plain = [batch_summary(record)]
    if is_final(record.get("status")) and not record.get("collected") and record.get("output_file_id"):
        plain.append(COLLECT)
    elif not is_final(record.get("status")):
        plain.append(f"still running: %glm result {record.get('id')} (or %glm tasks) shows it")
    html = f'<div class="zm-task-card zm-static">{batch_header_html(record)}{batch_body_html(record)}</div>'
    return {"text/html": html, "text/plain": "\n".join(plain)}


def batch_row_html(record: Mapping[str, Any], now: float | None = None) -> str:
    """One row of the task panel for a batch, shaped like a task's row."""
    return (
        '<div class="zm-task-row" style="border-top:1px solid #e5e7eb;padding:4px 0;width:100%">'
        f"{batch_header_html(record, now)}{batch_body_html(record)}</div>"
    )
