"""Deterministic answers for the local server.

Kept apart from the HTTP code so the wire format and the demo content can change independently.
Everything here is a pure function of the request: the same prompt always gives the same answer,
so tests can assert on text and demos look the same on every run. Answers are meant to exercise a
renderer: Markdown headings, lists, code, tables, inline and display math, Chinese text and emoji.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .models import ModelInfo

_DIRECTIVE = re.compile(r"\[\[(fault|chunks|interval):([^\]]*)\]\]")


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


def parse_directives(text: str) -> tuple[str, Directives]:
    """Strip ``[[fault:NAME[:ARG]]]``, ``[[chunks:N]]``, ``[[interval:S]]``; return (clean text, knobs)."""
    d = Directives()
    for kind, value in _DIRECTIVE.findall(text):
        value = value.strip()
        if kind == "fault":
            name, _, arg = value.partition(":")
            d.faults[name.strip().lower()] = arg.strip() if arg.strip() else None
        elif kind == "chunks":
            try:
                d.chunks = max(0, int(value))
            except ValueError:
                d.errors.append(f"chunks:{value}")
        else:
            try:
                d.interval = max(0.0, float(value))
                if not math.isfinite(d.interval):
                    raise ValueError(value)
            except ValueError:
                d.errors.append(f"interval:{value}")
    clean = _DIRECTIVE.sub("", text)
    clean = re.sub(r"[ \t]{2,}", " ", clean).strip()
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
    while len(text) < n:
        text += filler
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
    "![x](https://example.com/x.png)\n\n"
    "https://example.com/bare-url\n"
)

_POINTS = (
    "Start from a small, concrete example and grow it step by step.",
    "Measure before optimising: intuition about hot paths is often wrong.",
    "Name things after what they mean, not after how they are computed.",
    "Keep the happy path short and make failures loud and specific.",
    "Write the test first when the behaviour is easy to state.",
    "Prefer plain data structures; add classes when behaviour appears.",
    "Document *why*, the code already says *what*.",
    "Automate the boring parts so you can think about the interesting ones.",
)
_EMOJI = ("✨", "🚀", "📘", "🧠", "🌱", "🔍", "🎯", "🧩")
_ZH = (
    "总结：先把问题拆小，再逐步验证每一步。",
    "小结：清晰的命名和简单的结构最重要。",
    "提示：遇到错误时，先读完整的错误信息。",
    "要点：测试让重构变得安全又轻松。",
)
_GREETING = re.compile(r"^(hi|hello|hey|hallo|hola|你好|您好|嗨)\b[\s!！.。?？]*$", re.IGNORECASE)


def _h(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _topic(prompt: str) -> str:
    line = next((ln.strip() for ln in prompt.splitlines() if ln.strip()), "your question")
    line = line.strip("#*`> ").rstrip("?？.。!！")
    return line[:57] + "..." if len(line) > 60 else line or "your question"


def _code_block(h: bytes, topic: str) -> str:
    n = 3 + h[3] % 5
    name = ("fib", "squares", "running_total", "evens")[h[4] % 4]
    bodies = {
        "fib": "    a, b = 0, 1\n    out = []\n    for _ in range(n):\n        out.append(a)\n"
        "        a, b = b, a + b\n    return out",
        "squares": "    return [i * i for i in range(n)]",
        "running_total": "    total, out = 0, []\n    for i in range(1, n + 1):\n        total += i\n"
        "        out.append(total)\n    return out",
        "evens": "    return [i for i in range(2 * n) if i % 2 == 0]",
    }
    return (
        f"```python\ndef {name}(n: int) -> list[int]:\n"
        f'    """A tiny helper for: {topic.replace(chr(34), "")[:40]}."""\n'
        f"{bodies[name]}\n\n\nprint({name}({n}))\n```"
    )


def _table(h: bytes) -> str:
    rows = "\n".join(
        f"| {step} | {h[10 + i] % 90 + 10} | {'✅' if h[20 + i] % 3 else '⚠️'} |"
        for i, step in enumerate(("Plan", "Build", "Test"))
    )
    return "| Step | Score | Status |\n|---|---:|:---:|\n" + rows


def _math(h: bytes) -> str:
    k = 2 + h[5] % 3
    return (
        f"Inline math: $E=mc^2$, and a display formula:\n\n$$\\int_0^1 x^{k}\\,dx = \\frac{{1}}{{{k + 1}}}$$"
    )


def answer_for(prompt: str, *, model: str, turn: int = 1, first_prompt: str = "", system: str = "") -> str:
    """The reply text for ``prompt``: short for greetings, exact for ``echo:``, else a rich Markdown demo."""
    p = prompt.strip()
    low = p.lower()
    if low.startswith("echo:"):
        return p[5:].strip()
    h = _h(p)
    topic = _topic(p)
    emoji = _EMOJI[h[0] % len(_EMOJI)]
    memory = ""
    if turn > 1 and first_prompt:
        memory = f"\n\n_Turn {turn} of this conversation; you first asked: “{_topic(first_prompt)}”._"
    if _GREETING.match(p):
        return (
            f"Hello! 👋 I am the local stand-in for **{model}**. 你好！"
            "Ask me for code, a table or some math and I will show off a little." + memory
        )
    terse = any(w in (system + " " + low) for w in ("one word", "terse", "briefly", "简短", "one sentence"))
    if terse:
        return f"{topic} — in short: it depends, but start simple. {emoji}" + memory
    if any(w in low for w in ("code", "python", "function", "代码", "程序")):
        return (
            f"## Code for: {topic}\n\nHere is a small, runnable sketch {emoji}:\n\n"
            f"{_code_block(h, topic)}\n\nRun it and tweak `n` to see how it behaves.\n\n"
            f"{_ZH[h[1] % len(_ZH)]}" + memory
        )
    if any(w in low for w in ("table", "表格", "compare", "对比")):
        return f"## Comparison: {topic}\n\n{_table(h)}\n\n{_ZH[h[1] % len(_ZH)]} {emoji}" + memory
    if any(w in low for w in ("math", "formula", "equation", "数学", "公式")):
        return f"## Math: {topic}\n\n{_math(h)}\n\n{_ZH[h[1] % len(_ZH)]} {emoji}" + memory
    picks = [_POINTS[(h[2] + 3 * i) % len(_POINTS)] for i in range(3)]
    points = "\n".join(f"{i + 1}. {pt}" for i, pt in enumerate(picks))
    return (
        f"## {topic} {emoji}\n\n"
        f"You asked about **{topic}**. Here is a structured answer from the local GLM server.\n\n"
        f"### Key points\n\n{points}\n\n"
        f"### Example\n\n{_code_block(h, topic)}\n\n"
        f"### Overview\n\n{_table(h)}\n\n"
        f"### A little math\n\n{_math(h)}\n\n"
        f"{_ZH[h[1] % len(_ZH)]} 🎉" + memory
    )


def reasoning_for(prompt: str) -> str:
    """A short, deterministic chain of thought that precedes the answer of a reasoning model."""
    topic = _topic(prompt)
    h = _h(prompt)
    plans = ("give a structured overview", "show a concrete example", "compare the options", "keep it short")
    return (
        f"The user asks about “{topic}”. I should {plans[h[6] % len(plans)]}. "
        "Outline: 1) restate the goal, 2) list the key points, 3) add an example. "
        "好的，开始回答。"
    )


def json_answer_for(prompt: str, *, model: str) -> str:
    """A valid JSON object for ``response_format: {"type": "json_object"}``."""
    h = _h(prompt.strip())
    topic = _topic(prompt)
    obj: dict[str, Any] = {
        "topic": topic,
        "summary": f"A deterministic answer about {topic} from the local {model} server.",
        "keywords": [w for w in re.findall(r"[A-Za-z\u4e00-\u9fff]{3,}", prompt)[:5]],
        "score": h[7] % 100,
        "language": "zh" if re.search(r"[\u4e00-\u9fff]", prompt) else "en",
        "emoji": _EMOJI[h[0] % len(_EMOJI)],
    }
    return json.dumps(obj, ensure_ascii=False, indent=2)


def tool_call_for(tool: dict[str, Any], prompt: str, index: int = 0) -> dict[str, Any]:
    """A tool call for a function tool, arguments filled from the prompt (JSON string, as on the wire)."""
    fn = tool.get("function") or {}
    params = fn.get("parameters") or {}
    props = params.get("properties") or {}
    wanted = params.get("required") or list(props)
    # Proper nouns (capitalised, not opening a sentence) or CJK words make plausible arguments.
    words = re.findall(r"(?<=[^\s.!?。！？]\s)[A-Z][a-zA-Z]+|[\u4e00-\u9fff]{2,}", prompt) or [_topic(prompt)]
    args: dict[str, Any] = {}
    for i, name in enumerate(wanted):
        kind = (props.get(name) or {}).get("type", "string")
        if kind in ("integer", "number"):
            args[name] = len(prompt) % 10 + 1
        elif kind == "boolean":
            args[name] = True
        else:
            args[name] = words[i % len(words)]
    digest = hashlib.sha256((prompt + str(fn.get("name"))).encode()).hexdigest()[:24]
    return {
        "id": f"call_{digest}",
        "index": index,
        "type": "function",
        "function": {"name": fn.get("name", "tool"), "arguments": json.dumps(args, ensure_ascii=False)},
    }


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
    if d.fault("hostile"):
        text = HOSTILE
    elif rf.get("type") == "json_object":
        text = json_answer_for(prompt, model=info.name)
    elif last.get("role") == "tool":
        text = f"According to the tool, the result is: {text_of(last.get('content'))} ✅"
    else:
        first = parse_directives(users[0])[0] if users else ""
        text = answer_for(prompt, model=info.name, turn=len(users), first_prompt=first, system=system)
    media = _media_note(last_user.get("content")) if info.vision else ""
    if media and not d.fault("hostile") and rf.get("type") != "json_object":
        text = f"{media}\n\n{text}"
    if tools and last.get("role") == "user" and body.get("tool_choice") != "none" and not d.faults:
        plan.tool_calls = [tool_call_for(tools[0], prompt)]
        text = ""
        plan.finish_reason = "tool_calls"
    reasoning = reasoning_for(prompt) if think else ""
    if in_content and reasoning:
        text = f"<think>{reasoning}</think>\n\n{text}"
        reasoning = ""
    plan.reasoning = tokens(reasoning)
    if d.chunks is not None and not plan.tool_calls:
        plan.content = split_into(text, d.chunks)
    else:
        plan.content = tokens(text)
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
    return f"👀 I see {', '.join(seen)} in your message." if seen else ""
