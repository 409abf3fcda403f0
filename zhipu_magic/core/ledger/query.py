"""Reading the log: recent calls (searched), one call, totals by model / day / notebook, and the
recorded answer of an identical request (replay).

Full-text search uses FTS5 when this SQLite has it (each word a quoted phrase, so no query syntax can
fail), ``LIKE`` otherwise. Dates are ISO (``2026-03-13``) or relative (``7d``, ``12h``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from .db import Ledger
from .records import OK

GROUPS = {
    "model": "model",
    "day": "substr(time, 1, 10)",
    "notebook": "coalesce(notebook, '(unknown)')",
}
_RELATIVE = re.compile(r"(\d+)\s*([dh])")


def parse_since(text: str | None) -> str | None:
    """``2026-03-13``, ``2026-03-13T10:00``, ``7d`` or ``12h`` -> an ISO UTC time; ``ValueError``
    for anything else."""
    if not text:
        return None
    text = text.strip().lower()
    found = _RELATIVE.fullmatch(text)
    if found:
        amount = int(found.group(1))
        delta = timedelta(days=amount) if found.group(2) == "d" else timedelta(hours=amount)
        return (datetime.now(timezone.utc) - delta).isoformat(timespec="milliseconds")
    if text == "today":
        return datetime.now(timezone.utc).date().isoformat()
    when = datetime.fromisoformat(text)
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when.isoformat(timespec="milliseconds") if "t" in text else when.date().isoformat()


def _phrases(search: str) -> str:
    """The search words as FTS5 phrases (``"a" "b"``: all words, any order, no operators)."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in search.split())


def _where(
    ledger: Ledger, model: str | None, since: str | None, search: str | None
) -> tuple[str, list[Any], str]:
    """The ``WHERE`` clause, its parameters, and the ``FROM`` (joined with the FTS table to search)."""
    clauses, params, source = [], [], "calls"
    if model:
        clauses.append("model = ?")
        params.append(model)
    if since:
        clauses.append("time >= ?")
        params.append(since)
    if search and search.split():
        if ledger.has_search():
            source = "calls JOIN calls_fts ON calls_fts.rowid = calls.id"
            clauses.append("calls_fts MATCH ?")
            params.append(_phrases(search))
        else:
            for word in search.split():
                clauses.append("(prompt LIKE ? ESCAPE '\\' OR answer LIKE ? ESCAPE '\\')")
                like = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                params += [like, like]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params, source


def recent(
    ledger: Ledger,
    n: int = 20,
    *,
    model: str | None = None,
    since: str | None = None,
    search: str | None = None,
) -> list[dict[str, Any]]:
    """The newest ``n`` calls (newest first), filtered; every column."""
    where, params, source = _where(ledger, model, since, search)
    sql = f"SELECT calls.* FROM {source}{where} ORDER BY calls.id DESC LIMIT ?"
    return ledger.rows(sql, [*params, max(0, int(n))])


def one(ledger: Ledger, log_id: int) -> dict[str, Any] | None:
    """The whole record ``log_id``, or ``None``."""
    found = ledger.rows("SELECT * FROM calls WHERE id = ?", [int(log_id)])
    return found[0] if found else None


def find_answer(
    ledger: Ledger, request_hash: str, *, kinds: Sequence[str] | None = None
) -> dict[str, Any] | None:
    """The newest successful call of this exact request (replay; ``map``'s resume), or ``None``;
    with ``kinds``, only a call of one of those kinds (a video is answered by a video).
    A call that ended asking for tools is not an answer (its tool calls are not kept)."""
    only = f" AND kind IN ({', '.join('?' * len(kinds))})" if kinds else ""
    found = ledger.rows(
        "SELECT * FROM calls WHERE request_hash = ? AND status = ? "
        f"AND coalesce(finish_reason, '') != 'tool_calls'{only} ORDER BY id DESC LIMIT 1",
        [request_hash, OK, *(kinds or ())],
    )
    return found[0] if found else None


def totals(ledger: Ledger, by: str = "model", *, since: str | None = None) -> list[dict[str, Any]]:
    """Calls, tokens and cost per model, day or notebook. ``cost`` sums the known costs;
    ``unknown`` counts the calls whose price is unknown (so a total is never a silent 0)."""
    group = GROUPS[by]
    where, params = (" WHERE time >= ?", [since]) if since else ("", [])
    sql = (
        f"SELECT {group} AS grp, count(*) AS calls, "
        "coalesce(sum(prompt_tokens), 0) AS prompt_tokens, "
        "coalesce(sum(completion_tokens), 0) AS completion_tokens, "
        "coalesce(sum(total_tokens), 0) AS total_tokens, "
        "sum(cost) AS cost, sum(cost IS NULL) AS unknown "
        f"FROM calls{where} GROUP BY grp ORDER BY grp"
    )
    return ledger.rows(sql, params)


def log(
    n: int = 20,
    *,
    model: str | None = None,
    since: str | None = None,
    search: str | None = None,
    home: str | None = None,
) -> Any:
    """The newest ``n`` recorded calls as dicts (a pandas DataFrame when pandas is installed).

    ``since``: ``2026-03-13`` or ``7d``; ``search``: words in the prompt or the answer.
    """
    from . import get_ledger

    rows = recent(get_ledger(home), n, model=model, since=parse_since(since), search=search)
    try:
        import pandas
    except ImportError:
        return rows
    return pandas.DataFrame(rows)
