"""``%glm fix [N]``: explain the last error of this kernel (or cell N's) and propose a fix.

The failing cell's source, the exception and the traceback trimmed of library frames
(:mod:`..cell_errors`) go to the model as one ``%%glm`` cell would, so the answer streams the same way
(``-m``, ``_glm``, the call log). ``--code`` puts the fixed cell below (:mod:`..code_back`).
"""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.error import UsageError

from ..cell_errors import error_text, find
from .registry import arg, command

ASK = (
    "This notebook cell failed. Explain the cause in a few sentences, then give the whole corrected "
    "cell in one ```python code block.\n\n"
)


@command(
    "fix",
    "explain the last error of this kernel and propose a fix (N: the error of cell N); --code puts the "
    "fixed cell below",
    arg("number", nargs="?", type=int, metavar="N"),
    arg("--code", action="store_true", help="put the corrected cell into a new cell below (not run)"),
    arg("-m", "--model", metavar="MODEL", help="model name (default: GLMMagics.model)"),
)
def fix(magics: Any, args: Any) -> None:
    found = find(magics.shell, -1 if args.number is None else args.number)
    if found is None:
        which = (
            "no cell has raised an error yet"
            if args.number is None
            else f"cell {args.number} raised no error"
        )
        raise UsageError(f"nothing to fix: {which} (since %load_ext zhipu_magic)")
    prompt = ASK + error_text(found)
    line = (["--code"] if args.code else []) + (["-m", args.model] if args.model else [])
    from .. import cell_flow  # the cell machinery loads with the first use, not %load_ext

    interpolate = magics.interpolate
    magics.interpolate = False  # the source and the traceback go as they are: no {name} inside them
    try:
        cell_flow.run(magics, shlex.join(line), prompt)
    finally:
        magics.interpolate = interpolate
