"""``%glm log`` and ``%glm cost``: the call log, read back (listing, search, one call, cost totals).

The log machinery (``sqlite3``) loads when one of these runs, not with ``%load_ext``.
"""

from __future__ import annotations

import json
from typing import Any

from IPython.core.error import UsageError

from ...api.text import truncate
from .. import render
from .registry import arg, command

SINCE = arg("--since", metavar="DATE", help="2026-03-13, today, 7d or 12h")


def _since(text: str | None) -> str | None:
    from ...core.ledger.query import parse_since

    try:
        return parse_since(text)
    except ValueError:
        raise UsageError(f"--since {text[:30]!r}: use a date (2026-03-13), today, 7d or 12h") from None


@command(
    "log",
    "recent calls from the call log, newest first (searched: %glm log pandas); %glm log ID shows one",
    arg("-n", type=int, default=20, metavar="N"),
    arg("-m", "--model", metavar="MODEL"),
    SINCE,
    arg("search", nargs="*", metavar="SEARCH"),
)
def log(magics: Any, args: Any) -> None:
    from ...core.ledger import get_ledger, query

    ledger = get_ledger()
    if len(args.search) == 1 and args.search[0].lstrip("#").isdigit():
        _show_one(ledger, int(args.search[0].lstrip("#")))
        return
    if args.n < 1:
        raise UsageError("-n must be at least 1")
    search = " ".join(args.search) or None
    rows = query.recent(ledger, args.n, model=args.model, since=_since(args.since), search=search)
    if not rows:
        what = " matching that" if (search or args.model or args.since) else " yet"
        render.show(render.text_bundle(f"No calls in the log{what}."))
        return
    from ..render.bundles import cost_text

    table = [
        [r["id"], (r["time"] or "")[:19].replace("T", " "), r["model"], r["kind"],
         truncate(r["prompt"] or "", 50), truncate(r["answer"] or "", 60),
         f"{r['prompt_tokens'] or 0} / {r['completion_tokens'] or 0}",
         cost_text(r["cost"], int(r["cost"] is None)), r["status"]]
        for r in rows
    ]  # fmt: skip
    headers = ["id", "time (UTC)", "model", "kind", "prompt", "answer", "tokens in / out", "cost", "status"]
    where = " (in memory: " + ledger.problem + ")" if ledger.problem else ""
    render.show(render.table_bundle(headers, table, title=f"{len(rows)} calls, newest first{where}"))


def _show_one(ledger: Any, log_id: int) -> None:
    from ...core.ledger import query

    row = query.one(ledger, log_id)
    if row is None:
        raise UsageError(f"no call {log_id} in the log (%glm log lists them)")
    for name in ("request", "extra"):  # the request, and the sources / tool cards, as indented JSON
        try:
            row[name] = json.dumps(json.loads(row.get(name) or "null"), ensure_ascii=False, indent=1)
        except ValueError:
            pass
    rows = [[name, "" if value is None else value] for name, value in row.items()]
    render.show(render.table_bundle(["field", "value"], rows, title=f"Call {log_id}"))


@command(
    "cost",
    "tokens and cost from the call log, across sessions, with bars; --by model, day or notebook",
    arg("--by", choices=("model", "day", "notebook"), default="model"),
    SINCE,
)
def cost(magics: Any, args: Any) -> None:
    from ...core.ledger import get_ledger, query
    from ...core.ledger.prices import PRICES_ENV_VAR, PRICES_READ
    from ..render.bundles import bar_table_bundle, cost_text

    groups = query.totals(get_ledger(), args.by, since=_since(args.since))
    if not groups:
        render.show(render.text_bundle("No calls in the log yet."))
        return
    rows = [
        [g["grp"], g["calls"], g["prompt_tokens"], g["completion_tokens"], cost_text(g["cost"], g["unknown"])]
        for g in groups
    ]
    known = sum(g["cost"] or 0.0 for g in groups)
    unknown = sum(g["unknown"] for g in groups)
    rows.append(["total", sum(g["calls"] for g in groups), sum(g["prompt_tokens"] for g in groups),
                 sum(g["completion_tokens"] for g in groups), cost_text(known, unknown)])  # fmt: skip
    by_cost = known > 0
    values = [(g["cost"] or 0.0) if by_cost else float(g["total_tokens"]) for g in groups] + [0.0]
    title = (
        f"Cost by {args.by}{' since ' + args.since if args.since else ''} (bars: "
        f"{'cost' if by_cost else 'tokens'}; free models cost 0, others are unknown until priced "
        f"with {PRICES_ENV_VAR}; contract read {PRICES_READ})"
    )
    render.show(bar_table_bundle([args.by, "calls", "input", "output", "cost"], rows, values, title))
