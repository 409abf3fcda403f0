"""Write the ``%glm`` subcommand tables (README.md, docs/architecture.md) from the registry, and the
``%%glm`` options table (README.md) from the magic's own parser.

.venv/bin/python scripts/gen_docs.py          # rewrite the tables
.venv/bin/python scripts/gen_docs.py --check  # exit 1 if a table is out of date (the tests do this)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from zhipu_magic.notebook.commands import listing

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "docs/architecture.md")
BEGIN = "<!-- %glm subcommands: generated from the registry by scripts/gen_docs.py -->"
END = "<!-- end of generated subcommands -->"
OPTIONS_BEGIN = "<!-- %%glm options: generated from the magic's parser by scripts/gen_docs.py -->"
OPTIONS_END = "<!-- end of generated options -->"


def table() -> str:
    rows = [f"| `{usage}` | {summary} |" for usage, summary in listing()]
    return "\n".join([BEGIN, "| command | what it does |", "|---|---|", *rows, END])


def options_table() -> str:
    """One row per ``%%glm`` option, straight from the argparse actions the magic parses with."""
    from zhipu_magic.notebook.magics import GLMMagics

    rows = []
    for action in GLMMagics.glm.parser._actions:  # argparse keeps no public list of them
        if not action.option_strings or action.help in (None, argparse.SUPPRESS):
            continue
        meta = "" if action.nargs == 0 else f" {action.metavar or action.dest.upper()}"
        flags = ", ".join(f"`{flag}{meta}`" for flag in action.option_strings)
        rows.append(f"| {flags} | {action.help} |")
    return "\n".join([OPTIONS_BEGIN, "| option | meaning |", "|---|---|", *rows, OPTIONS_END])


def replaced(text: str, begin: str, end: str, new: str) -> str:
    head, found, rest = text.partition(begin)
    if not found:
        return text
    _, found, tail = rest.partition(end)
    if not found:
        raise SystemExit(f"no {end!r} marker after {begin!r}")
    return head + new + tail


def updated(text: str) -> str:
    if BEGIN not in text:
        raise SystemExit(f"no {BEGIN!r} marker")
    text = replaced(text, BEGIN, END, table())
    return replaced(text, OPTIONS_BEGIN, OPTIONS_END, options_table())


def main(argv: list[str]) -> int:
    stale = []
    for name in DOCS:
        path = ROOT / name
        text = path.read_text()
        new = updated(text)
        if new != text:
            stale.append(name)
            if "--check" not in argv:
                path.write_text(new)
    if stale and "--check" in argv:
        print(f"out of date: {', '.join(stale)} (run scripts/gen_docs.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
