"""The progress of a ``map`` run as a bundle: done / failed / in flight / total, a bar, rows per
second, tokens in and out, the ETA and the current concurrency. Pure: no display, every string
escaped (nothing here comes from a model, but the reason a run stopped quotes a server message).
"""

from __future__ import annotations

import html
from typing import Any


def duration(seconds: float | None) -> str:
    """``42 s``, ``3 min 5 s``, ``2 h 7 min``; an em dash when unknown."""
    if seconds is None:
        return "—"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def progress_text(p: Any) -> str:
    """One line of plain text (terminal IPython, and the HTML's ``text/plain`` twin)."""
    head = f"{p.done:,}/{p.total:,} done"
    if p.failed:
        head += f", {p.failed:,} failed"
    if p.from_record:
        head += f" ({p.from_record:,} from the call log)"
    moving = f"{p.in_flight} in flight, " if not p.finished else ""
    rate = p.rows_per_s
    if not rate and p.finished and p.elapsed > 0:  # the Batch API reports no rate while it runs
        rate = (p.done + p.failed - p.from_record) / p.elapsed
    tail = f"{moving}{rate:.1f} rows/s, tokens {p.prompt_tokens:,} in / {p.completion_tokens:,} out"
    if p.concurrency > 0:  # none for a batch
        tail += f", concurrency {p.concurrency:.1f}"
    if p.finished:
        return f"{head}; {tail}; {ending(p)} after {duration(p.elapsed)}"
    return f"{head}; {tail}; ETA {duration(p.eta)}"


def ending(p: Any) -> str:
    """How a finished run ended: ``finished``, or why it stopped and how many rows were not run."""
    if not p.stopped:
        return "finished"
    left = max(p.total - p.done - p.failed, 0)
    why = p.stopped if p.stopped.startswith("stopped") else f"stopped: {p.stopped}"
    return f"{why}, {left:,} rows not run" if left else why


def progress_html(p: Any) -> str:
    """The bar and the numbers, escaped."""
    total = max(p.total, 1)
    ok = 100.0 * (p.done - p.from_record) / total
    old = 100.0 * p.from_record / total
    bad = 100.0 * p.failed / total
    color = "#b45309" if p.stopped else "#2563eb"
    bar = (
        '<div style="display:flex;height:8px;width:100%;max-width:32em;background:#e5e7eb;'
        'border-radius:4px;overflow:hidden">'
        f'<div style="width:{old:.2f}%;background:#93c5fd"></div>'
        f'<div style="width:{ok:.2f}%;background:{color}"></div>'
        f'<div style="width:{bad:.2f}%;background:#dc2626"></div></div>'
    )
    text = html.escape(progress_text(p))
    return (
        f'<div class="zm-map tex2jax_ignore" data-done="{p.done}" data-total="{p.total}">{bar}'
        f'<div style="font-size:0.85em;opacity:0.8;margin-top:2px">{text}</div></div>'
    )


def progress_bundle(p: Any) -> dict[str, str]:
    return {"text/html": progress_html(p), "text/plain": progress_text(p)}


def running_note(p: Any) -> tuple[str, str]:
    """What a notebook saved while the run was going shows once its kernel is gone, in place of the
    live widget: one line on how to resume (a batch run: how its batch is collected), and the
    progress at that moment. ``(text, html)``, the HTML escaped."""
    if p.concurrency > 0:
        how = "run the cell again to resume; answered rows come from the call log, only the rest are sent"
    else:  # the Batch API: the batch runs on without the kernel
        how = "run the cell again to collect its batch (nothing is sent twice); the card below names it"
    line = f"this map was running when the notebook was saved: {how}"
    so_far = "so far: " + progress_text(p).split(";")[0]  # no rate or ETA: nothing runs any more
    bar = progress_html(p).replace(html.escape(progress_text(p)), html.escape(so_far))
    html_ = f'<div class="zm-map-note"><div style="opacity:0.8">\u23f8 {html.escape(line)}</div>{bar}</div>'
    return f"{line}\n{so_far}", html_
