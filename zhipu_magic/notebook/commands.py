"""``%glm SUBCOMMAND``: the line forms of the magic (config, login, models, history, panels...).

A mixin of :class:`~zhipu_magic.magics.GLMMagics`, kept apart so ``magics.py`` holds the ``%%glm``
cell flow alone. Every output goes through :mod:`.render`; a mistake is a one-line ``UsageError``.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.utils.process import arg_split
from traitlets import TraitError

from ..api.config import Secret
from ..core.backend import backend
from ..core.conversation import conversations
from ..core.reply import Reply
from . import render

KEY_OPTIONS = ("--api-key", "--api_key", "--apikey", "--key", "--token", "--secret", "-k")
KEY_REFUSED = (
    "API keys are not accepted as options (they would be saved in the notebook and its history): "
    "set ZHIPUAI_API_KEY in the environment or run %glm login"
)
SUBCOMMANDS = {
    "help": "this list",
    "config": "show settings; `%glm config model=glm-4-air temperature=0.3` sets defaults",
    "login": "enter an API key for this session (hidden input; never saved)",
    "logout": "forget the key entered with %glm login",
    "models [FILTER]": "models and what each supports (filter: thinking, vision, video, free, a name part)",
    "usage": "tokens used in this session, per model",
    "history [NAME]": "show a conversation (all of them without NAME)",
    "reset [NAME]": "clear a conversation (all of them without NAME)",
    "result ID": "fetch an async task submitted with %%glm --async (once)",
    "wait ID [-o NAME]": "poll an async task until it is done, then show it (resumes an interrupted --wait)",
    "chat [NAME]": "chat panel widget",
    "tasks": "async task panel widget",
}


def is_key_option(token: str) -> bool:
    head = token.split("=", 1)[0].lower()
    return head in KEY_OPTIONS or (token.startswith("-k") and not token.startswith("--"))


class Subcommands:
    """``%glm help``, ``config``, ``login``, ``models``, ``usage``, ``history``, ``reset``, ``result``,
    ``chat``, ``tasks``: one ``_cmd_<name>`` method each, dispatched by :meth:`_subcommand`."""

    def _subcommand(self, line: str) -> None:
        argv = arg_split(line, posix=True, strict=False)
        if any(is_key_option(tok) for tok in argv):
            raise UsageError(KEY_REFUSED)
        name, rest = (argv[0].lower(), argv[1:]) if argv else ("help", [])
        handler: Callable[[list[str]], None] | None = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            raise UsageError(f"unknown subcommand {name[:40]!r}: try %glm help (a prompt needs %%glm)")
        handler(rest)

    def _cmd_help(self, rest: list[str]) -> None:
        rows = [[f"%glm {cmd}", what] for cmd, what in SUBCOMMANDS.items()]
        rows.insert(0, ["%%glm [options]", "ask a model; the cell is the message (options: %%glm?)"])
        render.show(render.table_bundle(["command", "what it does"], rows))

    def _cmd_config(self, rest: list[str]) -> None:
        names = [n for n in self.trait_names(config=True)]
        for item in rest:
            key, sep, value = item.partition("=")
            key = key.strip().replace("-", "_")
            if not sep:
                raise UsageError("use %glm config NAME=VALUE ...")
            if key.lower() in ("api_key", "apikey", "key", "token"):
                raise UsageError(KEY_REFUSED)
            if key not in names:
                raise UsageError(f"unknown setting {key[:40]!r}; settings: {', '.join(sorted(names))}")
            trait = self.traits()[key]
            text = value.strip()
            try:
                parsed = (
                    None if trait.allow_none and text.lower() in ("none", "") else trait.from_string(text)
                )
                setattr(self, key, parsed)
            except (TraitError, ValueError) as err:
                raise UsageError(f"{key}: {err}") from None
        rows = [[n, repr(getattr(self, n))] for n in sorted(names)]
        key = self._key()
        source = backend.key_source()
        rows.append(["api key", f"set ({source})" if key else "not set"])
        base = self._configured_base_url()
        answers = base if key else ("(needs a key)" if base else "built-in local server")
        rows.append(["backend", answers or ""])
        render.show(render.table_bundle(["setting", "value"], rows, title="GLMMagics settings"))

    def _cmd_login(self, rest: list[str]) -> None:
        if rest:
            raise UsageError(KEY_REFUSED)
        no_stdin = "no stdin here (e.g. nbclient or a front end without input): set ZHIPUAI_API_KEY instead"
        kernel = getattr(self.shell, "kernel", None)
        if kernel is not None and not getattr(kernel, "_allow_stdin", True):
            raise UsageError(no_stdin)
        try:
            value = getpass.getpass("Zhipu API key (hidden): ")
        except (NotImplementedError, EOFError, OSError, RuntimeError):
            # ipykernel raises StdinNotImplementedError (a NotImplementedError) without stdin.
            raise UsageError(no_stdin) from None
        secret = Secret(value.strip())
        del value
        if not secret:
            raise UsageError("no key entered; nothing changed")
        backend.session_key = secret
        render.show(render.text_bundle("API key set for this session (kept in memory only, never saved)."))

    def _cmd_logout(self, rest: list[str]) -> None:
        backend.forget_key()
        render.show(render.text_bundle("Session key forgotten."))

    def _cmd_models(self, rest: list[str]) -> None:
        from ..api.models import MODELS

        def yes(flag: bool) -> str:
            return "yes" if flag else ""

        def wanted(m: Any) -> bool:
            """``%glm models thinking`` / ``free`` / ``video`` / ``chat`` / ``4.5``: a capability,
            a kind, or part of the name."""
            flags = {"stream": m.stream, "async": m.async_, "thinking": m.thinking != "no",
                     "vision": m.vision, "video": m.video, "free": m.free}  # fmt: skip
            return all(flags.get(q) or q == m.kind or q in m.name for q in (w.lower() for w in rest))

        rows = [
            [m.name, m.kind, yes(m.stream), yes(m.async_), "" if m.thinking == "no" else m.thinking,
             yes(m.vision), yes(m.video), yes(m.free), m.note]
            for m in MODELS.values() if wanted(m)
        ]  # fmt: skip
        if not rows:
            raise UsageError(f"no model matches {' '.join(rest)[:60]!r}; %glm models lists them all")
        headers = ["model", "kind", "stream", "async", "thinking", "vision", "video", "free", "note"]
        what = f" matching {' '.join(rest)!r}" if rest else ""
        render.show(render.table_bundle(headers, rows, title=f"{len(rows)} models{what}"))

    def _cmd_usage(self, rest: list[str]) -> None:
        if not self.usage:
            render.show(render.text_bundle("No requests yet in this session."))
            return
        rows = [
            [m, u["requests"], u["prompt"], u["completion"], u["reasoning"], u["total"]]
            for m, u in self.usage.items()
        ]
        render.show(
            render.table_bundle(
                ["model", "requests", "prompt", "completion", "reasoning", "total"],
                rows,
                title="Session usage",
            )
        )

    def _cmd_history(self, rest: list[str]) -> None:
        names = rest[:1] or conversations.names()
        if not names:
            render.show(render.text_bundle("No conversations yet (use %%glm -c NAME)."))
        for name in names:
            if name not in conversations:
                raise UsageError(
                    f"no conversation {name[:40]!r}; have: {', '.join(conversations.names()) or 'none'}"
                )
            render.show(render.history_bundle(name, conversations.get(name).messages()))

    def _cmd_reset(self, rest: list[str]) -> None:
        if rest:
            conversations.reset(rest[0])
            render.show(render.text_bundle(f"Conversation {rest[0]!r} cleared."))
        else:
            conversations.reset()
            render.show(render.text_bundle("All conversations cleared."))

    def _cmd_wait(self, rest: list[str]) -> None:
        output = None
        if len(rest) == 3 and rest[1] in ("-o", "--output") and rest[2].isidentifier():
            output = rest[2]
        elif len(rest) != 1:
            raise UsageError("use %glm wait TASK_ID [-o NAME]")
        from ..core.tasks.store import get_store

        store, task_id = get_store(), rest[0]
        client, local = self._backend()
        if store.get(task_id) is None:  # a task from elsewhere (another machine, the vendor console)
            first = client.result(task_id)  # an id the server does not know fails here, unrecorded
            kind = "video" if first.get("video_result") else "chat"
            store.record_submission(
                {"id": task_id, **first},
                kind=kind,
                model=first.get("model") or self.model,
                prompt="",
                base_url=client.base_url,
                local=local,
            )
            store.apply_result(task_id, first)
        self._wait(store, client, {"id": task_id}, output)

    def _cmd_result(self, rest: list[str]) -> None:
        if len(rest) != 1:
            raise UsageError("use %glm result TASK_ID")
        task_id = rest[0]
        client, local = self._backend()
        resp = client.result(task_id)
        try:
            from ..core.tasks.store import get_store

            get_store().apply_result(task_id, resp)
        except Exception:
            pass
        status = resp.get("task_status")
        if status == "SUCCESS":
            reply = Reply(resp.get("model") or self.model, [], local=local)
            reply.set_response(resp)
            reply.task_id = task_id
            if self.shell is not None:
                self.shell.user_ns["_glm"] = reply
            self._count_usage(reply)
            render.show(render.reply_bundle(reply, final=True))
        elif status == "FAIL":
            from ..api.errors import GLMError

            raise GLMError(f"task {task_id} failed", hint="submit it again (%%glm --async)")
        else:
            render.show(
                render.text_bundle(f"Task {task_id}: {status}. Run %glm result {task_id} again later.")
            )

    def _cmd_chat(self, rest: list[str]) -> None:
        self._show_panel(_widgets("chat_panel"), rest[0] if rest else "default")

    def _cmd_tasks(self, rest: list[str]) -> None:
        self._show_panel(_widgets("task_panel"))

    def _show_panel(self, factory: Callable[..., Any], *args: Any) -> None:
        """Hand the panels our client, so a %glm login key and the local server apply there too."""
        from ..api.errors import GLMError

        try:
            client = self._backend()[0]
        except GLMError:
            client = None  # the panel shows its own message about the missing key
        widget = factory(*args, client=client)
        if widget is not None:
            from IPython.display import display

            display(widget)


def _widgets(name: str) -> Callable[..., Any]:
    """Import a widget entry point lazily (ipywidgets is never imported by ``%load_ext``)."""
    try:
        from . import widgets
    except ImportError as err:
        raise UsageError(f"the widget panels are not available ({err})") from None
    func = getattr(widgets, name, None)
    if func is None:
        raise UsageError(f"the widget panels are not available yet (zhipu_magic.widgets.{name} missing)")
    return func


def show_submitted_task(task: dict[str, Any], client: Any = None) -> None:
    """Show a submitted async task: the live card (widgets), else its id and how to fetch it."""
    try:
        from .widgets import show_task
    except ImportError:
        show_task = None
    if show_task is not None and client is not None:
        show_task(task, client)
        return
    task_id = task.get("id", "?")
    status = task.get("task_status", "PROCESSING")
    render.show(
        render.text_bundle(f"Task {task_id} submitted ({status}). Fetch it with: %glm result {task_id}")
    )
