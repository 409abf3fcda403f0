"""A ``%%glm`` cell, start to end: the request it makes, then streaming, a sync call or a task.

The request is built once (:mod:`zhipu_magic.api.calls`) and then either shown (``--dry-run``) or
sent, so the dry run is exactly what would go out. The answer streams into a
:class:`~zhipu_magic.core.reply.Reply` (the stream accumulates straight into it) and through one
:class:`~.render.LiveDisplay`. ``_glm`` is bound before the final render, so it holds the partial
answer even if the display fails; an interrupt or error re-raises after the partial is shown.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from typing import Any, NamedTuple

from IPython.core.error import UsageError
from IPython.utils.process import arg_split

from ..api import calls
from ..api.calls import Request
from ..api.config import resolve_base_url
from ..api.models import get_model
from ..core.conversation import conversations
from ..core.interpolate import fill
from ..core.interpolate import notes as fill_notes
from ..core.reply import Reply
from . import attach, code_back, hints, render
from .cell_errors import Errors
from .draw import check as check_draw
from .draw import show_drawing
from .options import parse_cell_line, request_params
from .replay import replay, replay_task, replaying


class Call(NamedTuple):
    """One call as the log knows it: the request, who answers, and where it was asked."""

    request: Request
    local: bool
    base_url: str | None
    conversation: str | None
    cell_id: str | None


def run(magics: Any, line: str, cell: str) -> None:
    """Everything ``%%glm LINE`` does with ``cell``."""
    args = parse_cell_line(magics.glm.parser, arg_split(line, posix=True, strict=False))
    check_draw(args)
    if args.map is not None:
        from .cell_map import run_map

        return run_map(magics, args, cell)
    cell, images = attach.images_in(magics, args, cell, _namespace(magics.shell))
    prompt, notes = _prompt(magics, cell)
    prompt = code_back.ask(prompt) if args.code else prompt
    model = attach.vision_model(magics, args.model or magics.model, images, notes)
    conv = conversations.get(args.chat) if args.chat else None
    cell_id = magics.current_cell_id()
    messages = _messages(magics, args, conv, cell_id, prompt)
    messages[-1]["content"] = calls.user_content(prompt, images)
    request = build_request(magics, args, prompt, model, messages, notes)
    if notes and (args.dry_run or args.async_):
        render.show(render.text_bundle("\n".join(notes)))
    if args.dry_run:
        show_dry_run(magics, request)
        return
    client, local = magics.connect()
    if args.draw:  # an image, shown as a saved output; -o binds its bytes
        show_drawing(magics, client, request, local=local, output=args.output)
        return
    call = Call(request, local, client.base_url, args.chat, cell_id)
    if args.async_:  # a recorded result of this exact submission is shown instead of a new task
        if not (replaying(magics, args) and replay_task(magics, call, args, messages)):
            _submit(magics, client, request, messages, prompt=prompt, local=local, args=args)
        return
    reply = replay(magics, call, model, messages, json_mode=args.json) if replaying(magics, args) else None
    if reply is None:
        notice = "\n".join(filter(None, [magics.local_notice(local), *notes])) or None
        if args.tools or args.search:  # the model may call functions or search the web
            from .cell_tools import answer as tools_answer

            reply = tools_answer(magics, client, call, args, model, messages, notice)
        else:
            reply = _answer(magics, client, call, model, messages, json_mode=args.json, notice=notice)
    if conv is not None:
        if args.system is not None:
            conv.system = args.system
        conv.add_turn(prompt, reply.text, cell_id, reasoning=reply.reasoning, sources=reply.sources)
    _bind_output(magics, reply, args)
    if args.code:  # the answer's code into a new cell below, not run
        code_back.put_code(magics, reply.text, args.code)


def _prompt(magics: Any, cell: str) -> tuple[str, list[str]]:
    """The cell's text with ``{name}`` filled in (values capped), and the notes about it."""
    prompt = cell.strip()
    if not prompt:
        raise UsageError("the cell is empty: write the message below %%glm")
    if not magics.interpolate:
        return prompt, []
    limit = magics.value_limit
    filled = fill(prompt, _namespace(magics.shell), limit=limit, budget=magics.frame_budget)
    return filled.text, fill_notes(filled, limit)


def _namespace(shell: Any) -> Mapping[str, Any]:
    """The user's names, with ``In`` as typed (``%%glm`` cells, not their Python translation) and
    ``Err`` (the kernel's errors, unless the user has an ``Err``)."""
    if shell is None:
        return {}
    raw = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    ours: dict[str, Any] = {} if "Err" in shell.user_ns else {"Err": Errors(shell)}
    return ChainMap({**ours, "In": raw} if raw is not None else ours, shell.user_ns)


def _bind_output(magics: Any, reply: Reply, args: Any) -> None:
    """``-o NAME``: the text, or the parsed object with ``--json``; an answer that is not JSON still
    binds its text, then fails the cell in one line (later cells expect an object)."""
    value: Any = reply.text
    problem = None
    if args.json:
        try:
            value = reply.parse_json()
        except ValueError as err:
            problem = f"the answer is not valid JSON ({err}); {args.output or '_glm.text'} holds the text"
    if args.output:
        magics.bind(args.output, value)
    if problem:
        raise hints.AnswerNotJSON(problem)


def _messages(magics: Any, args: Any, conv: Any, cell_id: str | None, prompt: str) -> list[dict[str, Any]]:
    """System prompt (option, conversation, trait), earlier turns of the conversation, the prompt."""
    system = args.system if args.system is not None else (conv.system if conv else None) or magics.system
    history = conv.messages(before_cell=cell_id) if conv is not None else []
    history = [m for m in history if m.get("role") != "system"]
    messages = ([{"role": "system", "content": system}] if system else []) + history
    messages.append({"role": "user", "content": prompt})
    return messages


def build_request(
    magics: Any, args: Any, prompt: str, model: str, messages: list[dict[str, Any]], notes: list[str]
) -> Request:
    """The one request this cell makes (what ``--dry-run`` shows and what is sent)."""
    params = request_params(args, magics)
    if any((args.tools, args.search, args.recency, args.domain, args.confirm, args.max_rounds is not None)):
        from .cell_tools import tool_params  # checks the tool options; loaded by the first such cell

        params.update(tool_params(magics, args))
    info = get_model(model)
    if args.think and info is not None and info.thinking == "no":
        notes.append(f"note: {model} has no thinking mode, so --think has no effect (%glm models thinking)")
    if args.draw:
        return calls.images(prompt, model=args.model or calls.DEFAULT_IMAGE_MODEL)
    if args.video:
        return calls.task("video", prompt, model=args.model)
    if args.async_:
        return calls.task("chat", prompt, model=model, messages=messages, **params)
    if args.no_stream or not magics.stream:
        return calls.chat(messages, model, **params)
    return calls.stream(messages, model, **params)


def show_dry_run(magics: Any, request: Request) -> None:
    key = magics.key()
    where = magics.configured_base_url() or ("(built-in local server)" if key is None else resolve_base_url())
    state = "set" if key else "not set"
    title = f"{request.method} {request.url(where)}  (dry run: nothing sent; API key {state})"
    render.show(render.json_bundle(request.body, title))


def _submit(
    magics: Any, client: Any, request: Request, messages: list, *, prompt: str, local: bool, args: Any
) -> None:
    """Submit a chat (``--async``) or video (``--video``) task; show its card, or ``--wait`` for it."""
    from ..core.tasks import get_store, submit_request  # loaded by the first task, not by %load_ext
    from . import task_view

    store = get_store()
    kind = "video" if args.video else "chat"
    # Recorded before the first poll, so an interrupted --wait can be resumed with %glm wait ID.
    task = submit_request(store, client, request, prompt=prompt, kind=kind, local=local)
    reply = Reply(task["model"], messages, local=local)
    reply.task_id = task["id"]
    magics.bind("_glm", reply)
    if args.wait:
        task_view.wait_and_show(magics, store, client, task["id"], args.output)
    else:
        task_view.show_submitted(task, client)


def _answer(
    magics: Any, client: Any, call: Call, model: str, messages: list, *, json_mode: bool, notice: str | None
) -> Reply:
    """Stream (or call) into one live output; the partial is kept and shown on any failure."""
    request = call.request
    reply = Reply(model, messages, local=call.local)
    reply.json_mode = json_mode
    live = render.LiveDisplay(min_interval=magics.min_interval, notice=notice)
    live.start(model, reply)
    try:
        if request.stream:
            _stream_into(reply, live, client, request)
        else:
            response = client.send(request)
            reply.retries = response.attempts - 1
            reply.set_response(response)
    except KeyboardInterrupt as exc:
        reply.interrupted = True
        _finish(magics, reply, live, call)
        got = reply.text or reply.reasoning
        kept = "the partial answer above is kept in _glm" if got else "nothing had arrived"
        raise hints.quiet_interrupt(exc, f"stopped; {kept}") from None
    except Exception as err:
        reply.error = err
        reply.retries = max(reply.retries, getattr(err, "attempts", 1) - 1)
        _finish(magics, reply, live, call)
        raise
    _finish(magics, reply, live, call)
    return reply


def _stream_into(reply: Reply, live: Any, client: Any, request: Request) -> None:
    """The hot loop: the stream accumulates into ``reply``; one clock check per chunk. The stream
    closes on any exit."""
    update = live.update
    with client.open_stream(request, into=reply) as stream:
        reply.retries = stream.attempts - 1
        for _chunk in stream:
            update(reply)


def _finish(magics: Any, reply: Reply, live: Any, call: Call) -> None:
    """Bind ``_glm`` first (so it holds the partial even if the display raises), record the call,
    then render."""
    reply.finish()
    magics.bind("_glm", reply)
    magics.count_usage(reply)
    kind = "stream" if call.request.stream else "sync"
    magics.log_call(
        reply, call.request.body, kind=kind, local=call.local, base_url=call.base_url,
        conversation=call.conversation, cell_id=call.cell_id,
    )  # fmt: skip
    live.finish(reply, render.provenance_metadata(reply))
