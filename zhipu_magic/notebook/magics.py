"""``%%glm`` and ``%glm ...``: parse the line, then delegate.

State lives in :mod:`.reply` and :mod:`.conversation`, output goes through :mod:`.render`, the wire
through :class:`~zhipu_magic.client.GLMClient`. This module only decides *what* to send and *where*
(real API, or the built-in local server when no key and no base URL are configured), binds the
answer (``_glm``, ``-o NAME``) and turns mistakes into one-line ``UsageError``s before anything is
sent. Settings are traitlets, so ``%config GLMMagics.model = "glm-4-air"`` and ``ipython_config.py``
work; the API key is deliberately *not* a trait (``%config`` would print it).
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.utils.process import arg_split
from traitlets import Bool, Float, Int, TraitError, Unicode, validate

from ..api.config import BASE_URL_ENV_VAR, DEFAULT_MODEL, DEFAULT_TIMEOUT, Secret
from ..core.backend import backend
from ..core.conversation import conversations
from ..core.interpolate import interpolate
from ..core.reply import Reply
from . import render
from .commands import KEY_REFUSED, Subcommands, is_key_option, show_submitted_task

LOCAL_NOTICE = (
    "No API key set: answering from the built-in local server (offline demo). "
    "Set ZHIPUAI_API_KEY or run %glm login to use the real API."
)


def _unit_interval(name: str, value: float | None, *, low_open: bool = False) -> None:
    if value is None:
        return
    if low_open and not (0 < value <= 1):
        raise UsageError(f"{name} must be in (0, 1], got {value}")
    if not low_open and not (0 <= value <= 1):
        raise UsageError(f"{name} must be in [0, 1], got {value}")


@magics_class
class GLMMagics(Subcommands, Magics):
    """Zhipu GLM models in the notebook: ``%%glm`` cells and ``%glm`` subcommands."""

    model = Unicode(DEFAULT_MODEL, help="Default model for %%glm.").tag(config=True)
    system = Unicode(None, allow_none=True, help="Default system prompt.").tag(config=True)
    temperature = Float(None, allow_none=True, help="Default temperature, in [0, 1].").tag(config=True)
    top_p = Float(None, allow_none=True, help="Default top_p, in (0, 1].").tag(config=True)
    max_tokens = Int(None, allow_none=True, help="Default max_tokens (>= 1).").tag(config=True)
    thinking = Bool(None, allow_none=True, help="Thinking mode on/off by default (None: model default).").tag(
        config=True
    )
    stream = Bool(True, help="Stream answers (False = one synchronous call, like --no-stream).").tag(
        config=True
    )
    base_url = Unicode(
        None, allow_none=True, help=f"API base URL (overrides {BASE_URL_ENV_VAR}); needs a key."
    ).tag(config=True)
    interpolate = Bool(True, help="Substitute {name}, {In[n]}, {Out[n]} in %%glm cells.").tag(config=True)
    timeout = Float(
        DEFAULT_TIMEOUT[1], help="Seconds without a byte from the server before a request gives up."
    ).tag(config=True)
    min_interval = Float(0.1, help="Seconds between live display updates (at most ~10 a second).").tag(
        config=True
    )

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._noticed_local = False
        self._cell_id: str | None = None
        self.usage: dict[str, dict[str, int]] = {}

    # -- validation of the traits (also what %glm config and %config go through) -----------------
    @validate("temperature")
    def _check_temperature(self, proposal: Any) -> Any:
        value = proposal["value"]
        if value is not None and not 0 <= value <= 1:
            raise TraitError(f"temperature must be in [0, 1], got {value}")
        return value

    @validate("top_p")
    def _check_top_p(self, proposal: Any) -> Any:
        value = proposal["value"]
        if value is not None and not 0 < value <= 1:
            raise TraitError(f"top_p must be in (0, 1], got {value}")
        return value

    @validate("timeout")
    def _check_timeout(self, proposal: Any) -> Any:
        if not proposal["value"] > 0:
            raise TraitError(f"timeout must be positive, got {proposal['value']}")
        return proposal["value"]

    @validate("max_tokens")
    def _check_max_tokens(self, proposal: Any) -> Any:
        value = proposal["value"]
        if value is not None and value < 1:
            raise TraitError(f"max_tokens must be at least 1, got {value}")
        return value

    # -- the magic ---------------------------------------------------------------------------
    @magic_arguments("%glm")  # the usage line then reads "%%glm [-m MODEL] ..."
    @argument("-m", "--model", help="model name (default: GLMMagics.model)")
    @argument("-s", "--system", help="system prompt")
    @argument("-t", "--temperature", type=float, help="sampling temperature, 0..1")
    @argument("--top-p", type=float, help="nucleus sampling, (0, 1]")
    @argument("--max-tokens", type=int, help="maximum answer tokens (>= 1)")
    @argument("-c", "--chat", metavar="NAME", help="continue the named conversation (re-runs replace)")
    @argument("--no-stream", action="store_true", help="one synchronous call instead of streaming")
    @argument("--async", dest="async_", action="store_true", help="submit as an async task; fetch it later")
    @argument(
        "--wait", action="store_true", help="with --async/--video: poll until done, then show the answer"
    )
    @argument("--video", action="store_true", help="generate a video from the cell (async; cogvideox models)")
    @argument("--think", dest="think", action="store_true", default=None, help="thinking mode on")
    @argument("--no-think", dest="think", action="store_false", help="thinking mode off")
    @argument("-o", "--output", metavar="NAME", help="also bind the answer text (or --json object) to NAME")
    @argument("--dry-run", action="store_true", help="show the exact request JSON; send nothing")
    @argument("--json", action="store_true", help="JSON mode; the bound value is the parsed object")
    @line_cell_magic
    def glm(self, line: str, cell: str | None = None) -> None:
        """Ask a Zhipu GLM model. The cell is the message; the answer streams below it.

        ``{name}`` in the cell is replaced by the variable ``name`` (also ``{In[3]}``, ``{Out[3]}``);
        nothing is evaluated and other braces stay as typed. ``_glm`` holds the last reply
        (``.text``, ``.reasoning``, ``.usage``, ...). The key comes from ZHIPUAI_API_KEY or
        ``%glm login``, never from an option; with no key the built-in local server answers.

        Line subcommands (``%glm help``): config, login, logout, models, usage, history [NAME],
        reset [NAME], result ID, chat [NAME], tasks.
        """
        if cell is None:
            return self._subcommand(line)
        return self._cell(line, cell)

    # -- %%glm -----------------------------------------------------------------------------------
    def _parse(self, line: str) -> Any:
        argv = arg_split(line, posix=True, strict=False)
        if any(is_key_option(tok) for tok in argv):
            raise UsageError(KEY_REFUSED)
        args, extra = self.glm.parser.parse_known_args(argv)
        if extra:
            # Name the first unknown option but never echo values: they may be secrets.
            options = [tok.split("=", 1)[0] for tok in extra if tok.startswith("-")]
            what = f"unknown option {options[0]}" if options else "unexpected argument"
            raise UsageError(f"{what} (options: %%glm?)")
        _unit_interval("temperature", args.temperature)
        _unit_interval("top-p", args.top_p, low_open=True)
        if args.max_tokens is not None and args.max_tokens < 1:
            raise UsageError(f"max-tokens must be at least 1, got {args.max_tokens}")
        if args.output is not None and not args.output.isidentifier():
            raise UsageError("-o needs a Python variable name")
        if args.wait or args.video:
            args.async_ = True  # both are async tasks underneath
        if args.async_ and args.no_stream:
            raise UsageError("--async and --no-stream do not go together")
        return args

    def _cell(self, line: str, cell: str) -> None:
        args = self._parse(line)
        prompt = cell.strip()
        if not prompt:
            raise UsageError("the cell is empty: write the message below %%glm")
        if self.interpolate:
            prompt = interpolate(prompt, self.shell.user_ns if self.shell else {})
        model = args.model or self.model
        conv = conversations.get(args.chat) if args.chat else None
        cell_id = self.current_cell_id() if conv is not None else None
        system = args.system if args.system is not None else (conv.system if conv else None) or self.system
        history = conv.messages(before_cell=cell_id) if conv is not None else []
        history = [m for m in history if m.get("role") != "system"]
        messages = ([{"role": "system", "content": system}] if system else []) + history
        messages.append({"role": "user", "content": prompt})
        params = self._params(args)
        streaming = not (args.no_stream or args.async_ or not self.stream)

        if args.dry_run:
            return self._show_dry_run(model, messages, params, streaming=streaming, async_=args.async_)
        client, local = self._backend()
        if args.async_:
            return self._submit(client, model, messages, params, prompt=prompt, local=local, args=args)

        reply = Reply(model, messages, local=local)
        reply.json_mode = bool(args.json)
        notice = self._local_notice(local)
        live = render.LiveDisplay(min_interval=self.min_interval, notice=notice)
        live.start(model, reply)
        try:
            if streaming:
                self._stream_into(reply, live, client, model, messages, params)
            else:
                reply.set_response(client.chat(messages, model=model, **params))
                reply.retries = client.attempts - 1
        except KeyboardInterrupt:
            reply.interrupted = True
            self._finish(reply, live, args)
            raise
        except Exception as err:
            reply.error = err
            self._finish(reply, live, args)
            raise
        self._finish(reply, live, args)
        if conv is not None:
            if args.system is not None:
                conv.system = args.system
            conv.add_turn(prompt, reply.text, cell_id, reasoning=reply.reasoning)
        if args.json:
            try:
                reply.parse_json()
            except ValueError as err:
                raise UsageError(f"the answer is not valid JSON ({err}); the text is in _glm.text") from None
        if args.output:
            self.shell.user_ns[args.output] = reply.parsed if args.json else reply.text

    @staticmethod
    def _stream_into(reply: Reply, live: Any, client: Any, model: str, messages: list, params: dict) -> None:
        """The hot loop: one append and one clock check per chunk; the stream closes on any exit."""
        add, update = reply.add_chunk, live.update
        with client.stream(messages, model=model, **params) as stream:
            reply.retries = client.attempts - 1
            for chunk in stream:
                add(chunk)
                update(reply)

    def _finish(self, reply: Reply, live: Any, args: Any) -> None:
        """Bind ``_glm`` first (so it holds the partial even if the display raises), then render."""
        reply.finish()
        if self.shell is not None:
            self.shell.user_ns["_glm"] = reply
        self._count_usage(reply)
        live.finish(reply)

    def _params(self, args: Any) -> dict[str, Any]:
        think = args.think if args.think is not None else self.thinking
        params: dict[str, Any] = {
            "temperature": args.temperature if args.temperature is not None else self.temperature,
            "top_p": args.top_p if args.top_p is not None else self.top_p,
            "max_tokens": args.max_tokens if args.max_tokens is not None else self.max_tokens,
        }
        if think is not None:
            params["thinking"] = {"type": "enabled" if think else "disabled"}
        if args.json:
            params["response_format"] = {"type": "json_object"}
        return {k: v for k, v in params.items() if v is not None}

    def _show_dry_run(
        self, model: str, messages: list, params: dict, *, streaming: bool, async_: bool
    ) -> None:
        key = self._key()
        base = self._configured_base_url()
        where = base or ("(built-in local server)" if key is None else None)
        if where is None:
            from ..api.config import resolve_base_url

            where = resolve_base_url()
        path = "async/chat/completions" if async_ else "chat/completions"
        body: dict[str, Any] = {"model": model, "messages": messages, **params}
        if streaming:
            body["stream"] = True
        title = f"POST {where}/{path}  (dry run: nothing sent; API key {'set' if key else 'not set'})"
        render.show(render.json_bundle(body, title))

    def _submit(
        self,
        client: Any,
        model: str,
        messages: list,
        params: dict,
        *,
        prompt: str,
        local: bool,
        args: Any = None,
    ) -> None:
        """Submit a chat (``--async``) or video (``--video``) task; show its card, or ``--wait`` for it."""
        from ..core.tasks.polling import submit_task
        from ..core.tasks.store import get_store

        video = bool(getattr(args, "video", False))
        store = get_store()
        task = submit_task(
            store,
            client,
            prompt,
            kind="video" if video else "chat",
            model=args.model if video else model,
            messages=None if video else messages,
            local=local,
            **({} if video else params),
        )  # recorded before the first poll, so an interrupted --wait can be resumed
        reply = Reply(task["model"], messages, local=local)
        reply.task_id = task["id"]
        if self.shell is not None:
            self.shell.user_ns["_glm"] = reply
        if getattr(args, "wait", False):
            return self._wait(store, client, task, args.output)
        show_submitted_task(task, client)

    def _wait(self, store: Any, client: Any, task: dict[str, Any], output: str | None) -> None:
        """``--wait`` (and ``%glm wait ID``): poll (1 s -> 10 s backoff) until done, then show it
        like a normal answer. An interrupt stops the waiting, not the task: resume with the same."""
        from ..api.errors import GLMError
        from ..core.tasks.polling import wait_for_task
        from ..core.tasks.store import FAIL, reply_from_record

        task_id = str(task.get("id"))
        try:
            record = wait_for_task(store, client, task_id)
        except KeyboardInterrupt:
            render.show(
                render.text_bundle(
                    f"Stopped waiting; task {task_id} is still running: resume with %glm wait {task_id}"
                )
            )
            raise
        if record.get("status") == FAIL:
            raise GLMError(f"task {task_id} failed: {record.get('error')}", hint="submit it again")
        reply = reply_from_record(record)
        if reply is None:  # a video: the card shows the player and the cover image
            show_submitted_task(record, client)
            urls = [v.get("url") for v in (record.get("result") or {}).get("video_result") or []]
            if output and self.shell is not None:
                self.shell.user_ns[output] = urls[0] if urls else None
            return
        if self.shell is not None:
            self.shell.user_ns["_glm"] = reply
        self._count_usage(reply)
        render.show(render.reply_bundle(reply, final=True))
        if output and self.shell is not None:
            self.shell.user_ns[output] = reply.text

    # -- backend: real API or the built-in server (shared with the panels) ----------------------------
    def _key(self) -> Secret | None:
        return backend.key()

    def _configured_base_url(self) -> str | None:
        return backend.base_url(self.base_url)

    def _backend(self) -> tuple[Any, bool]:
        """(client, local): a key -> the configured API; no key and no base URL -> local server."""
        return backend.client(self.base_url, timeout=self.timeout)

    def _local_notice(self, local: bool) -> str | None:
        if not local or self._noticed_local:
            return None
        self._noticed_local = True
        return LOCAL_NOTICE

    def _count_usage(self, reply: Reply) -> None:
        usage = reply.usage or {}
        row = self.usage.setdefault(
            reply.model, {"requests": 0, "prompt": 0, "completion": 0, "reasoning": 0, "total": 0}
        )
        row["requests"] += 1
        row["prompt"] += int(usage.get("prompt_tokens") or 0)
        row["completion"] += int(usage.get("completion_tokens") or 0)
        row["reasoning"] += int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
        row["total"] += int(usage.get("total_tokens") or 0)

    # -- cell ids (for replacing a re-run cell's turn) -------------------------------------------
    def current_cell_id(self) -> str | None:
        """The running cell's id: from ``pre_run_cell`` info, else the execute request metadata."""
        if self._cell_id:
            return self._cell_id
        header = getattr(self.shell, "parent_header", None) or {}
        cell_id = (header.get("metadata") or {}).get("cellId") if isinstance(header, dict) else None
        return str(cell_id) if cell_id else None

    def _pre_run_cell(self, info: Any) -> None:
        self._cell_id = getattr(info, "cell_id", None) or None

    def _post_run_cell(self, result: Any) -> None:
        self._cell_id = None


# -- extension entry points -----------------------------------------------------------------------
def load_ipython_extension(ipython: Any) -> None:
    """Register the magics and the two cell-id callbacks; loading twice replaces, never duplicates."""
    unload_ipython_extension(ipython)
    magics = GLMMagics(shell=ipython)
    ipython.register_magics(magics)
    ipython.events.register("pre_run_cell", magics._pre_run_cell)
    ipython.events.register("post_run_cell", magics._post_run_cell)
    ipython._zhipu_magic = magics


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics, callbacks and settings object added by :func:`load_ipython_extension`."""
    magics = getattr(ipython, "_zhipu_magic", None)
    if magics is None:
        return
    for event, callback in (("pre_run_cell", magics._pre_run_cell), ("post_run_cell", magics._post_run_cell)):
        try:
            ipython.events.unregister(event, callback)
        except ValueError:
            pass
    table = ipython.magics_manager.magics
    for kind in ("line", "cell"):
        if getattr(table[kind].get("glm"), "__self__", None) is magics:
            del table[kind]["glm"]
    registry = ipython.magics_manager.registry
    if registry.get(type(magics).__name__) is magics:
        del registry[type(magics).__name__]
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)
    del ipython._zhipu_magic
