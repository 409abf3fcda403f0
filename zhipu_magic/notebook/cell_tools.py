"""``%%glm --tools f,g`` / ``--tools all`` / ``--search``: a cell whose model may call Python functions
or search the web, through the one loop (:func:`zhipu_magic.api.tools.run_tools`).

A function runs only when the user named it (``--tools f,g``, looked up in the namespace) or
registered it (``@zhipu_magic.tool``, ``--tools all``); ``--confirm`` asks before each call. Each
call shows as a card in the answer's output as it happens (:mod:`.render.tools`), the final answer
below; ``_glm.tool_calls`` holds the calls with their arguments and results, ``_glm.sources`` the
web sources. Loaded by the first such cell, not by ``%load_ext``.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from ..api.models import get_model
from ..api.search import RECENCY, engine_for, web_search_tool
from ..api.tools import MAX_ROUNDS, add_usage, registered, run_tools, tool_schemas
from ..core.reply import Reply
from . import hints, render
from .render.tools import tool_line

ASKED_FIELDS = ("model", "messages", "stream", "tools")  # the loop sets these itself


def check(args: Any) -> None:
    """The tool options' own rules, as one-line ``UsageError``s."""
    if (args.recency or args.domain) and not args.search:
        raise UsageError("--recency and --domain go with --search")
    if args.max_rounds is not None and args.max_rounds < 1:
        raise UsageError(f"max-rounds must be at least 1, got {args.max_rounds}")
    if (args.max_rounds is not None or args.confirm) and not args.tools:
        raise UsageError("--max-rounds and --confirm go with --tools")
    if (args.tools or args.search) and args.async_:
        raise UsageError("--tools and --search run in the cell: not with --async, --wait or --video")
    if args.recency is not None and args.recency not in RECENCY:
        raise UsageError(f"--recency is one of {', '.join(RECENCY)}")


def functions(magics: Any, args: Any) -> dict[str, Any]:
    """``--tools f,g``: those callables of the namespace; ``--tools all``: the registered ones."""
    if not args.tools:
        return {}
    names = [n.strip() for n in args.tools.split(",") if n.strip()]
    if names == ["all"]:
        found = registered()
        if not found:
            raise UsageError("--tools all: no function is registered (decorate one with @zhipu_magic.tool)")
        return found
    ns = magics.shell.user_ns if magics.shell is not None else {}
    out = {}
    for name in names:
        fn = ns.get(name)
        if not callable(fn):
            raise UsageError(f"--tools {name[:40]}: no function of that name in the notebook")
        out[name] = fn
    return out


def tool_params(magics: Any, args: Any) -> dict[str, Any]:
    """The ``tools`` the cell's request carries (what ``--dry-run`` shows and round one sends)."""
    check(args)
    tools = tool_schemas(functions(magics, args))
    params: dict[str, Any] = {"tools": tools}
    info = get_model(args.model or magics.model)
    streamed = not args.no_stream and magics.stream
    if tools and streamed and info is not None and "tool_stream" in info.note:
        params["tool_stream"] = True  # the call's arguments stream in pieces (GLM-4.6+)
    if args.search:
        engine = magics.search_engine or engine_for(magics.configured_base_url())
        tools.append(web_search_tool(engine=engine, recency=args.recency, domain=args.domain))
    return params


def ask(name: str, arguments: dict[str, Any]) -> bool:
    """``--confirm``: one line with the call, y/n (anything but y/yes refuses)."""
    shown = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    return input(f"run {name}({shown[:300]})? [y/N] ").strip().lower() in ("y", "yes")


class Rounds:
    """The replies of one tool cell, one per model call, all shown in one live output (a terminal
    gets each round's text from its start, and one line per call)."""

    def __init__(self, magics: Any, call: Any, model: str, messages: list, json_mode: bool, notice: Any):
        self.model, self.messages, self.local, self.json_mode = model, messages, call.local, json_mode
        self.records: list[dict[str, Any]] = []
        self.replies: list[Reply] = []
        self.min_interval = magics.min_interval
        self.live = render.LiveDisplay(min_interval=self.min_interval, notice=notice)
        self.first: Reply | None = self.reply()  # the reply the status line waits on is round one's
        self.live.start(model, self.first)

    def reply(self) -> Reply:
        reply = Reply(self.model, self.messages, local=self.local)
        reply.json_mode = self.json_mode
        reply.tool_runs = self.records
        self.replies.append(reply)
        return reply

    def new_answer(self) -> Reply:
        if self.first is not None:
            first, self.first = self.first, None
            return first
        if self.live.plain:  # a terminal prints each round from its own start
            self.live = render.LiveDisplay(min_interval=self.min_interval)
        return self.reply()

    def on_call(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        if self.live.plain:
            print(tool_line(record))
        else:
            self.live.update(self.replies[-1])

    def on_chunk(self, answer: Any) -> None:
        self.live.update(answer)


def answer(magics: Any, client: Any, call: Any, args: Any, model: str, messages: list, notice: Any) -> Reply:
    """Run the tool loop with a live card per call; the final answer as the cell's reply."""
    body = call.request.body or {}
    params = {k: v for k, v in body.items() if k not in ASKED_FIELDS}
    extra = [t for t in body.get("tools") or [] if t.get("type") != "function"]
    rounds = Rounds(magics, call, model, messages, bool(args.json), notice)
    try:
        run = run_tools(
            client, messages, functions(magics, args), model=model,
            max_rounds=args.max_rounds or MAX_ROUNDS, stream=call.request.stream,
            extra_tools=extra, confirm=ask if args.confirm else None,
            on_call=rounds.on_call, on_chunk=rounds.on_chunk, new_answer=rounds.new_answer, **params,
        )  # fmt: skip
    except KeyboardInterrupt as exc:
        rounds.replies[-1].interrupted = True
        finish(magics, rounds.replies[-1], rounds, call)
        raise hints.quiet_interrupt(exc, "stopped; what had arrived is kept in _glm") from None
    except Exception as err:
        rounds.replies[-1].error = err
        finish(magics, rounds.replies[-1], rounds, call)
        raise
    reply = run.answer
    reply.sources = run.sources
    reply.messages = run.messages
    if run.exhausted:
        reply.tool_limit = run.rounds
    finish(magics, reply, rounds, call)
    return reply


def finish(magics: Any, reply: Reply, rounds: Rounds, call: Any) -> None:
    """Bind ``_glm`` first, count every round's tokens, log the call, then the final render."""
    reply.finish()
    reply.tool_calls = list(getattr(reply, "tool_runs", None) or reply.tool_calls)
    magics.bind("_glm", reply)
    for each in rounds.replies:
        magics.count_usage(each)
    if len(rounds.replies) > 1:  # the footer and the log show what the whole cell cost
        total: dict[str, Any] = {}
        for each in rounds.replies:
            total = add_usage(total, each.usage)
        reply.usage, reply.tool_rounds = total or None, len(rounds.replies)
        reply.started = rounds.replies[0].started  # and the time of the whole cell
    magics.log_call(
        reply, call.request.body, kind="tools", local=call.local, base_url=call.base_url,
        conversation=call.conversation, cell_id=call.cell_id,
    )  # fmt: skip
    rounds.live.finish(reply, render.provenance_metadata(reply))


__all__ = ["Rounds", "answer", "ask", "check", "functions", "tool_params"]
