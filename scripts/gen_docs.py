"""Write the ``%glm`` subcommand tables in README.md and docs/architecture.md from the registry.

.venv/bin/python scripts/gen_docs.py          # rewrite the tables
.venv/bin/python scripts/gen_docs.py --check  # exit 1 if a table is out of date (the tests do this)
"""

from __future__ import annotations

import sys
from pathlib import Path

from zhipu_magic.notebook.commands import listing

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "docs/architecture.md")
BEGIN = "<!-- %glm subcommands: generated from the registry by scripts/gen_docs.py -->"
END = "<!-- end of generated subcommands -->"


def table() -> str:
    rows = [f"| `{usage}` | {summary} |" for usage, summary in listing()]
    return "\n".join([BEGIN, "| command | what it does |", "|---|---|", *rows, END])


def updated(text: str) -> str:
    head, found, rest = text.partition(BEGIN)
    if not found:
        raise SystemExit(f"no {BEGIN!r} marker")
    _, found, tail = rest.partition(END)
    if not found:
        raise SystemExit(f"no {END!r} marker")
    return head + table() + tail


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
