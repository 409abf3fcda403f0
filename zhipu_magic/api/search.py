"""Web search: the chat tool that grounds an answer in sources, and reading those sources back.

``web_search_tool(recency="oneWeek")`` is the ``tools`` entry (a bare ``{"type": "web_search"}`` is
rejected by the API, so ``enable`` and ``search_result`` are always set). ``sources_of`` reads the
top-level ``web_search`` list of a response or of a stream chunk, tolerantly: a missing or odd list is
no sources, an odd item is skipped, and every field is a string. Standard library only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

DEFAULT_ENGINE = "search_std"  # open.bigmodel.cn's standard engine
ZAI_ENGINE = "search-prime"  # api.z.ai names its engines differently


RECENCY = ("oneDay", "oneWeek", "oneMonth", "oneYear", "noLimit")
SOURCE_FIELDS = ("refer", "title", "link", "media", "content", "publish_date", "icon")
MAX_SOURCES = 100
MAX_FIELD = 4000  # characters kept of one field of a source


def engine_for(base_url: str | None) -> str:
    """The search engine a region's API knows: ``search-prime`` on api.z.ai, else ``search_std``."""
    host = (urlsplit(base_url or "").hostname or "").lower()
    return ZAI_ENGINE if host == "z.ai" or host.endswith(".z.ai") else DEFAULT_ENGINE


def web_search_tool(
    *,
    engine: str | None = None,
    recency: str | None = None,
    domain: str | None = None,
    count: int | None = None,
    query: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The chat ``tools`` entry that turns web search on (sources returned with the answer)."""
    if recency is not None and recency not in RECENCY:
        raise ValueError(f"recency is one of {', '.join(RECENCY)}")
    options = {
        "enable": True,
        "search_engine": engine or DEFAULT_ENGINE,
        "search_result": True,
        "search_recency_filter": recency,
        "search_domain_filter": domain,
        "count": count,
        "search_query": query,
        **extra,
    }
    return {"type": "web_search", "web_search": {k: v for k, v in options.items() if v is not None}}


def sources_of(obj: Any, key: str = "web_search") -> list[dict[str, str]]:
    """The sources a response or chunk carries under ``key`` (``search_result`` for the standalone
    endpoint), each with the :data:`SOURCE_FIELDS` as strings; ``[]`` when there are none."""
    items = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(items, list):
        return []
    out = []
    for item in items[:MAX_SOURCES]:
        if isinstance(item, dict):
            out.append({f: _field(item.get(f)) for f in SOURCE_FIELDS})
    return out


def _field(value: Any) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)[:MAX_FIELD]
    return ""


__all__ = ["RECENCY", "sources_of", "web_search_tool"]
