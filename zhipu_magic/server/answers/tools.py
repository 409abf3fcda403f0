"""The local server's tools: which function it calls and with what, its answer after the ``tool``
messages, and the canned web search (sources built from the query, ``[ref_N]`` markers).

Deterministic and honest, so a test can prove a round trip:

- It calls the first function tool whose required parameters it can fill from the prompt: numbers
  (in order of appearance) for ``integer`` / ``number`` parameters, quoted strings (then proper nouns)
  for ``string`` ones, ``true`` for ``boolean`` ones. ``call the function NAME`` in the prompt picks that tool
  (also one that was never offered: a stand-in for a hallucinated name); ``... with arguments TEXT``
  sends ``TEXT`` verbatim as the arguments (say, broken JSON).
- After ``tool`` messages it answers quoting each result.
- ``{"type": "web_search", ...}``: ``search_sources(query)`` gives canned results on example
  domains (or on ``search_domain_filter``); the answer (:func:`search_answer`) is one line per source
  quoting its title and content with its ``[ref_N]`` marker, and a line saying they are canned.
- ``tool_stream`` splits each call's arguments into pieces keyed by ``index`` (the first piece has
  the id, type and name), as GLM-4.6 streams them.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from typing import Any

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\w)")
_QUOTED = re.compile(r"\"([^\"\n]{1,200})\"|'([^'\n]{1,200})'|“([^”\n]{1,200})”")
_PROPER = re.compile(r"(?<=[^\s.!?。！？]\s)[A-Z][a-zA-Z]+|[\u4e00-\u9fff]{2,}")
_CALL = re.compile(
    r"\bcall (?:the )?(?:tool|function) ([A-Za-z0-9_-]{1,64})\b(?: with arguments (.*))?", re.IGNORECASE
)
_HOST = re.compile(r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
SITES = ("example.com", "example.org", "example.net")
MAX_SOURCES = 50


def fill_arguments(tool: dict[str, Any], prompt: str) -> dict[str, Any] | None:
    """Arguments for ``tool`` taken from ``prompt``, or ``None`` when a required number is missing."""
    params = (tool.get("function") or {}).get("parameters") or {}
    props = params.get("properties") or {}
    wanted = params.get("required") or list(props)
    numbers = [float(n) if "." in n else int(n) for n in _NUMBER.findall(prompt)]
    quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(prompt)]
    words = quoted or _PROPER.findall(prompt) or [prompt.strip()[:40] or "it"]
    args: dict[str, Any] = {}
    strings = 0
    for name in wanted:
        kind = (props.get(name) or {}).get("type", "string")
        if kind in ("integer", "number"):
            if not numbers:
                return None
            value = numbers.pop(0)
            args[name] = int(value) if kind == "integer" else value
        elif kind == "boolean":
            args[name] = True
        else:
            args[name] = words[strings % len(words)]
            strings += 1
    return args


def pick_tool_call(tools: list[dict[str, Any]], prompt: str) -> dict[str, Any] | None:
    """The call the local model makes for ``prompt`` (see the module docstring), or ``None``."""
    named = _CALL.search(prompt)
    by_name = {(t.get("function") or {}).get("name"): t for t in tools}
    if named:
        name, raw = named.group(1), named.group(2)
        tool = by_name.get(name) or {"function": {"name": name}}
        args = raw.strip() if raw is not None else json.dumps(fill_arguments(tool, prompt) or {})
        return _call(name, args, prompt)
    for tool in tools:
        args = fill_arguments(tool, prompt)
        if args is not None:
            return _call(str((tool.get("function") or {}).get("name") or "tool"), json.dumps(args), prompt)
    return None


def _call(name: str, arguments: str, prompt: str) -> dict[str, Any]:
    digest = hashlib.sha256((prompt + name).encode()).hexdigest()[:24]
    function = {"name": name, "arguments": arguments}
    return {"id": f"call_{digest}", "index": 0, "type": "function", "function": function}


def tool_answer(messages: list[dict[str, Any]], text_of: Any) -> str:
    """The answer after the trailing ``tool`` messages: each result quoted."""
    results = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.insert(0, text_of(message.get("content")))
    if len(results) == 1:
        return f"According to the tool, the result is: {results[0]} ✅"
    quoted = "; ".join(f"{i}. {r}" for i, r in enumerate(results, 1))
    return f"According to the tools, the results are: {quoted} ✅"


def stream_frames(calls: list[dict[str, Any]], pieces: bool) -> list[list[dict[str, Any]]]:
    """The ``delta.tool_calls`` of each stream frame: all calls at once, or (``tool_stream``) the
    arguments of each call in pieces of about 8 characters after a head with id, type and name."""
    if not calls:
        return []
    if not pieces:
        return [calls]
    frames = []
    for i, call in enumerate(calls):
        fn = call["function"]
        head = {"index": i, "id": call["id"], "type": "function"}
        frames.append([{**head, "function": {"name": fn["name"], "arguments": ""}}])
        args = fn["arguments"]
        for start in range(0, len(args), 8):
            frames.append([{"index": i, "function": {"arguments": args[start : start + 8]}}])
    return frames


# -- web search ---------------------------------------------------------------------------------
def search_options(body: dict[str, Any]) -> dict[str, Any] | None:
    """The ``web_search`` tool's options when the request turns search on, else ``None``."""
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type") == "web_search":
            options = tool.get("web_search")
            if isinstance(options, dict) and options.get("enable", True) not in (False, "false"):
                return options
    return None


def search_sources(query: str, options: dict[str, Any] | None = None, default: int = 3) -> list[dict]:
    """Canned results for ``query``: deterministic, on example domains (or the domain filter)."""
    options = options or {}
    query = str(options.get("search_query") or query).strip() or "search"
    count = options.get("count")
    count = count if isinstance(count, int) and not isinstance(count, bool) else default
    domain = options.get("search_domain_filter")
    domain = domain if isinstance(domain, str) and _HOST.fullmatch(domain) else None
    slug = urllib.parse.quote(re.sub(r"[^\w-]", "", re.sub(r"\s+", "-", query.lower()))[:60], safe="-")
    recency = options.get("search_recency_filter") or "noLimit"
    out = []
    for i in range(1, max(1, min(count, MAX_SOURCES)) + 1):
        site = domain or SITES[(i - 1) % len(SITES)]
        out.append(
            {
                "refer": f"ref_{i}",
                "title": f"{query[:80]}: source {i}",
                "link": f"https://{site}/{slug}/{i}",
                "media": site,
                "content": f"Canned result {i} of the local server for “{query[:80]}” ({recency}).",
                "publish_date": f"2026-01-{i % 28 + 1:02d}",
                "icon": "",
            }
        )
    return out


MAX_CITED = 10  # lines of a search answer; the rest are counted


def search_answer(text: str, sources: list[dict[str, Any]]) -> str:
    """The answer when web search is on: what the canned sources say, one line each with its
    ``[ref_N]`` marker, then one line saying what they are (``text`` when there are none)."""
    if not sources:
        return text
    lines = [
        f"- **{s['title']}** ({s['media']}, {s['publish_date']}): {s['content']} [{s['refer']}]"
        for s in sources[:MAX_CITED]
    ]
    more = len(sources) - MAX_CITED
    if more > 0:
        lines.append(f"- ... and {more} more, listed under the answer.")
    n = len(sources)
    return (
        f"**Web search · 网页搜索** 🔎 {n} source{'s' if n != 1 else ''} found:\n\n"
        + "\n".join(lines)
        + "\n\nThese are the offline local server's canned sources on example domains: nothing was searched,"
        " so this answer only says what they are; with a key, GLM would answer from real results."
    )


__all__ = ["pick_tool_call", "search_answer", "search_options", "search_sources", "stream_frames"]
