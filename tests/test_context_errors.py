"""Issue 13: the kernel's errors and code back into the notebook, in a real IPython shell over real
HTTP: ``%glm fix [N]``, ``{Err[-1]}`` / ``{Err[n]}``, ``%%glm --code`` and ``%glm fix --code``."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from zhipu_magic.notebook.cell_errors import CellError, error_text, trimmed_traceback
from zhipu_magic.notebook.code_back import code_blocks

FAILING = "total = 10\ncount = 0\naverage = total / count  # {not a placeholder}\n"


def last_prompt(srv) -> str:
    content = [r.body for r in srv.requests if r.body is not None][-1]["messages"][-1]["content"]
    assert isinstance(content, str)
    return content


def fail_a_cell(ip) -> int:
    result = ip.run_cell(FAILING, store_history=True)
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    return result.execution_count


def test_fix_sends_the_source_and_the_exception(ip, api):
    number = fail_a_cell(ip)
    ip.run_cell("x = 1", store_history=True)  # a later cell that works does not hide the error
    ip.run_line_magic("glm", "fix")
    sent = last_prompt(api)
    assert f"The cell In [{number}]:" in sent
    assert FAILING.strip() in sent  # the source exactly, braces and all (nothing interpolated)
    assert "raised ZeroDivisionError: division by zero" in sent
    assert "average = total / count" in sent.split("Traceback")[1]  # the failing line in the trace
    assert "site-packages" not in sent and "interactiveshell" not in sent  # library frames left out
    assert ip.user_ns["_glm"].text  # the answer arrived like any other
    assert ip.user_ns["_glm"].model == "glm-4-flash"


def test_fix_n_and_err_placeholders(ip, api):
    number = fail_a_cell(ip)
    ip.run_cell("int('seven')", store_history=True)
    ip.run_line_magic("glm", f"fix {number}")
    assert "ZeroDivisionError" in last_prompt(api) and "ValueError" not in last_prompt(api)
    ip.run_cell_magic("glm", "", "Why? {Err[-1]} and before that {Err[-2]}; also {Err[" + str(number) + "]}")
    sent = last_prompt(api)
    assert "raised ValueError: invalid literal for int()" in sent
    assert sent.count("ZeroDivisionError: division by zero") == 2
    with pytest.raises(UsageError, match="cell 99999 raised no error"):
        ip.run_line_magic("glm", "fix 99999")


def test_code_puts_only_code_into_the_next_input(ip, api):
    ip.run_cell_magic("glm", "--code", "Write a Python function that reverses a string.")
    sent = last_prompt(api)
    assert sent.endswith("(Answer with code: put it in a fenced code block.)")
    answer = ip.user_ns["_glm"].text
    code = ip.rl_next_input
    assert code and code == code_blocks(answer)[0]
    assert "```" not in code and "Here is" not in code and code.startswith("def ")
    compile(code, "<next input>", "exec")  # only code: it parses
    assert ip.rec.final()[-1]["text/plain"].startswith("## Code for")  # the answer still shows


def test_fix_code_puts_the_fixed_cell_below(ip, api):
    fail_a_cell(ip)
    ip.run_line_magic("glm", "fix --code")
    assert ip.rl_next_input and "```" not in ip.rl_next_input
    compile(ip.rl_next_input, "<next input>", "exec")


def test_fix_offline_names_the_error_and_guards_the_division(ip, api):
    """Without a model, the local server still answers about what it was sent: the exception, the
    failing line, and the corrected cell (what --code puts below)."""
    number = fail_a_cell(ip)
    ip.run_line_magic("glm", "fix")
    answer = ip.user_ns["_glm"].text
    assert answer.startswith("## 🔧 ZeroDivisionError: division by zero")
    assert (
        f"In [{number}], line 3:" in answer and "`average = total / count  # {not a placeholder}`" in answer
    )
    assert "the divisor `count` is 0" in answer
    shown = ip.rec.final()[-1]["text/plain"]
    assert "ZeroDivisionError: division by zero" in shown and "if count != 0:" in shown
    ip.run_line_magic("glm", "fix --code")
    fixed = ip.rl_next_input
    assert fixed == (
        "total = 10\ncount = 0\nif count != 0:\n    average = total / count  # {not a placeholder}\nelse:\n"
        '    average = float("nan")  # count is 0: nothing to divide by'
    )
    namespace: dict = {}
    exec(compile(fixed, "<next input>", "exec"), namespace)  # the fixed cell runs
    assert namespace["average"] != namespace["average"]  # NaN: nothing to divide by


def test_no_error_yet_is_one_line(shell):
    shell.run_line_magic("load_ext", "zhipu_magic")
    try:
        from zhipu_magic.notebook.cell_errors import find

        if find(shell) is None:
            with pytest.raises(UsageError, match="no cell has raised an error yet"):
                shell.run_line_magic("glm", "fix")
    finally:
        shell.run_line_magic("unload_ext", "zhipu_magic")


def test_code_blocks_and_the_budget():
    text = "Intro\n```python\na = 1\n```\nmiddle\n~~~\nb = 2\n~~~\n````\nc = '```'\n````\n"
    assert code_blocks(text) == ["a = 1", "b = 2", "c = '```'"]
    assert code_blocks("no code here") == []
    try:
        exec(compile("def f():\n    return 1 / 0\nf()\n", "<cell>", "exec"), {})
    except ZeroDivisionError as err:
        error = err
    lines = trimmed_traceback(error)
    assert any("return 1 / 0" in line for line in lines)
    long = CellError(3, "x = 1\n" * 5_000, error)
    text = error_text(long, budget=1_000)
    assert len(text) <= 1_000 and "# ... cut:" in text and "ZeroDivisionError" in text
