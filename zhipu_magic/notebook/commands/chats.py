"""``%glm history``, ``reset``, ``chat``: the named conversations ``%%glm -c NAME`` continues."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from ...core.conversation import conversations
from .. import render
from .registry import arg, command


@command("history", "show a conversation (all of them without NAME)", arg("name", nargs="?", metavar="NAME"))
def history(magics: Any, args: Any) -> None:
    names = [args.name] if args.name else conversations.names()
    if not names:
        render.show(render.text_bundle("No conversations yet (use %%glm -c NAME)."))
    for name in names:
        if name not in conversations:
            have = ", ".join(conversations.names()) or "none"
            raise UsageError(f"no conversation {name[:40]!r}; have: {have}")
        render.show(render.history_bundle(name, conversations.get(name).transcript()))


@command("reset", "clear a conversation (all of them without NAME)", arg("name", nargs="?", metavar="NAME"))
def reset(magics: Any, args: Any) -> None:
    if args.name:
        if args.name not in conversations:
            have = ", ".join(conversations.names()) or "none"
            raise UsageError(f"no conversation {args.name[:40]!r}; have: {have}")
        conversations.reset(args.name)
        render.show(render.text_bundle(f"Conversation {args.name!r} cleared."))
    else:
        conversations.reset()
        render.show(render.text_bundle("All conversations cleared."))


@command(
    "chat",
    "the chat panel: streams from a worker thread, Stop closes the connection at once",
    arg("name", nargs="?", metavar="NAME", default="default"),
)
def chat(magics: Any, args: Any) -> None:
    magics.show_panel("chat_panel", args.name)
