"""Pure renderers for tools and web search: a card per tool call, footnote markers, the sources list.

- ``[ref_N]`` (or ``【ref_N】``) in the rendered answer becomes a superscript link to the N-th source;
  a marker with no source stays as text.
- Sources: a collapsible "Sources" list under the answer (title, site, date), open at first: JupyterLab
  scrolls to a marker's target itself and cannot reach one inside a closed list. Only an http(s) link
  with a host is live, anything else is shown as text. Every string is escaped.
- Each tool call: a collapsible card with the function name, the arguments, the result (truncated),
  the time taken and an error marker.

Strings in, strings out: no IPython, no ipywidgets (hooked into :func:`.bundles.reply_html`).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from .markdown import escape

_MARKER = re.compile(r"\[ref_(\d{1,3})\]|【ref_(\d{1,3})】")
_ID = re.compile(r"[^A-Za-z0-9]")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
MAX_SHOWN = 1000  # characters of a result or arguments shown on a card
MAX_TITLE = 200
# A card's frame, set apart from the answer under it; plain colours (no CSS variables) so that a
# sanitized copy of the notebook (opened untrusted) keeps it too.
_CARD = "border:1px solid rgba(128,128,128,0.35);border-radius:4px;padding:2px 8px;margin:4px 0"


def live_link(url: Any) -> str | None:
    """``url`` when it is an http(s) link with a host and nothing odd in it, else ``None``."""
    if not isinstance(url, str) or not url or _UNSAFE.search(url):
        return None
    parts = urllib.parse.urlsplit(url)
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def anchor_prefix(reply: Any) -> str:
    """An id prefix for this answer's footnotes (from its request id: stable in saved output)."""
    rid = _ID.sub("", str(getattr(reply, "request_id", "") or ""))[:32]
    return f"zm-src-{rid or format(id(reply), 'x')}"


def _cut(text: str, limit: int = MAX_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- web search ---------------------------------------------------------------------------------
def cite_html(html: str, reply: Any) -> str:
    """The answer's HTML with each ``[ref_N]`` marker as a superscript link to source N."""
    sources = getattr(reply, "sources", None) or []
    if not sources or "ref_" not in html:
        return html
    prefix = anchor_prefix(reply)

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1) or match.group(2))
        if not 1 <= n <= len(sources):
            return match.group(0)
        return f'<sup class="zm-ref"><a href="#{prefix}-{n}" title="source {n}">[{n}]</a></sup>'

    return _MARKER.sub(link, html)


def sources_html(reply: Any) -> str:
    """The collapsible "Sources" list (open, so the markers lead somewhere), or "" without sources."""
    sources = getattr(reply, "sources", None) or []
    if not sources:
        return ""
    prefix = anchor_prefix(reply)
    items = []
    for n, source in enumerate(sources, 1):
        title = escape(_cut(str(source.get("title") or source.get("link") or f"source {n}"), MAX_TITLE))
        url = live_link(source.get("link"))
        head = (
            f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer nofollow">{title}</a>'
            if url
            else title
        )
        meta = " · ".join(escape(str(source.get(k))[:80]) for k in ("media", "publish_date") if source.get(k))
        shown = "" if url else f" <code>{escape(_cut(str(source.get('link') or ''), 200))}</code>"
        extra = f' <span style="opacity:0.7">{meta}</span>' if meta else ""
        items.append(f'<li id="{prefix}-{n}">{head}{shown}{extra}</li>')
    return (
        f'<details class="zm-sources tex2jax_ignore" open><summary>Sources ({len(sources)})</summary>'
        f"<ol>{''.join(items)}</ol></details>"
    )


def sources_text(reply: Any) -> str:
    """The sources as plain text: ``[1] title - link``."""
    sources = getattr(reply, "sources", None) or []
    lines = [f"[{n}] {_cut(str(s.get('title') or ''), MAX_TITLE)} - {s.get('link') or ''}" for n, s in
             enumerate(sources, 1)]  # fmt: skip
    return "Sources:\n" + "\n".join(lines) if lines else ""


# -- tool calls ---------------------------------------------------------------------------------
def card_html(record: dict[str, Any]) -> str:
    """One tool call as a collapsible card."""
    fn = record.get("function") or {}
    name = escape(str(fn.get("name") or "?")[:64])
    error = record.get("error")
    args = record.get("args")
    arguments = str(fn.get("arguments") or "")
    if args is not None:
        arguments = json.dumps(args, ensure_ascii=False, indent=1, default=str)
    seconds = record.get("seconds") or 0.0
    mark = "⚠️" if error else "🔧"
    status = "error" if error else f"{seconds:.2f} s"
    body = [
        '<div style="opacity:0.8">arguments</div>',
        f'<pre class="zm-tool-args">{escape(_cut(arguments))}</pre>',
    ]
    if error:
        shown = escape(_cut(str(error)))
        body.append(f'<div class="zm-tool-error" style="color:#b91c1c">error: {shown}</div>')
    else:
        body.append('<div style="opacity:0.8">result</div>')
        body.append(f'<pre class="zm-tool-result">{escape(_cut(str(record.get("result") or "")))}</pre>')
    return (
        f'<details class="zm-tool{" zm-tool-failed" if error else ""} tex2jax_ignore" style="{_CARD}">'
        f"<summary>{mark} <code>{name}</code> · {escape(status)}</summary>{''.join(body)}</details>"
    )


def tool_cards_html(reply: Any) -> str:
    """The cards of every tool call run so far (and a note at the round limit), or ""."""
    records = getattr(reply, "tool_runs", None) or []
    if not records:
        return ""
    cards = "".join(card_html(r) for r in records)
    limit = getattr(reply, "tool_limit", None)
    note = (
        f'<div class="zm-note" style="color:#b45309">Stopped at the round limit ({limit} model calls); '
        "raise --max-rounds.</div>"
        if limit
        else ""
    )
    return f'<div class="zm-tools">{cards}{note}</div>'


def tool_line(record: dict[str, Any]) -> str:
    """One tool call as a line of text: ``🔧 add({"a": 2}) -> 42`` or ``-> error: ...``."""
    fn = record.get("function") or {}
    what = f"error: {record['error']}" if record.get("error") else str(record.get("result") or "")
    return f"🔧 {fn.get('name')}({_cut(str(fn.get('arguments') or ''), 200)}) -> {_cut(what, 200)}"


def tools_text(reply: Any) -> str:
    """The tool calls as plain text, a line each."""
    return "\n".join(tool_line(r) for r in getattr(reply, "tool_runs", None) or [])


__all__ = [
    "cite_html",
    "live_link",
    "sources_html",
    "sources_text",
    "tool_cards_html",
    "tool_line",
    "tools_text",
]
