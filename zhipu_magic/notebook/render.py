"""The one display layer: model text -> safe HTML, mime bundles, and throttled live updates.

Model output is untrusted. JupyterLab trusts output produced in the running session, so raw HTML
inside Markdown would become live markup. We therefore render Markdown to HTML ourselves
(:mod:`zhipu_magic.markdown`, re-exported here as ``safe_markdown_html`` / ``escape``: raw HTML
disabled, only http/https/mailto links, images as plain links, math kept verbatim and escaped for
the front end's MathJax) and publish raw ``{"text/html", "text/plain"}`` bundles. Never
``IPython.display.Markdown/HTML`` on model text: they fetch a text that starts with ``http`` and
read one that names a file. Never ``text/markdown``: front ends render HTML inside it.

Magics and widgets share :func:`reply_html` / :func:`reply_bundle`; :class:`LiveDisplay` is the
in-place notebook output (one ``display_id`` per answer, at most ~10 updates a second, one exact
final render), or plain streamed text in terminal IPython.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..core.reply import Reply
from .markdown import _markdown, escape, safe_markdown_html

FINISH_NOTES = {
    "length": "The answer hit the token limit (finish_reason=length) and is cut off; raise --max-tokens.",
    "sensitive": "The content filter stopped the answer (finish_reason=sensitive); the rest was withheld.",
    "network_error": "The model failed while answering (finish_reason=network_error); run the cell again.",
    "tool_calls": "The model asked to call a tool (finish_reason=tool_calls); see _glm.tool_calls.",
}


# -- replies ----------------------------------------------------------------------------------
def footer_text(reply: Reply) -> str:
    """``glm-4-flash · 12 in / 340 out (200 reasoning) · 2.1 s · 160 tok/s · local server``."""
    parts = [reply.model]
    usage = reply.usage or {}
    if usage:
        tokens = f"{usage.get('prompt_tokens', '?')} in / {usage.get('completion_tokens', '?')} out"
        reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
        if reasoning:
            tokens += f" ({reasoning} reasoning)"
        parts.append(tokens)
    parts.append(f"{reply.elapsed:.1f} s")
    rate = reply.tokens_per_second()
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
    if reply.text:
        out.append(f'<div class="zm-answer">{_answer_html(reply)}</div>')
    if reply.tool_calls and final:
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


# -- live display ---------------------------------------------------------------------------
def is_rich_frontend(shell: Any = None) -> bool:
    """Whether display messages reach a front end that renders HTML.

    No: no shell, or a shell whose display publisher is IPython's base one (terminal IPython and a
    bare shell: it just prints ``text/plain``); there we print plain streamed text instead. Yes:
    any other publisher (ipykernel's, ``capture_output``'s, a test recorder).
    """
    if shell is None:
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:
            return False
    if shell is None:
        return False
    pub = getattr(shell, "display_pub", None)
    if pub is None:
        return False
    from IPython.core.displaypub import DisplayPublisher

    return type(pub) is not DisplayPublisher


MAX_TICKING = 900.0  # seconds: a safety stop for the waiting ticker should finish() never come


class LiveDisplay:
    """One in-place output per answer, re-rendered at most every ``min_interval`` seconds.

    ``update`` is called per chunk and is a clock read and a comparison unless a tick is due. If a
    render is slow (a long answer), the interval stretches so rendering stays under ~10% of the
    time. In terminal IPython the text is printed as it arrives instead.
    """

    def __init__(
        self,
        *,
        min_interval: float = 0.1,
        plain: bool | None = None,
        notice: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        stream: Any = None,
    ) -> None:
        self.min_interval = min_interval
        self.plain = (not is_rich_frontend()) if plain is None else plain
        self.notice = notice
        self.display_id: str | None = None
        self.updates = 0  # display calls made (start + ticks + final): what the bench counts
        self._clock = clock
        self._next = 0.0
        self._stream = stream
        self._printed_reasoning = 0
        self._printed_text = 0
        self._lock = threading.Lock()  # the waiting ticker and the main thread both publish
        self._done = threading.Event()

    def start(self, model: str, reply: Reply | None = None, *, tick: float = 1.0) -> None:
        """Show the status line (model, seconds waited) before any token arrives.

        With the ``reply`` being filled, a daemon thread refreshes the seconds waited every
        ``tick`` seconds until the first token (a thinking model can take a while): the main
        thread is blocked in the socket read then, so it cannot do it.
        """
        if not self.plain:
            _markdown()  # one-time setup now, so it does not count as a slow tick (and stretch them)
        self._next = self._clock() + self.min_interval
        if self.plain:
            if self.notice:
                self._write(self.notice + "\n")
            return
        from IPython.display import display

        self.display_id = uuid.uuid4().hex
        waiting = reply if reply is not None else Reply(model, [])
        display(reply_bundle(waiting, final=False, notice=self.notice), raw=True, display_id=self.display_id)
        self.updates += 1
        if reply is not None and tick > 0:
            threading.Thread(target=self._tick_waiting, args=(reply, tick), daemon=True).start()

    def _tick_waiting(self, reply: Reply, tick: float) -> None:
        from IPython.display import update_display

        while not self._done.wait(tick):
            with self._lock:
                if self._done.is_set() or reply.first_token_at is not None or reply.waited > MAX_TICKING:
                    return
                bundle = reply_bundle(reply, final=False, notice=self.notice)
                update_display(bundle, raw=True, display_id=self.display_id)
                self.updates += 1

    def update(self, reply: Reply) -> None:
        """Re-render if a tick is due; otherwise return at once (hot path)."""
        now = self._clock()
        if now < self._next:
            return
        self._render(reply, final=False)
        cost = self._clock() - now
        self._next = now + max(self.min_interval, cost * 10)

    def finish(self, reply: Reply) -> None:
        """The one exact final render (partial and marked if interrupted or failed)."""
        self._next = float("inf")
        self._done.set()
        self._render(reply, final=True)

    def _render(self, reply: Reply, *, final: bool) -> None:
        if self.plain:
            self._print_delta(reply, final=final)
            return
        from IPython.display import display, update_display

        bundle = reply_bundle(reply, final=final, notice=self.notice)
        with self._lock:
            self.updates += 1
            if self.display_id is None:  # finish() without start(): still one output
                self.display_id = uuid.uuid4().hex
                display(bundle, raw=True, display_id=self.display_id)
            else:
                update_display(bundle, raw=True, display_id=self.display_id)

    def _write(self, text: str) -> None:
        out = self._stream or sys.stdout
        out.write(text)
        out.flush()

    def _print_delta(self, reply: Reply, *, final: bool) -> None:
        reasoning, text = reply.reasoning, reply.text
        chunks = []
        if len(reasoning) > self._printed_reasoning:
            if not self._printed_reasoning:
                chunks.append("[thinking]\n")
            chunks.append(reasoning[self._printed_reasoning :])
            self._printed_reasoning = len(reasoning)
        if len(text) > self._printed_text:
            if not self._printed_text and self._printed_reasoning:
                chunks.append("\n[answer]\n")
            chunks.append(text[self._printed_text :])
            self._printed_text = len(text)
        if final:
            note = finish_note(reply)
            tail = footer_text(reply) if (text or reasoning) else status_text(reply)
            lead = "\n\n" if (self._printed_text or self._printed_reasoning) else ""
            chunks.append(lead + (f"{note}\n" if note else "") + f"[{tail}]\n")
        if chunks:
            self._write("".join(chunks))
        self.updates += 1


# -- other safe outputs (tables, notes, JSON) for the %glm subcommands ---------------------------
def show(bundle: dict[str, str]) -> None:
    """Publish a bundle we built ourselves (raw, so nothing is fetched or re-interpreted)."""
    from IPython.display import display

    if not is_rich_frontend():
        print(bundle["text/plain"])
        return
    display(bundle, raw=True)


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
    """A conversation, each message safely rendered (the model's turns are untrusted)."""
    parts_html = [f"<div><b>Conversation {escape(name)}</b> ({len(messages)} messages)</div>"]
    parts_text = [f"Conversation {name} ({len(messages)} messages)"]
    for msg in messages:
        role = str(msg.get("role", "?"))
        content = msg.get("content")
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        parts_html.append(
            f'<div style="margin-top:0.5em"><b>{escape(role)}</b>'
            f'<div style="margin-left:1em">{safe_markdown_html(content)}</div></div>'
        )
        parts_text.append(f"[{role}]\n{content}")
    return {"text/html": "".join(parts_html), "text/plain": "\n\n".join(parts_text)}
