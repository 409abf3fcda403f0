"""One chat reply of the local server, planned before any byte is sent: the ``[[...]]`` directives,
the reasoning and content pieces, tool calls, finish reason and usage (:class:`Plan`), the same for a
sync, streamed or async answer.

Pure functions of the request (the answer text comes from :mod:`.intents`), so the wire code in
:mod:`zhipu_magic.server.chat` only decides how the plan is sent.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ...api.models import ModelInfo
from ..images import seen as images_seen
from .context import Talk, json_reply_for, reply_for
from .intents import answer_for, json_answer_for, reasoning_for, topic_of  # noqa: F401  (re-exported)
from .tools import pick_tool_call, search_answer, search_options, search_sources, stream_frames, tool_answer

_DIRECTIVE = re.compile(r"\[\[(fault|chunks|interval):([^\]]*)\]\]")
# Demo-sized bounds: a directive reaches the server from prompt text, which may be interpolated from
# untrusted data, so none may buy unbounded work or time (each is far above what a demo needs).
MAX_CHUNKS = 100_000  # [[chunks:N]]; the benches stream 20,000
MAX_INTERVAL = 10.0  # [[interval:S]], seconds between frames
MAX_STREAM_SECONDS = 120.0  # chunks x interval: a paced stream ends within this
MAX_WAIT = 60.0  # [[fault:slow_first:S]], [[fault:stall:S]]
MAX_COUNT = 100  # [[fault:server_error:N]] and the other counted faults
MAX_ARG = 40  # characters of a fault's argument (a Retry-After value, an error code)
_ARG_JUNK = re.compile(r"[^\x20-\x7e]")  # no CR/LF (it may become a header value), no controls


@dataclass
class Directives:
    """Knobs parsed from ``[[...]]`` markers in the last user message."""

    faults: dict[str, str | None] = field(default_factory=dict)
    chunks: int | None = None
    interval: float | None = None
    errors: list[str] = field(default_factory=list)

    def fault(self, name: str) -> bool:
        return name in self.faults

    def arg(self, name: str) -> str | None:
        return self.faults.get(name)


def parse_directives(text: str, enabled: bool = True) -> tuple[str, Directives]:
    """Strip ``[[fault:NAME[:ARG]]]``, ``[[chunks:N]]``, ``[[interval:S]]``; return (clean text, knobs),
    each knob within the bounds above. ``enabled=False``: the text as it is, no knobs (a server
    whose directives are off reads them as ordinary words)."""
    d = Directives()
    if not enabled:
        return text.strip(), d
    for kind, value in _DIRECTIVE.findall(text):
        value = value.strip()
        if kind == "fault":
            name, _, arg = value.partition(":")
            arg = _ARG_JUNK.sub("", arg).strip()[:MAX_ARG]
            d.faults[name.strip().lower()[:MAX_ARG]] = arg or None
        elif kind == "chunks":
            try:
                d.chunks = min(MAX_CHUNKS, max(0, int(value)))
            except ValueError:
                d.errors.append(f"chunks:{value[:MAX_ARG]}")
        else:
            try:
                d.interval = min(MAX_INTERVAL, max(0.0, float(value)))
                if not math.isfinite(d.interval):
                    raise ValueError(value)
            except ValueError:
                d.errors.append(f"interval:{value[:MAX_ARG]}")
    clean = _DIRECTIVE.sub("", text)
    if clean != text:  # the spaces around a directive taken out; a prompt without one keeps its own
        clean = re.sub(r"[ \t]{2,}", " ", clean)
    clean = clean.strip()
    return clean, d


# --- token-ish chunking --------------------------------------------------------------------------

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_TOKEN = re.compile(rf"\s*(?:[A-Za-z0-9_]{{1,6}}|[{_CJK}]{{1,2}}|[^\sA-Za-z0-9_{_CJK}])|\s+")


def tokens(text: str) -> list[str]:
    """Split into token-sized pieces (a word piece, 1-2 CJK chars, one symbol); joins back exactly."""
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    """A plausible token count: the number of pieces ``tokens`` makes."""
    return len(tokens(text))


def split_into(text: str, n: int) -> list[str]:
    """Exactly ``n`` non-empty pieces of ``text`` (padded with filler when too short)."""
    if n <= 0:
        return []
    filler = " 🙂 token"
    if len(text) < n:
        text += filler * ((n - len(text)) // len(filler) + 1)
    size, extra = divmod(len(text), n)
    out, pos = [], 0
    for i in range(n):
        step = size + (1 if i < extra else 0)
        out.append(text[pos : pos + step])
        pos += step
    return out


# --- answer content ------------------------------------------------------------------------------

HOSTILE = (
    "Here is some **hostile** output for testing safe rendering:\n\n"
    "<script>alert(1)</script>\n\n"
    '<img src=x onerror="alert(1)">\n\n'
    '<svg onload="alert(1)">\n\n'
    "[click](javascript:alert(1))\n\n"
    "Math with a link: $\\href{javascript:alert(1)}{x^2}$\n\n"
    "![x](https://example.com/x.png)\n\n"
    "https://example.com/bare-url\n"
)


def embedding_for(text: str, dims: int) -> list[float]:
    """A deterministic unit vector for ``text`` (same text, same vector)."""
    out: list[float] = []
    counter = 0
    while len(out) < dims:
        block = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        out.extend((b - 127.5) / 127.5 for b in block)
        counter += 1
    vec = out[:dims]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [round(v / norm, 6) for v in vec]


# --- one chat reply, independent of sync / stream / async ----------------------------------------


@dataclass
class Plan:
    """What to answer, independent of sync / stream / async."""

    model: str
    reasoning: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    directives: Directives = field(default_factory=Directives)
    sources: list[dict[str, Any]] = field(default_factory=list)  # web search results (top-level)
    tool_stream: bool = False

    def tool_frames(self) -> list[list[dict[str, Any]]]:
        """The ``delta.tool_calls`` of each stream frame (pieces with ``tool_stream``)."""
        return stream_frames(self.tool_calls, self.tool_stream)

    def usage(self) -> dict[str, Any]:
        done = len(self.reasoning) + len(self.content) + 8 * len(self.tool_calls)
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": done,
            "total_tokens": self.prompt_tokens + done,
            "prompt_tokens_details": {"cached_tokens": 0},
        }
        if self.reasoning:
            usage["completion_tokens_details"] = {"reasoning_tokens": len(self.reasoning)}
        return usage

    def message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": "".join(self.content)}
        if self.reasoning:
            msg["reasoning_content"] = "".join(self.reasoning)
        if self.tool_calls:
            msg["tool_calls"] = self.tool_calls
        return msg


def text_of(content: Any) -> str:
    """The text of a message content (a string, or the text parts of a multimodal list)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text") or "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Plausible prompt token count: content pieces plus a little per-message overhead."""
    return sum(4 + count_tokens(text_of(m.get("content"))) for m in messages) + 2


def plan_reply(
    info: ModelInfo, body: dict[str, Any], messages: list[dict[str, Any]], prompt: str, d: Directives
) -> Plan:
    """Decide reasoning, content chunks, tool calls and finish reason for one chat request."""
    plan = Plan(model=info.name, prompt_tokens=prompt_tokens(messages), directives=d)
    thinking = body.get("thinking") or {}
    think = info.thinking == "always" or (info.thinking == "optional" and thinking.get("type") != "disabled")
    in_content = info.name.startswith("glm-z1")
    users = [text_of(m.get("content")) for m in messages if m.get("role") == "user"]
    system = " ".join(text_of(m.get("content")) for m in messages if m.get("role") == "system")
    rf = body.get("response_format") or {}
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"]
    last = messages[-1]
    last_user = next(m for m in reversed(messages) if m.get("role") == "user")
    replies = tuple(text_of(m.get("content")) for m in messages if m.get("role") == "assistant")
    parts = last_user.get("content") if info.vision and isinstance(last_user.get("content"), list) else []
    images = tuple(p for p in parts if isinstance(p, dict) and p.get("type") == "image_url")
    talk = Talk(prompt, tuple(parse_directives(u)[0] for u in users[:-1]), replies, system, images)
    if d.fault("hostile"):
        text = HOSTILE
    elif rf.get("type") == "json_object":
        text = json_reply_for(talk, model=info.name)
    elif last.get("role") == "tool":
        text = tool_answer(messages, text_of)
    else:
        text = reply_for(talk, model=info.name)
    media = _media_note(last_user.get("content")) if info.vision else ""
    if media and not d.fault("hostile") and rf.get("type") != "json_object":
        text = f"{media}\n\n{text}"
    call = pick_tool_call(tools, prompt) if tools and last.get("role") == "user" else None
    if call and body.get("tool_choice") != "none" and not d.faults:
        plan.tool_calls, plan.tool_stream = [call], body.get("tool_stream") is True
        text = ""
        plan.finish_reason = "tool_calls"
    elif search_options(body) is not None and last.get("role") == "user" and not d.fault("hostile"):
        plan.sources = search_sources(prompt, search_options(body))
        if rf.get("type") != "json_object":  # JSON stays JSON; the sources ride along
            text = search_answer(text, plan.sources)
    reasoning = reasoning_for(prompt) if think else ""
    if in_content and reasoning:
        text = f"<think>{reasoning}</think>\n\n{text}"
        reasoning = ""
    plan.reasoning = tokens(reasoning)
    if d.chunks is not None and not plan.tool_calls:
        plan.content = split_into(text, d.chunks)
    else:
        plan.content = tokens(text)
    if d.interval:  # a paced stream ends within MAX_STREAM_SECONDS, however many frames
        frames = len(plan.reasoning) + len(plan.content) + 1
        d.interval = min(d.interval, MAX_STREAM_SECONDS / frames)
    max_tokens = body.get("max_tokens")
    if d.fault("length") or d.fault("sensitive"):
        plan.content = plan.content[: max(1, len(plan.content) // 2)]
        plan.finish_reason = "sensitive" if d.fault("sensitive") else "length"
    elif isinstance(max_tokens, int) and len(plan.reasoning) + len(plan.content) > max_tokens:
        plan.content = plan.content[: max(0, max_tokens - len(plan.reasoning))]
        plan.finish_reason = "length"
    return plan


def _media_note(content: Any) -> str:
    """What a vision model "sees": one line naming the image / video / file parts of the message."""
    if not isinstance(content, list):
        return ""
    kinds = [p.get("type") for p in content if isinstance(p, dict)]
    seen = [
        f"{kinds.count(k)} {k.split('_')[0]}(s)" for k in ("image_url", "video_url", "file_url") if k in kinds
    ]
    images = images_seen(content)  # each image's format and size, read from its bytes
    found = f" The images: {'; '.join(images)}." if images else ""
    return f"👀 I see {', '.join(seen)} in your message.{found}" if seen else ""
