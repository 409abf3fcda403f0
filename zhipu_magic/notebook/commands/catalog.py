"""``%glm help``, ``models``, ``usage``: what there is and what was used."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from .. import render
from .registry import arg, command, listing


@command("help", "this list")
def help_(magics: Any, args: Any) -> None:
    rows = [["%%glm [options]", "ask a model; the cell is the message (options: %%glm?)"]]
    rows += [[usage, summary] for usage, summary in listing()]
    render.show(render.table_bundle(["command", "what it does"], rows))


def _wanted(model: Any, words: list[str]) -> bool:
    """``thinking`` / ``free`` / ``video`` / ``chat`` / ``4.5``: a capability, a kind, or part of the name."""
    flags = {"stream": model.stream, "async": model.async_, "thinking": model.thinking != "no",
             "vision": model.vision, "video": model.video, "free": model.free}  # fmt: skip
    return all(flags.get(q) or q == model.kind or q in model.name for q in (w.lower() for w in words))


@command(
    "models",
    "models and what each supports (stream, async, thinking, vision, video); "
    "%glm models free thinking filters",
    arg("filter", nargs="*", metavar="FILTER"),
)
def models(magics: Any, args: Any) -> None:
    from ...api.models import MODELS

    def yes(flag: bool) -> str:
        return "yes" if flag else ""

    words = args.filter
    rows = [
        [m.name, m.kind, yes(m.stream), yes(m.async_), "" if m.thinking == "no" else m.thinking,
         yes(m.vision), yes(m.video), yes(m.free), m.note]
        for m in MODELS.values() if _wanted(m, words)
    ]  # fmt: skip
    if not rows:
        raise UsageError(f"no model matches {' '.join(words)[:60]!r}; %glm models lists them all")
    headers = ["model", "kind", "stream", "async", "thinking", "vision", "video", "free", "note"]
    what = f" matching {' '.join(words)!r}" if words else ""
    render.show(render.table_bundle(headers, rows, title=f"{len(rows)} models{what}"))


@command("usage", "tokens and cost of this session, per model (%glm cost: across sessions, from the log)")
def usage(magics: Any, args: Any) -> None:
    if not magics.usage:
        render.show(render.text_bundle("No requests yet in this session."))
        return
    from ..render.bundles import cost_text

    rows = [
        [m, u["requests"], u["prompt"], u["completion"], u["reasoning"], u["total"],
         cost_text(u.get("cost", 0.0), u.get("unknown", 0))]
        for m, u in magics.usage.items()
    ]  # fmt: skip
    headers = ["model", "requests", "prompt", "completion", "reasoning", "total", "cost"]
    render.show(render.table_bundle(headers, rows, title="Session usage"))
