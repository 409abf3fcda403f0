"""Code back into the notebook: ``%%glm --code`` and ``%glm fix --code``.

The answer's first fenced code block (``--code all``: every block, joined by a blank line) becomes a
new cell below, not run, through IPython's ``set_next_input(..., replace=False)`` (the mechanism of
jupyter-ai's ``-f code``). Only code goes there: the fences and the prose around them stay out.
"""

from __future__ import annotations

import re
from typing import Any

ASK = "\n\n(Answer with code: put it in a fenced code block.)"
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n`]*\n(.*?)^[ \t]*\1[ \t]*$", re.S | re.M)


def ask(prompt: str) -> str:
    """The prompt with the request for a fenced code block (what ``--dry-run`` shows too)."""
    return prompt + ASK


def code_blocks(text: str) -> list[str]:
    """The contents of the fenced code blocks of a Markdown answer, in order (fences left out)."""
    return [match.group(2).rstrip("\n") for match in _FENCE.finditer(text or "")]


def put_code(magics: Any, text: str, which: str = "first") -> str | None:
    """Put the first block (or ``all`` of them) into a new cell below; the code, or ``None`` when the
    answer holds no code block (then a one-line note says so)."""
    from . import render  # the display layer, with the first cell

    blocks = code_blocks(text)
    if not blocks:
        render.show(render.text_bundle("note: the answer has no code block, so no cell was added (--code)"))
        return None
    code = "\n\n".join(blocks) if which == "all" else blocks[0]
    shell = getattr(magics, "shell", None)
    if shell is not None:
        shell.set_next_input(code, replace=False)
    return code
