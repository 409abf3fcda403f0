"""Replay: a cell whose request is identical to a recorded successful call is answered from the call
log (``%glm config replay=on``, ``--replay``; ``--fresh`` sends anyway).

One lookup for every kind of cell: :func:`zhipu_magic.core.ledger.records.request_hash` of the request
the cell would send. A stream, sync or tool cell shows the recorded answer (a tool cell with the cards
and sources from the record, no function run); an ``--async`` or ``--video`` cell shows the recorded
task result as a finished task does, and submits nothing. The footer says "replayed · 0 tokens";
``_glm`` and ``-o`` are bound as usual. A log that cannot be read means no replay (the call is sent).
"""

from __future__ import annotations

from typing import Any

from ..core.reply import Reply
from . import render


def replaying(magics: Any, args: Any) -> bool:
    """``--replay`` asks, ``--fresh`` refuses, else the ``replay`` setting."""
    return not args.fresh and bool(args.replay or magics.replay)


def find(call: Any, *, kinds: tuple[str, ...] | None = None) -> dict[str, Any] | None:
    """The newest successful record of the call's exact request, or ``None`` (also when the log
    cannot be read: the log never breaks a cell)."""
    from ..core.ledger import get_ledger
    from ..core.ledger.query import find_answer
    from ..core.ledger.records import backend_name, request_hash

    try:
        digest = request_hash(call.request.body, backend_name(call.base_url, call.local))
        return find_answer(get_ledger(), digest, kinds=kinds)
    except Exception:
        return None


def replayed_reply(call: Any, found: dict[str, Any], model: str, messages: list, **response: Any) -> Reply:
    """The recorded answer as a finished :class:`Reply`: its text, reasoning, sources and tool cards
    (the functions are not run again), marked as replayed from log row ``found["id"]``."""
    from ..core.ledger.records import answer_response, extra_in, provenance

    reply = Reply(model, messages, local=call.local)
    reply.set_response({**answer_response(found), **response})
    extra = extra_in(found)
    reply.sources = [s for s in extra.get("sources") or [] if isinstance(s, dict)]
    reply.tool_runs = [r for r in extra.get("tool_runs") or [] if isinstance(r, dict)]
    if reply.tool_runs:
        reply.tool_calls = list(reply.tool_runs)
    limit = extra.get("tool_limit")
    reply.tool_limit = limit if type(limit) is int else None
    reply.task_id = found.get("task_id")
    reply.replayed = reply.log_id = found["id"]
    reply.provenance = provenance(reply, call.request.body, found["id"])
    reply.finish()
    return reply


def replay(magics: Any, call: Any, model: str, messages: list, *, json_mode: bool) -> Reply | None:
    """A stream, sync or tool cell answered from the log and shown at once, or ``None`` (then it is
    sent). Nothing reaches the server and no token is counted."""
    found = find(call)
    if found is None:
        return None
    live = render.LiveDisplay(min_interval=magics.min_interval)
    live.start(model)
    reply = replayed_reply(call, found, model, messages)
    reply.json_mode = json_mode
    magics.bind("_glm", reply)
    live.finish(reply, render.provenance_metadata(reply))
    return reply


def replay_task(magics: Any, call: Any, args: Any, messages: list) -> Reply | None:
    """An ``--async`` / ``--video`` cell answered from the log: the recorded result shown like a
    finished task, ``_glm`` and ``-o`` bound; nothing submitted. ``None`` when nothing matches."""
    video = bool(args.video)
    found = find(call, kinds=("video",) if video else None)
    if found is None or (not video and found.get("kind") == "video"):
        return None
    model = str(found.get("model") or (call.request.body or {}).get("model") or "")
    if not video:
        reply = replayed_reply(call, found, model, messages)
        render.show(render.reply_bundle(reply, final=True), render.provenance_metadata(reply))
        if args.output:
            magics.bind(args.output, reply.text)
    else:
        record = video_record(call, found)
        urls = [item["url"] for item in record["result"]["video_result"]]
        reply = replayed_reply(call, found, model, messages, choices=_message("\n".join(urls)))
        show_video(record, reply)
        if args.output:
            magics.bind(args.output, urls[0] if urls else None)
    magics.bind("_glm", reply)
    return reply


def _message(text: str) -> list[dict[str, Any]]:
    return [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]


def video_record(call: Any, found: dict[str, Any]) -> dict[str, Any]:
    """A finished video task rebuilt from its log row: the recorded links (a link to a built-in local
    server that has since restarted points at the one answering now)."""
    from ..core.tasks.records import SUCCESS, resolve_local_assets, stable_local_assets

    urls = [u for u in str(found.get("answer") or "").split() if u]
    record: dict[str, Any] = {
        "id": str(found.get("task_id") or f"log-{found['id']}"),
        "kind": "video",
        "status": SUCCESS,
        "model": found.get("model"),
        "prompt": found.get("prompt") or "",
        "local": call.local,
        "result": {"video_result": [{"url": u} for u in urls]},
    }
    if call.local and call.base_url:
        record = resolve_local_assets(stable_local_assets(record), str(call.base_url))
    return record


def show_video(record: dict[str, Any], reply: Reply) -> None:
    """The finished card of the recorded video (a dead link says so in one line), and the footer."""
    from .render.markdown import escape
    from .widgets.card import static_card  # ipywidgets loads here, as for any task shown

    card = static_card(record)
    footer = render.footer_text(reply)
    html = (
        f'{card["text/html"]}<div class="zm-footer tex2jax_ignore" style="opacity:0.6;font-size:0.85em">'
        f"{escape(footer)}</div>"
    )
    bundle = {"text/html": html, "text/plain": f"{card['text/plain']}\n{footer}"}
    render.show(bundle, render.provenance_metadata(reply))
