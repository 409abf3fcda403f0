"""An error in a prompt (``%glm fix``, ``{Err[-1]}``, a pasted traceback), answered by rule.

The prompt ``%glm fix`` sends (:mod:`zhipu_magic.notebook.cell_errors`): ``The cell In [N]:``, the
source in a python code block, ``raised KIND: MESSAGE``, and the trimmed traceback whose ``File "the
cell", line L`` frames carry the failing line. The answer names the exception, its message and the
failing line, and proposes a fix for common cases: a guarded division (``ZeroDivisionError``), the
undefined name (``NameError``), the missing key (``KeyError``), else a "check ..." line. Its first
code block is the whole corrected cell (``%glm fix --code`` puts it below), so it is built from the
source received, and it parses.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass

_RAISED = re.compile(r"^raised (.*)$", re.M)
_TRACEBACK = "Traceback (most recent call last"
_NAME = r"[A-Za-z_][\w.]*"
_KIND_LINE = re.compile(rf"^({_NAME})(?::[ \t]*(.*))?$")
_LAST_LINE = re.compile(
    rf"^({_NAME}(?:Error|Exception|Warning|Exit|Interrupt|Iteration))(?::[ \t]*(.*))?$", re.M
)
_SOURCE = re.compile(r"^The cell(?: In \[(\d+)\])?:\n```python\n(.*?)\n```", re.S | re.M)
_FRAME = re.compile(
    r'^[ \t]*File "([^"\n]*)", line (\d+), in ([^\n]+)\n(?:[ \t]*(?!File "|\.\.\. \()(\S[^\n]*))?', re.M
)
CLOSING = (
    "_Offline demo · 离线演示 🔧: a rule for common errors applied to what was sent, not a model's reading._"
)
_CHECKS = {
    "TypeError": "check the types of the values on that line (`type(x)` for each)",
    "ValueError": "check the value passed on that line; print it just before",
    "IndexError": "check the length before indexing (`len(...)`)",
    "AttributeError": "check the type of the object and its attributes (`type(x)`, `dir(x)`)",
    "ModuleNotFoundError": "check the package is installed in this kernel (`%pip install NAME`)",
    "ImportError": "check the package's version and what it exports",
    "FileNotFoundError": "check the path exists and the working directory (`os.getcwd()`)",
}


@dataclass
class Failure:
    """What the prompt says failed."""

    kind: str
    message: str
    source: str = ""  # the cell as typed
    cell: str = ""  # its execution count, when given
    line: str = ""  # the failing line (innermost frame of the cell, else the innermost frame)
    lineno: int = 0


def error_in(prompt: str) -> Failure | None:
    """The error a prompt carries (``raised ...`` from ``%glm fix`` / ``{Err[n]}``, or a traceback)."""
    raised = _RAISED.search(prompt)
    trace_at = prompt.find(_TRACEBACK)
    if raised:
        end = prompt.find(_TRACEBACK, raised.start())
        section = prompt[raised.start() + 7 : end if end >= 0 else len(prompt)].strip()
        first = _KIND_LINE.match(section.splitlines()[0]) if section else None
        context = trace_at >= 0 or _SOURCE.search(prompt) is not None  # %glm fix's shape, not prose
        found = first if first and (context or _LAST_LINE.match(first.group(0))) else None
        found = found or next(reversed(list(_LAST_LINE.finditer(section))), None)
    elif trace_at >= 0:
        found = next(reversed(list(_LAST_LINE.finditer(prompt[trace_at:]))), None)
    else:
        return None
    if found is None:
        return None
    failure = Failure(found.group(1), (found.group(2) or "").strip())
    if source := _SOURCE.search(prompt):
        failure.cell, failure.source = source.group(1) or "", source.group(2)
    frames = list(_FRAME.finditer(prompt[max(trace_at, 0) :])) if trace_at >= 0 else []
    typed = {ln.strip() for ln in failure.source.splitlines() if ln.strip()}
    in_source = [f for f in frames if (f.group(4) or "").strip() in typed]  # ipykernel names it by a path
    cell_frames = [f for f in frames if f.group(1) == "the cell" or f.group(1).startswith("<")]
    frame = (in_source or cell_frames or frames or [None])[-1]
    if frame is not None and frame.group(4):
        failure.line, failure.lineno = frame.group(4).strip(), int(frame.group(2))
    return failure


def _code(text: str) -> str:
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def fix_answer(failure: Failure) -> str:
    """Name the exception, its message and the failing line; the cause and a fix; the fixed cell."""
    said = f"{failure.kind}: {failure.message}" if failure.message else failure.kind
    where = f"In [{failure.cell}]" if failure.cell else "The cell"
    if failure.line:
        what = f"{where}, line {failure.lineno}: {_code(failure.line)} raised {_code(said)}."
    else:
        what = f"{where} raised {_code(said)}."
    cause, fixed = _proposal(failure)
    parts = [f"## 🔧 {said[:80]} · 修复建议", f"**What failed:** {what}", cause]
    if fixed:
        parts.append(f"```python\n{fixed}\n```")
    return "\n\n".join([*parts, CLOSING])


def _proposal(failure: Failure) -> tuple[str, str]:
    """(the cause and the fix in words, the corrected cell or ``""``)."""
    line = failure.line
    if failure.kind == "ZeroDivisionError" and (guarded := _guard_division(line)):
        block, divisors = guarded
        named = " and ".join(_code(d) for d in divisors)
        cause = (
            f"**Cause:** the divisor {named} is 0 on that line. **Fix:** guard the division: check that "
            f"{named} is non-zero before dividing."
        )
        return cause, _in_cell(failure, block)
    if failure.kind == "NameError" and (m := re.search(r"name '(\w+)' is not defined", failure.message)):
        return _name_fix(failure, m.group(1))
    if failure.kind == "KeyError" and failure.message:
        return _key_fix(failure, failure.message)
    check = _CHECKS.get(
        failure.kind.rsplit(".", 1)[-1], "check the values used on that line; print them first"
    )
    cause = f"**Cause:** {failure.kind} on {'that line' if line else 'this cell'}. **Fix:** {check}."
    return cause, _in_cell(failure, [f"# {check}", line]) if line else ""


def _guard_division(line: str) -> tuple[list[str], list[str]] | None:
    """The failing line guarded by ``if DIVISOR != 0:`` (lines, unindented), and the divisors."""
    try:
        tree = ast.parse(line.strip())
    except SyntaxError:
        return None
    if len(tree.body) != 1:
        return None
    stmt = tree.body[0]
    divisions = [
        node.right if isinstance(node, ast.BinOp) else node.value
        for node in ast.walk(stmt)
        if isinstance(node, ast.BinOp | ast.AugAssign)
        and isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod)
    ]
    divisors = sorted(
        {ast.unparse(d): d for d in divisions if not isinstance(d, ast.Constant)}.items(),
        key=lambda item: (item[1].lineno, item[1].col_offset),
    )
    if not divisors:
        return None
    names = [text for text, _ in divisors]
    guard = " and ".join(f"{d} != 0" for d in names)
    targets = stmt.targets if isinstance(stmt, ast.Assign) else []
    if targets and all(isinstance(t, ast.Name | ast.Attribute | ast.Subscript) for t in targets):
        other = (
            " = ".join(ast.unparse(t) for t in targets)
            + f' = float("nan")  # {names[0]} is 0: nothing to divide by'
        )
    else:
        other = f"print({names[0] + ' is 0: nothing to divide by'!r})"
    return [f"if {guard}:", f"    {line.strip()}", "else:", f"    {other}"], names


def _name_fix(failure: Failure, name: str) -> tuple[str, str]:
    meant = re.search(r"Did you mean:? '(\w+)'", failure.message)
    words = set(re.findall(r"\b[A-Za-z_]\w*\b", failure.source)) - {name}
    close = (
        meant.group(1) if meant else next(iter(difflib.get_close_matches(name, sorted(words), 1, 0.8)), "")
    )
    if close and failure.line:
        fixed = re.sub(rf"\b{re.escape(name)}\b", close, failure.line.strip())
        cause = (
            f"**Cause:** {_code(name)} is not defined in this kernel. **Fix:** it looks like a typo for "
            f"{_code(close)}; use that name (or define {_code(name)} first)."
        )
        return cause, _in_cell(failure, [fixed])
    cause = (
        f"**Cause:** {_code(name)} is not defined in this kernel: a typo, or the cell that defines it has "
        f"not run since the kernel started. **Fix:** check the spelling, or define {_code(name)} first."
    )
    line = failure.line.strip()
    return cause, _in_cell(
        failure, [f"{name} = None  # check: give {name} its value first", line]
    ) if line else ""


def _key_fix(failure: Failure, key: str) -> tuple[str, str]:
    line = failure.line.strip()
    try:
        literal = ast.literal_eval(key)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        literal = None
    cause = (
        f"**Cause:** the key {_code(key)} is missing from the mapping (or the DataFrame's columns) on that "
        f"line. **Fix:** check the key exists (its spelling, its case) before using it."
    )
    quoted = re.escape(key.strip())
    m = re.search(rf"([A-Za-z_][\w.]*)\[\s*{quoted}\s*\]", line) if line and literal is not None else None
    if m is None:
        return cause, _in_cell(failure, [f"# check: is {key} among the keys?", line]) if line else ""
    owner = m.group(1)
    said = f"{key} is not a key of {owner}; it has:"
    block = [f"if {key} in {owner}:", f"    {line}", "else:", f"    print({said!r}, list({owner}.keys()))"]
    return cause, _in_cell(failure, block)


def _in_cell(failure: Failure, block: list[str]) -> str:
    """The whole cell with the failing line replaced by ``block`` (indented like it), else ``block``."""
    lines = failure.source.splitlines()
    target = failure.line.strip()
    at = (
        failure.lineno - 1
        if 0 < failure.lineno <= len(lines) and lines[failure.lineno - 1].strip() == target
        else -1
    )
    if at < 0:
        at = next((i for i, ln in enumerate(lines) if target and ln.strip() == target), -1)
    if at < 0:
        return "\n".join(block)
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    return "\n".join([*lines[:at], *(indent + b for b in block), *lines[at + 1 :]])
