"""HTML pieces for the task card and the widget panels: badges, elapsed time, task results, videos,
error and status lines, and the static task card (terminal IPython, nbconvert).

Pure, like :mod:`.bundles`: no ipywidgets, no IPython. Answers go through :func:`.bundles.reply_html`,
and every other string (ids, status strings, server reasons, prompts, URLs) is escaped, because
``ipywidgets.HTML`` sets ``innerHTML`` unsanitized.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from ...core.tasks.records import FAIL, PROCESSING, SUCCESS, is_final, reply_from_record
from .bundles import reply_html, reply_text
from .markdown import escape

BADGE_COLORS = {PROCESSING: "#b45309", SUCCESS: "#15803d", FAIL: "#b91c1c"}
_HTTP_URL = re.compile(r"^https?://[^\s\"'<>\\`]+$", re.IGNORECASE)


def error_html(message: str) -> str:
    return f'<div class="zm-error" style="color:#b91c1c">\u26a0 {escape(message)}</div>'


def status_html(message: str) -> str:
    """The panels' quiet one-line status ("" for no message)."""
    return f'<div class="zm-status" style="opacity:0.7">{escape(message)}</div>' if message else ""


def badge_html(status: object, colors: Mapping[str, str] = BADGE_COLORS) -> str:
    """The status as a coloured pill; unknown status strings are shown (escaped) in grey."""
    text = str(status or "?")
    color = colors.get(text, "#6b7280")
    return (
        f'<span class="zm-badge zm-badge-{escape(text.lower())}" style="background:{color};'
        'color:white;border-radius:8px;padding:1px 8px;font-size:0.8em;font-weight:600">'
        f"{escape(text.replace('_', ' '))}</span>"
    )


def elapsed_text(record: Mapping[str, Any], now: float | None = None) -> str:
    """Seconds since submission (until it finished)."""
    start = float(record.get("submitted") or 0)
    if not start:
        return ""
    end = float(record.get("finished") or 0) or (time.time() if now is None else now)
    secs = max(0.0, end - start)
    return f"{secs:.1f} s" if secs < 90 else f"{int(secs // 60)} min {int(secs % 60):02d} s"


def safe_http_url(url: object) -> str | None:
    """The URL if it is plain http(s) with nothing that could break out of an attribute."""
    if isinstance(url, str) and _HTTP_URL.match(url.strip()):
        return url.strip()
    return None


def refetch_command(task_id: object) -> str:
    """The one line that fetches a finished video again and saves it."""
    return f"%glm result {task_id} -o video.mp4"


def video_html(result: Mapping[str, Any], *, task_id: object = None, reachable: bool | None = None) -> str:
    """One ``<video>`` player per http(s) video (its cover as the poster), and one line under it
    saying how to fetch it again, since links expire and a local server's port dies with its kernel.

    ``reachable=False`` (checked by the kernel when it drew this) shows that line instead of a black
    0:00 player. Outputs stay inert, so nothing here reacts to a failed load in the browser itself.
    """
    parts = []
    again = f"fetch it again with <code>{escape(refetch_command(task_id))}</code>" if task_id else ""
    for item in result.get("video_result") or []:
        if not isinstance(item, Mapping):
            continue
        url, cover = safe_http_url(item.get("url")), safe_http_url(item.get("cover_image_url"))
        if not url:
            continue
        link = f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer" download>open or save</a>'
        if reachable is False:
            gone = escape("this video can no longer be loaded (its link expired or its server is gone)")
            parts.append(
                f'<div class="zm-error zm-video-gone" style="color:#b91c1c">\u26a0 {gone}'
                + (f": {again}" if again else "")
                + "</div>"
            )
            continue
        poster = f' poster="{escape(cover)}"' if cover else ""
        parts.append(
            f'<video class="zm-video" controls preload="metadata" style="max-width:360px;width:100%;'
            f'display:block" src="{escape(url)}"{poster}></video>'
            f'<div class="zm-video-note" style="opacity:0.7;font-size:0.85em">{link}'
            + (f" \u00b7 if it does not play, its link has expired: {again}" if again else "")
            + "</div>"
        )
    return "".join(parts) or error_html("the task succeeded but returned no http(s) video URL")


def video_urls(record: Mapping[str, Any]) -> list[str]:
    """The http(s) video links of a finished video task (what a reachability check looks at)."""
    items = (record.get("result") or {}).get("video_result") or []
    return [u for u in (safe_http_url(v.get("url")) for v in items if isinstance(v, Mapping)) if u]


def task_header_html(
    record: Mapping[str, Any],
    now: float | None = None,
    *,
    kind: str | None = None,
    colors: Mapping[str, str] = BADGE_COLORS,
) -> str:
    """``[badge] id · model · kind · elapsed`` plus the shortened prompt, all escaped (a batch passes
    its own ``kind`` and badge colours)."""
    kind = kind or str(record.get("kind") or "chat")
    bits = [str(record.get("id", "?")), str(record.get("model") or "?"), kind]
    elapsed = elapsed_text(record, now)
    if elapsed:
        bits.append(elapsed)
    prompt = record.get("prompt") or ""
    return (
        f'<div class="zm-task-header">{badge_html(record.get("status"), colors)} '
        f"<code>{escape(' · '.join(bits))}</code>"
        + (f'<div style="opacity:0.7">{escape(prompt)}</div>' if prompt else "")
        + "</div>"
    )


def task_body_html(record: Mapping[str, Any], *, reachable: bool | None = None) -> str:
    """What the task produced: the answer (via render), the video, the failure reason, or a wait note."""
    status = record.get("status")
    if status == SUCCESS:
        if record.get("kind") == "video":
            return video_html(record.get("result") or {}, task_id=record.get("id"), reachable=reachable)
        reply = reply_from_record(record)
        return reply_html(reply, final=True) if reply is not None else ""
    if status == FAIL:
        return error_html(f"FAIL: {record.get('error') or 'no reason given'}")
    note = f"{status or 'pending'} \u2014 checked again automatically; Refresh checks now"
    out = f'<div class="zm-pending" style="opacity:0.7">{escape(note)}</div>'
    if record.get("last_error"):
        out += error_html(str(record["last_error"]))
    return out


def task_card_bundle(record: Mapping[str, Any], *, reachable: bool | None = None) -> dict[str, str]:
    """The non-widget fallback (terminal IPython, nbconvert): a static card as a mime bundle."""
    reply = reply_from_record(record)
    plain = [
        f"task {record.get('id')} · {record.get('model')} · {record.get('status')} · {elapsed_text(record)}"
    ]
    if reply is not None:
        plain.append(reply_text(reply, final=True))
    elif record.get("status") == FAIL:
        plain.append(f"FAIL: {record.get('error')}")
    elif record.get("kind") == "video" and record.get("status") == SUCCESS:
        plain += [str(v.get("url")) for v in (record.get("result") or {}).get("video_result") or []]
        plain.append(f"if a link has expired: {refetch_command(record.get('id'))}")
    else:
        plain.append(
            f"still {record.get('status')}: fetch it with %glm result {record.get('id')} (or %glm tasks)"
        )
    body = task_body_html(record, reachable=reachable)
    html = f'<div class="zm-task-card zm-static">{task_header_html(record)}{body}</div>'
    return {"text/html": html, "text/plain": "\n".join(plain)}


def task_row_html(
    record: Mapping[str, Any], now: float | None = None, *, reachable: bool | None = None
) -> str:
    """One row of the task panel, the same for every task: the header line, then the result (an
    answer, one video player, a failure) in a ``<details open>`` the user may fold, or the wait note."""
    body = task_body_html(record, reachable=reachable)
    if is_final(record.get("status")):
        body = f"<details open><summary>result</summary>{body}</details>"
    return (
        '<div class="zm-task-row" style="border-top:1px solid #e5e7eb;padding:4px 0;width:100%">'
        f"{task_header_html(record, now)}{body}</div>"
    )


# Where a widget's model is gone (notebook reopened, kernel restarted), ipywidgets paints "Error
# displaying widget: model not found" (or "Loading widget..." without a kernel), and its renderer is
# preferred over any other mime type of the same output, so an HTML twin in the bundle is never shown.
# So each live widget is displayed after a note output, and this CSS hides the note while the widget
# after it lives, and hides that widget's output node while it holds no element (loading, or the
# error text). Plain CSS, no script: the output stays inert. (One rule each: a selector a browser
# rejects drops only its own rule. ``:has()`` may not nest, ``:not(:has())`` may.)
_OUT = ".jp-OutputArea-child"
_REOPEN_CSS = (
    f"{_OUT}:has(.zm-reopen-note):has(+ {_OUT} .zm-live){{display:none}}"
    f"{_OUT}:has(.zm-reopen-note) + {_OUT} > .jp-OutputArea-output:not(:has(*)){{display:none}}"
)


def reopen_note_bundle(text: str, html: str | None = None) -> dict[str, str]:
    """The output shown beside a live widget: ``text`` (one line), or ``html`` (a static snapshot,
    already safe), plus the CSS above. What a saved notebook shows in place of the widget."""
    inner = html if html is not None else f'<div style="opacity:0.7">{escape(text)}</div>'
    return {
        "text/html": f'<div class="zm-reopen-note"><style>{_REOPEN_CSS}</style>{inner}</div>',
        "text/plain": text,
    }


def gone_note_bundle() -> dict[str, str]:
    """What replaces a note once its widget has become a static output: no data at all, so a front
    end draws nothing (JupyterLab and Notebook 7 insert an empty node) and the saved notebook holds
    just the static output."""
    return {}
