"""The local server's standalone ``POST web_search``: canned results built from the query.

The same deterministic sources a chat with the ``web_search`` tool cites (:mod:`.answers.tools`),
in the endpoint's shape: ``search_intent`` and ``search_result``. Standard library only.
"""

from __future__ import annotations

import time

from .answers.tools import search_sources
from .checks import Fail
from .wire import Exchange, Request, new_id, request_id_of


def web_search(h: Exchange, req: Request) -> None:
    """``POST web_search``: ``search_query`` (required), ``count`` (1-50, default 10), filters."""
    body = req.body
    query = body.get("search_query")
    if not isinstance(query, str) or not query.strip():
        raise Fail(400, "1214", "search_query is required and must be a non-empty string.")
    count = body.get("count", 10)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 50:
        raise Fail(400, "1214", "count must be an integer from 1 to 50.")
    options = {**body, "count": count, "search_query": query}
    rid = request_id_of(body) or new_id()
    keywords = query.split()[:5]
    h.send_json(
        200,
        {
            "id": rid,
            "created": int(time.time()),
            "request_id": rid,
            "search_intent": [{"query": query, "intent": "SEARCH_ALL", "keywords": " ".join(keywords)}],
            "search_result": search_sources(query, options),
        },
    )
