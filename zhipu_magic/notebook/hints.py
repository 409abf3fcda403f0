"""What to do next, worded for a notebook user.

The HTTP client's errors carry neutral hints (they suit a script as well as a notebook). When an
error reaches a cell, :func:`for_notebook` swaps in the notebook's own next step: ``%glm login``
rather than "pass api_key=", ``%glm models`` rather than "the model list", ``_glm.text`` for the
kept partial answer.
"""

from __future__ import annotations

from ..api.errors import AuthenticationError, GLMError, MissingKeyError, NotFoundError, StreamError

LOGIN = "check ZHIPUAI_API_KEY or run %glm login (keys are region-bound: open.bigmodel.cn vs api.z.ai)"

#: By business code, where the notebook has a better next step than the neutral hint.
BY_CODE = {
    "1000": LOGIN,
    "1001": "no API key was sent; set ZHIPUAI_API_KEY or run %glm login",
    "1002": LOGIN,
    "1004": LOGIN,
    "1005": LOGIN,
    "1211": "run %glm models to see the model names",
    "1212": "this model does not support this call (stream / async); pick another model (%glm models)",
    "1311": "your plan does not include this model; pick another (%glm models)",
}

#: By class, for errors whose hint is still their class's neutral default (most specific first).
BY_CLASS: tuple[tuple[type[GLMError], str], ...] = (
    (MissingKeyError, "set ZHIPUAI_API_KEY (or ZAI_API_KEY) or run %glm login"),
    (AuthenticationError, LOGIN),
    (NotFoundError, "check the task id (%glm tasks) or the endpoint path"),
    (StreamError, "the stream broke; the text received so far is kept (_glm.text, or the error's .partial)"),
)


def notebook_hint(err: GLMError) -> str:
    """The hint a notebook user should see for ``err``."""
    if err.code in BY_CODE:
        return BY_CODE[err.code]
    for cls, hint in BY_CLASS:
        if isinstance(err, cls) and err.hint == cls.default_hint:
            return hint
    return err.hint


def for_notebook(err: BaseException) -> BaseException:
    """Reword ``err``'s hint for the notebook, in place; other exceptions pass through untouched."""
    if isinstance(err, GLMError) and not getattr(err, "_notebook", False):
        err.hint = notebook_hint(err)
        err._notebook = True  # type: ignore[attr-defined]
    return err


def quiet_interrupt(exc: BaseException, line: str) -> BaseException:
    """Make an interrupt show as one line instead of a page of socket frames.

    The cell still fails with ``KeyboardInterrupt`` (so Run All stops there); IPython and ipykernel
    show ``_render_traceback_`` instead of the traceback, and the partial answer above stays.
    """
    exc._render_traceback_ = lambda: [f"KeyboardInterrupt: {line}"]  # type: ignore[attr-defined]
    return exc


class AnswerNotJSON(ValueError):
    """``--json`` got an answer that does not parse; shown as one line (the text is kept)."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]
