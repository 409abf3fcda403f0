"""Pure renderers: a reply, a message, a table, JSON or a conversation -> HTML and text.

Cells and panels show the same strings: the magics publish these ``{"text/html", "text/plain"}``
bundles through :mod:`.live`, the widgets put the HTML into their ``HTML`` widgets. Model text goes
through :func:`.markdown.safe_markdown_html` and every other string through :func:`.markdown.escape`,
so nothing here can emit live markup. No IPython and no ipywidgets: strings in, strings out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from ...core.reply import Reply
from .markdown import escape, safe_markdown_html
from .tools import cite_html, sources_html, sources_text, tool_cards_html, tools_text

FINISH_NOTES = {
    "length": "The answer hit the token limit (finish_reason=length) and is cut off; raise --max-tokens.",
    "sensitive": "The content filter stopped the answer (finish_reason=sensitive); the rest was withheld.",
    "network_error": "The model failed while answering (finish_reason=network_error); run the cell again.",
    "tool_calls": "The model asked to call a tool (finish_reason=tool_calls); see _glm.tool_calls.",
}


# -- replies ----------------------------------------------------------------------------------
def footer_text(reply: Reply) -> str:
    """``glm-4-flash · 12 in / 340 out (200 reasoning) · free · 2.1 s · 160 tok/s · local server``;
    an answer from the log: ``glm-4-flash · replayed · 0 tokens · log #12 · 0.0 s``."""
    from ...core.ledger.prices import describe

    parts = [reply.model]
    replayed = getattr(reply, "replayed", None)  # set by a replay from the call log
    if replayed is not None:
        parts.append(f"replayed · 0 tokens · log #{replayed}")
        if getattr(reply, "tool_runs", None):  # the cards are the recorded calls: nothing ran again
            parts.append("tool calls from the log, not run again")
    usage = reply.usage or {}
    if usage and replayed is None:
        tokens = f"{usage.get('prompt_tokens', '?')} in / {usage.get('completion_tokens', '?')} out"
        reasoning, estimated = reply.reasoning_tokens()
        if reasoning:
            tokens += f" (~{reasoning} reasoning, estimated)" if estimated else f" ({reasoning} reasoning)"
        rounds = getattr(reply, "tool_rounds", 0)
        if rounds > 1:  # a tool cell: the tokens and cost of every model call it made
            tokens += f" over {rounds} rounds"
        parts += [tokens, describe(reply.model, usage, local=reply.local)]
    parts.append(f"{reply.elapsed:.1f} s")
    rate = None if getattr(reply, "tool_rounds", 0) > 1 else reply.tokens_per_second()
    if rate:
        parts.append(f"{rate:.0f} tok/s")
    if reply.retries:
        parts.append(f"retried {reply.retries}×")
    if reply.interrupted:
        parts.append("interrupted")
    if reply.task_id:
        parts.append(f"task {reply.task_id}")
    if reply.local:
        parts.append("local server")
    return " · ".join(parts)


def finish_note(reply: Reply) -> str:
    """What an unusual ending means, or "" for a normal one."""
    if reply.interrupted:
        return "Interrupted: the answer above is partial." if (reply.text or reply.reasoning) else ""
    if reply.error is not None:
        return "The request failed: the answer above is partial (see the error below)." if reply.text else ""
    reason = reply.finish_reason
    if reason in (None, "stop"):
        return ""
    return FINISH_NOTES.get(reason, f"The answer ended with finish_reason={reason}.")


def status_text(reply: Reply) -> str:
    """The line shown before the first token (and on failure before any token)."""
    if reply.interrupted:
        return f"{reply.model} · interrupted before the first token · {reply.elapsed:.1f} s"
    if reply.error is not None:
        return f"{reply.model} · no answer · {reply.elapsed:.1f} s"
    return f"{reply.model} · waiting for the first token… {reply.waited:.1f} s"


def _answer_html(reply: Reply) -> str:
    text = reply.text
    if reply.json_mode and text:
        return f'<pre><code class="language-json">{escape(text)}</code></pre>'
    return safe_markdown_html(text)


def reply_html(reply: Reply, *, final: bool, notice: str | None = None) -> str:
    """The whole answer as HTML: notice, reasoning (``<details>``), answer, note, footer."""
    out = ['<div class="zhipu-magic-reply">']
    if notice:
        out.append(f'<div class="zm-notice tex2jax_ignore" style="opacity:0.7">{escape(notice)}</div>')
    reasoning = reply.reasoning
    if reasoning:
        is_open = "" if (final or reply.answering) else " open"
        out.append(
            f"<details{is_open}><summary>Thinking ({len(reasoning)} chars)</summary>"
            '<div class="zm-reasoning" style="white-space:pre-wrap;opacity:0.75">'
            f"{escape(reasoning)}</div></details>"
        )
    out.append(tool_cards_html(reply))  # each tool call run, as it happens
    if reply.text:
        out.append(f'<div class="zm-answer">{cite_html(_answer_html(reply), reply)}</div>')
    out.append(sources_html(reply))
    if reply.tool_calls and final and not reply.tool_runs:
        calls = json.dumps(reply.tool_calls, ensure_ascii=False, indent=1)
        out.append(f'<pre><code class="language-json">{escape(calls)}</code></pre>')
    if final:
        note = finish_note(reply)
        if note:
            out.append(f'<div class="zm-note tex2jax_ignore" style="color:#b45309">{escape(note)}</div>')
    has_content = bool(reply.text or reasoning or reply.tool_calls)
    if final:
        failed = reply.error is not None or reply.interrupted
        footer = footer_text(reply) if (has_content or not failed) else status_text(reply)
    else:
        footer = f"{reply.model} · {reply.elapsed:.1f} s · streaming…" if has_content else status_text(reply)
    out.append(
        f'<div class="zm-footer tex2jax_ignore" style="opacity:0.6;font-size:0.85em">{escape(footer)}</div>'
    )
    out.append("</div>")
    return "".join(out)


def reply_text(reply: Reply, *, final: bool, notice: str | None = None) -> str:
    """The plain-text twin of :func:`reply_html` (what non-HTML front ends and files show)."""
    lines = [notice] if notice else []
    if reply.text:
        lines.append(reply.text)
    elif reply.reasoning and not final:
        lines.append(f"(thinking… {len(reply.reasoning)} chars)")
    if final:
        lines.extend(filter(None, (tools_text(reply), sources_text(reply))))
        note = finish_note(reply)
        if note:
            lines.append(note)
        lines.append(footer_text(reply) if (reply.text or reply.reasoning) else status_text(reply))
    elif not reply.text and not reply.reasoning:
        lines.append(status_text(reply))
    return "\n\n".join(lines)


def reply_bundle(reply: Reply, *, final: bool, notice: str | None = None) -> dict[str, str]:
    """``{"text/html", "text/plain"}`` for the reply; never ``text/markdown``."""
    return {
        "text/html": reply_html(reply, final=final, notice=notice),
        "text/plain": reply_text(reply, final=final, notice=notice),
    }


# -- other safe outputs (tables, notes, JSON) for the %glm subcommands and the panels ----------
def text_bundle(text: str) -> dict[str, str]:
    """A short message as escaped HTML plus text."""
    return {"text/html": f'<div class="tex2jax_ignore">{escape(text)}</div>', "text/plain": text}


def json_bundle(obj: Any, title: str = "") -> dict[str, str]:
    """Pretty JSON (e.g. a ``--dry-run`` request), escaped."""
    body = json.dumps(obj, ensure_ascii=False, indent=2)
    head = f"<div>{escape(title)}</div>" if title else ""
    return {
        "text/html": f'{head}<pre><code class="language-json">{escape(body)}</code></pre>',
        "text/plain": f"{title}\n{body}" if title else body,
    }


def table_bundle(headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "") -> dict[str, str]:
    """A small table with every cell escaped; plain text aligned in columns."""
    rows = [[("" if c is None else str(c)) for c in row] for row in rows]
    head = "".join(f"<th style='text-align:left'>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{escape(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    caption = f"<div><b>{escape(title)}</b></div>" if title else ""
    widths = [max([len(h)] + [len(r[i]) for r in rows if i < len(r)]) for i, h in enumerate(headers)]
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    lines.extend("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in rows)
    return {
        "text/html": f'{caption}<table class="tex2jax_ignore"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>",
        "text/plain": "\n".join(lines),
    }


def history_bundle(name: str, messages: Sequence[dict[str, Any]]) -> dict[str, str]:
    """A conversation, each message safely rendered (the model's turns are untrusted); an answer
    with ``sources`` keeps its footnote links and its Sources list under it."""
    parts_html = [f"<div><b>Conversation {escape(name)}</b> ({len(messages)} messages)</div>"]
    parts_text = [f"Conversation {name} ({len(messages)} messages)"]
    for n, msg in enumerate(messages):
        role = str(msg.get("role", "?"))
        content = msg.get("content")
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        # the footnote anchors of one answer: unique on the page, stable in the saved output
        cited = SimpleNamespace(sources=msg.get("sources") or [], request_id=f"h{n}x{name}")
        parts_html.append(
            f'<div style="margin-top:0.5em"><b>{escape(role)}</b><div style="margin-left:1em">'
            f"{cite_html(safe_markdown_html(content), cited)}{sources_html(cited)}</div></div>"
        )
        parts_text.append("\n".join(filter(None, [f"[{role}]", content, sources_text(cited)])))
    return {"text/html": "".join(parts_html), "text/plain": "\n\n".join(parts_text)}


# -- the call log: cost totals and bars ---------------------------------------------------------
def money(value: float) -> str:
    """``¥0``, ``¥0.0012``, ``¥3.50``."""
    return "¥0" if value == 0 else f"¥{value:.4f}" if value < 1 else f"¥{value:.2f}"


def cost_text(cost: float | None, unknown: int = 0) -> str:
    """A total cost that never hides unknown prices: ``¥0.0012``, ``¥0.0012 + 3 unknown``, ``unknown``."""
    known = cost or 0.0
    if not unknown:
        return money(known)
    return f"{money(known)} + {unknown} unknown" if known else f"unknown ({unknown} calls)"


def bar_table_bundle(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], values: Sequence[float], title: str = ""
) -> dict[str, str]:
    """A table with an inline bar per row (``values``, scaled to the largest), all cells escaped."""
    top = max([v for v in values if v > 0], default=0.0)
    shares = [(v / top if top else 0.0) for v in values]
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    head = "".join(f"<th style='text-align:left'>{escape(h)}</th>" for h in headers) + "<th></th>"
    body = "".join(
        "<tr>"
        + "".join(f"<td style='text-align:left'>{escape(c)}</td>" for c in row)
        + f"<td style='width:12em'><div style='background:#4c8bf5;height:0.8em;width:{share * 100:.1f}%'>"
        "</div></td></tr>"
        for row, share in zip(cells, shares, strict=True)
    )
    caption = f"<div><b>{escape(title)}</b></div>" if title else ""
    bars = [[*row, "█" * round(share * 20)] for row, share in zip(cells, shares, strict=True)]
    text = table_bundle([*headers, ""], bars, title)
    return {
        "text/html": f'{caption}<table class="tex2jax_ignore"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>",
        "text/plain": text["text/plain"],
    }


def provenance_metadata(reply: Reply) -> dict[str, Any] | None:
    """Output metadata saved with an answer: which model, settings and request made it, its call-log
    row, and whether it was replayed (``{"zhipu_magic": {...}}``), for a reader of the .ipynb."""
    provenance = getattr(reply, "provenance", None)
    return {"zhipu_magic": provenance} if provenance else None
