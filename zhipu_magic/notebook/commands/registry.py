"""The ``%glm`` subcommand registry: a new subcommand is one decorated function.

Each subcommand declares its summary and its arguments (argparse, through IPython's
``MagicArgumentParser``, so a mistake is a one-line ``UsageError``); ``%glm help``, ``%%glm?`` and
the docs are generated from this table, so none of them can go stale. Handlers get the magics
object (its public methods: ``connect``, ``bind``, ``count_usage``, ``key``...) and the parsed
arguments.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser
from IPython.utils.process import arg_split

from ..options import refuse_keys

Handler = Callable[[Any, Any], None]
Argument = tuple[tuple[str, ...], dict[str, Any]]


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    parser: MagicArgumentParser
    run: Handler

    @property
    def usage(self) -> str:
        """``wait ID [-o NAME]``: the name and its arguments, from the parser."""
        parts = [self.name]
        for action in self.parser._actions:  # argparse keeps no public list of them
            if action.help == argparse.SUPPRESS:
                continue
            meta = action.metavar or (action.dest.upper() if action.option_strings else action.dest)
            if action.option_strings:
                flag = action.option_strings[0]
                parts.append(f"[{flag}]" if action.nargs == 0 else f"[{flag} {meta}]")
            elif action.nargs in ("*", "?"):
                parts.append(f"[{meta}]" if action.nargs == "?" else f"[{meta} ...]")
            else:
                parts.append(str(meta))
        return " ".join(parts)


COMMANDS: dict[str, Command] = {}


def arg(*flags: str, **options: Any) -> Argument:
    """One argument of a subcommand, as ``ArgumentParser.add_argument`` takes it."""
    return flags, options


def command(
    name: str, summary: str, *arguments: tuple[tuple[str, ...], dict[str, Any]]
) -> Callable[[Handler], Handler]:
    """Register ``%glm NAME`` with its one-line summary and its arguments."""

    def register(handler: Handler) -> Handler:
        parser = MagicArgumentParser(prog=f"%glm {name}", description=summary)
        for flags, options in arguments:
            parser.add_argument(*flags, **options)
        COMMANDS[name] = Command(name, summary, parser, handler)
        return handler

    return register


def dispatch(magics: Any, line: str) -> None:
    """Run ``%glm LINE``: the first word names the subcommand (``help`` when there is none)."""
    argv = arg_split(line, posix=True, strict=False)
    refuse_keys(argv)
    name, rest = (argv[0].lower(), argv[1:]) if argv else ("help", [])
    found = COMMANDS.get(name)
    if found is None:
        close = difflib.get_close_matches(name, COMMANDS, n=1, cutoff=0.7)
        meant = f"did you mean %glm {close[0]}? " if close else ""
        raise UsageError(
            f"unknown subcommand {name[:40]!r}: {meant}(%glm help lists them); "
            "to ask a model, put %%glm alone on the first line of a cell and the prompt below it"
        )
    found.run(magics, _parse(found, rest))


def _parse(found: Command, rest: list[str]) -> Any:
    """The arguments, or one line naming the problem and the usage; never echoes what was typed."""
    try:
        return found.parser.parse_args(rest)
    except UsageError as err:
        problem = str(err)
        if problem.startswith("unrecognized arguments"):
            problem = "unexpected argument"
        raise UsageError(f"{problem}: use %glm {found.usage}") from None


def listing() -> list[tuple[str, str]]:
    """``(usage, summary)`` for every subcommand: ``help`` first, then by name."""
    ordered = sorted(COMMANDS.values(), key=lambda c: (c.name != "help", c.name))
    return [(f"%glm {c.usage}", c.summary) for c in ordered]
