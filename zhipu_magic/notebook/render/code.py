"""Code blocks in answers: coloured by Pygments token type (Pygments comes with IPython) and set off
like JupyterLab's own code cells.

Only the lexer is used, never a formatter: every piece of code goes through the caller's ``escape``
and the only markup is our own ``<span style="color:...">``, so the output stays inert. Colours and
the block's look use JupyterLab's CSS variables (light and dark themes alike) with light fallbacks
elsewhere, inline, so the HTML is self-contained in cells, widget panels and saved notebooks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any


def themed(prop: str, variable: str, fallback: str) -> str:
    """``prop`` from a JupyterLab theme variable, after a plain fallback: an untrusted notebook's
    sanitizer drops any declaration with ``var()`` but keeps the plain one before it."""
    return f"{prop}:{fallback};{prop}:var({variable},{fallback})"


CODE_STYLE = ";".join(
    [
        themed("background", "--jp-cell-editor-background", "#f5f5f5"),
        "border:1px solid #e0e0e0",
        themed("border-color", "--jp-cell-editor-border-color", "#e0e0e0"),
        "border-radius:4px;padding:6px 8px;overflow-x:auto;line-height:1.35",
        themed("font-family", "--jp-code-font-family", "SFMono-Regular,Menlo,Consolas,monospace"),
        themed("font-size", "--jp-code-font-size", "13px"),
        themed("color", "--jp-content-font-color1", "inherit"),
    ]
)
_TOKEN_COLOURS = (  # (Pygments token type, its CSS); the first that contains the token wins
    ("Comment", themed("color", "--jp-mirror-editor-comment-color", "#408080") + ";font-style:italic"),
    ("Keyword", themed("color", "--jp-mirror-editor-keyword-color", "#008000") + ";font-weight:bold"),
    ("Operator.Word", themed("color", "--jp-mirror-editor-keyword-color", "#008000") + ";font-weight:bold"),
    ("Literal.String", themed("color", "--jp-mirror-editor-string-color", "#ba2121")),
    ("Literal.Number", themed("color", "--jp-mirror-editor-number-color", "#080")),
    ("Name.Builtin", themed("color", "--jp-mirror-editor-builtin-color", "#008000")),
    ("Name.Function", themed("color", "--jp-mirror-editor-def-color", "#00f")),
    ("Name.Class", themed("color", "--jp-mirror-editor-def-color", "#00f")),
    ("Name.Decorator", themed("color", "--jp-mirror-editor-meta-color", "#aa22ff")),
    ("Operator", themed("color", "--jp-mirror-editor-operator-color", "#aa22ff")),
)
MAX_HIGHLIGHT_CHARS = 100_000  # longer code is shown plain


@lru_cache(maxsize=32)
def _lexer(lang: str) -> Any:
    try:
        from pygments.lexers import get_lexer_by_name

        return get_lexer_by_name(lang, stripnl=False, ensurenl=False)
    except Exception:  # noqa: BLE001 - unknown language or no Pygments: plain escaped text
        return None


@lru_cache(maxsize=1)
def _colours() -> tuple[tuple[Any, str], ...]:
    from pygments import token

    def ttype(path: str) -> Any:
        t = token.Token
        for part in path.split("."):
            t = getattr(t, part)
        return t

    return tuple((ttype(path), colour) for path, colour in _TOKEN_COLOURS)


def highlight_code(code: str, lang: str, escape: Callable[[str], str]) -> str:
    """Escaped HTML for the inside of ``<pre><code>``: spans coloured by token type when Pygments
    knows ``lang``. Every piece of the code goes through :func:`escape`; only our spans are markup."""
    lexer = _lexer(lang.lower()) if lang and len(code) <= MAX_HIGHLIGHT_CHARS else None
    if lexer is None:
        return escape(code)
    out = []
    for ttype, value in lexer.get_tokens(code):
        colour = next((c for t, c in _colours() if ttype in t), None)
        out.append(f'<span style="{colour}">{escape(value)}</span>' if colour else escape(value))
    return "".join(out)


__all__ = ["CODE_STYLE", "highlight_code"]
