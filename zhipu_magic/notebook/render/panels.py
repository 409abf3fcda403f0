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

from ...core.tasks.records import FAIL, PROCESSING, SUCCESS, reply_from_record
from .bundles import reply_html, reply_text
from .markdown import escape

BADGE_COLORS = {PROCESSING: "#b45309", SUCCESS: "#15803d", FAIL: "#b91c1c"}
_HTTP_URL = re.compile(r"^https?://[^\s\"'<>\\`]+$", re.IGNORECASE)


def error_html(message: str) -> str:
    return f'<div class="zm-error" style="color:#b91c1c">\u26a0 {escape(message)}</div>'


def status_html(message: str) -> str:
    """The panels' quiet one-line status ("" for no message)."""
    return f'<div class="zm-status" style="opacity:0.7">{escape(message)}</div>' if message else ""


def badge_html(status: object) -> str:
    """The status as a coloured pill; unknown status strings are shown (escaped) in grey."""
    text = str(status or "?")
    color = BADGE_COLORS.get(text, "#6b7280")
    return (
        f'<span class="zm-badge zm-badge-{escape(text.lower())}" style="background:{color};'
        'color:white;border-radius:8px;padding:1px 8px;font-size:0.8em;font-weight:600">'
        f"{escape(text)}</span>"
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


def video_html(result: Mapping[str, Any]) -> str:
    """A ``<video>`` player and cover image for each http(s) video in a video task result."""
    parts = []
    for item in result.get("video_result") or []:
        if not isinstance(item, Mapping):
            continue
        url, cover = safe_http_url(item.get("url")), safe_http_url(item.get("cover_image_url"))
        if url:
            poster = f' poster="{escape(cover)}"' if cover else ""
            parts.append(
                f'<video class="zm-video" controls preload="metadata" style="max-width:360px;width:100%"'
                f' src="{escape(url)}"{poster}></video>'
                f'<div><a href="{escape(url)}" target="_blank" rel="noopener noreferrer">'
                f"{escape(url)}</a></div>"
            )
        if cover:
            parts.append(
                f'<div class="zm-cover"><img src="{escape(cover)}" alt="cover image"'
                ' style="max-width:160px;border:1px solid #ddd"></div>'
            )
    return "".join(parts) or error_html("the task succeeded but returned no http(s) video URL")


def task_header_html(record: Mapping[str, Any], now: float | None = None) -> str:
    """``[badge] id · model · kind · elapsed`` plus the shortened prompt, all escaped."""
    bits = [str(record.get("id", "?")), str(record.get("model") or "?"), str(record.get("kind") or "chat")]
    elapsed = elapsed_text(record, now)
    if elapsed:
        bits.append(elapsed)
    prompt = record.get("prompt") or ""
    return (
        f'<div class="zm-task-header">{badge_html(record.get("status"))} '
        f"<code>{escape(' · '.join(bits))}</code>"
        + (f'<div style="opacity:0.7">{escape(prompt)}</div>' if prompt else "")
        + "</div>"
    )


def task_body_html(record: Mapping[str, Any]) -> str:
    """What the task produced: the answer (via render), the video, the failure reason, or a wait note."""
    status = record.get("status")
    if status == SUCCESS:
        if record.get("kind") == "video":
            return video_html(record.get("result") or {})
        reply = reply_from_record(record)
        return reply_html(reply, final=True) if reply is not None else ""
    if status == FAIL:
        return error_html(f"FAIL: {record.get('error') or 'no reason given'}")
    note = f"{status or 'pending'} \u2014 press Refresh to check again"
    out = f'<div class="zm-pending" style="opacity:0.7">{escape(note)}</div>'
    if record.get("last_error"):
        out += error_html(str(record["last_error"]))
    return out


def task_card_bundle(record: Mapping[str, Any]) -> dict[str, str]:
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
    else:
        plain.append(
            f"still {record.get('status')}: fetch it with %glm result {record.get('id')} (or %glm tasks)"
        )
    html = f'<div class="zm-task-card">{task_header_html(record)}{task_body_html(record)}</div>'
    return {"text/html": html, "text/plain": "\n".join(plain)}
