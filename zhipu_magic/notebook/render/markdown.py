"""Safe Markdown -> HTML for untrusted model text (markdown-it-py), and the HTML escaping it uses.

Raw HTML is escaped, never passed through; only ``http``/``https``/``mailto`` link targets survive
(others are dead text); images become plain links (never fetched: a remote image leaks data through
its URL); math (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``) is kept verbatim and escaped for the
front end's MathJax, and every other literal ``$`` is shielded so MathJax cannot pair it up.
Bare ``http(s)://`` URLs in text become the same safe links (``example.com`` without a scheme stays
text). ``\\href`` / ``\\url`` inside math follow the link policy too (a ``file:`` target is dropped,
the linked text kept). Fenced code is coloured by Pygments token type (escaped text in our own spans).
Past :data:`MAX_DEPTH` levels of nesting the rest of that block is shown as text with a marker:
markdown-it would silently drop it, and nothing the model said may vanish.
Pure text in, text out: no IPython here; :mod:`.bundles` builds the bundles from it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

_SAFE_SCHEME = re.compile(r"^(?:https?|mailto):", re.IGNORECASE)
_DOLLAR = '<span class="tex2jax_ignore">$</span>'  # a literal $ MathJax must not pair up
_SCHEME_TEXT = re.compile(r"(javascript|vbscript|data)(:)", re.IGNORECASE)


def escape(text: str) -> str:
    """HTML-escape text, quotes included (safe in element bodies and attribute values).

    ``=`` and the ``:`` of ``javascript:``-like schemes become character references too: the page
    shows the same text, and nothing downstream that scans the HTML (a sanitizer, a test, a proxy)
    ever sees ``onerror=`` or ``javascript:`` in it.
    """
    out = html.escape(text, quote=True).replace("=", "&#61;")
    return _SCHEME_TEXT.sub(r"\1&#58;", out) if ":" in out else out


def _safe_link(url: str) -> bool:
    # Allow-list, after markdown-it decoded entities and percent-encoded control characters, so
    # "JaVaScRiPt:", "&#106;avascript:" and "java\tscript:" all fail.
    return bool(_SAFE_SCHEME.match(url.strip()))


MAX_DEPTH = 16  # block nesting levels formatted; markdown-it drops everything at its own limit (20)
DEPTH_NOTE = "⚠ nested too deep to format; the rest is shown as text:"
_MATH_LINK = re.compile(r"\\(href|url)(?![A-Za-z])\s*")


def _math_links(tex: str) -> str:
    """``\\href{URL}`` / ``\\url{URL}`` with a target outside the link policy lose the target: the
    linked text stays, a bare ``\\url`` shows its address as text. Anything odd (no braces) goes."""
    out, pos = [], 0
    for m in _MATH_LINK.finditer(tex):
        if m.start() < pos:
            continue
        out.append(tex[pos : m.start()])
        url, end = _braced(tex, m.end())
        if url is not None and _safe_link(url):
            out.append(tex[m.start() : end])
        elif m.group(1) == "url" and url is not None:
            out.append("\\text{" + re.sub(r"[^A-Za-z0-9:/._-]", "", url) + "}")
        pos = end if url is not None else m.end()
    return "".join(out) + tex[pos:]


def _braced(tex: str, start: int) -> tuple[str | None, int]:
    """The ``{...}`` group at ``start`` (balanced) and where it ends; (None, start) when there is none."""
    if start >= len(tex) or tex[start] != "{":
        return None, start
    depth = 0
    for i in range(start, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[i], 0)
        if depth == 0:
            return tex[start + 1 : i], i + 1
    return None, start


def _too_deep(state: Any, start: int, end: int, silent: bool) -> bool:
    """Past :data:`MAX_DEPTH` the rest of the block becomes one text token (never silently lost)."""
    if silent or state.level < MAX_DEPTH:
        return False
    token = state.push("zm_too_deep", "pre", 0)
    token.block = True
    token.content = state.getLines(start, end, state.blkIndent, False)
    token.map = [start, end]
    state.line = end
    return True


_BARE_URL = re.compile(r"(?<![\w/@.:+-])https?://[^\s<>\"'`]+", re.IGNORECASE)


def _url_end(url: str) -> str:
    """Trailing punctuation is the sentence's, not the URL's (a ``)`` only when unbalanced)."""
    while url and url[-1] in ".,;:!?)]*_'\"。，、；：！？）」』":
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _bare_urls(state: Any) -> None:
    """Core rule: ``http(s)://`` URLs in plain text (not already in a link) become links."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        out, in_link = [], 0
        for tok in block.children:
            in_link += {"link_open": 1, "link_close": -1}.get(tok.type, 0)
            if tok.type == "text" and not in_link and "://" in tok.content:
                out.extend(_split_urls(state, tok))
            else:
                out.append(tok)
        block.children = out


def _split_urls(state: Any, tok: Any) -> list[Any]:
    from markdown_it.token import Token

    out, pos, text = [], 0, tok.content
    for m in _BARE_URL.finditer(text):
        url = _url_end(m.group(0))
        if len(url) <= len(m.group(0).split("://")[0]) + 3 or m.start() < pos:
            continue
        if m.start() > pos:
            out.append(Token("text", "", 0, content=text[pos : m.start()], level=tok.level))
        link = Token("link_open", "a", 1, level=tok.level, markup="linkify", info="auto")
        link.attrSet("href", state.md.normalizeLink(url))
        out += [link, Token("text", "", 0, content=url, level=tok.level + 1)]
        out.append(Token("link_close", "a", -1, level=tok.level, markup="linkify", info="auto"))
        pos = m.start() + len(url)
    if not out:
        return [tok]
    if pos < len(text):
        out.append(Token("text", "", 0, content=text[pos:], level=tok.level))
    return out


def _math_inline(state: Any, silent: bool) -> bool:
    """``$..$``, ``$$..$$``, ``\\(..\\)``, ``\\[..\\]`` inside a paragraph, kept verbatim."""
    src, pos, end = state.src, state.pos, state.posMax
    ch = src[pos]
    if ch == "$":
        if src.startswith("$$", pos):
            close = src.find("$$", pos + 2, end)
            if close < 0 or close == pos + 2:
                return False
            stop = close + 2
        else:
            # Pandoc's rule, so "$5 and $10" stays text: no space inside the delimiters and no
            # digit right after the closing one.
            if pos + 1 >= end or src[pos + 1].isspace():
                return False
            close = pos + 1
            while True:
                close = src.find("$", close, end)
                if close < 0:
                    return False
                if src[close - 1] == "\\":
                    close += 1
                    continue
                break
            if src[close - 1].isspace() or (close + 1 < end and src[close + 1].isdigit()):
                return False
            stop = close + 1
    elif ch == "\\" and pos + 1 < end and src[pos + 1] in "([":
        closer = "\\)" if src[pos + 1] == "(" else "\\]"
        close = src.find(closer, pos + 2, end)
        if close < 0:
            return False
        stop = close + 2
    else:
        return False
    if not silent:
        token = state.push("math_inline", "", 0)
        token.content = src[pos:stop]
    state.pos = stop
    return True


def _math_block(state: Any, start: int, end: int, silent: bool) -> bool:
    """A ``$$`` or ``\\[`` block on its own lines, kept verbatim up to its closing delimiter."""
    begin = state.bMarks[start] + state.tShift[start]
    if state.sCount[start] - state.blkIndent >= 4:
        return False
    first = state.src[begin : state.eMarks[start]]
    if first.startswith("$$"):
        closer = "$$"
    elif first.startswith("\\["):
        closer = "\\]"
    else:
        return False
    line = start
    head = first.rstrip()
    if closer in head[2:-2] if head.endswith(closer) else closer in head[2:]:
        return False  # "$$x$$ and more": inline math in a paragraph
    if not (len(head) > 4 and head.endswith(closer)):  # not open-and-close on one line
        line = start + 1
        while True:
            if line >= end or state.isEmpty(line):
                return False  # TeX display math never holds a blank line: not math after all
            text = state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]].rstrip()
            if text.endswith(closer):
                break
            line += 1
    if silent:
        return True
    token = state.push("math_block", "div", 0)
    token.block = True
    token.content = state.src[begin : state.eMarks[line]]
    token.map = [start, line + 1]
    state.line = line + 1
    return True


# Render rules (bound to markdown-it's renderer as methods): every piece of text is escaped.
def _text(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    # "\\(" in text (written "\\\\(" in Markdown) must not open math either: shield its backslash.
    return _BACKSLASH_MATH.sub(_SHIELDED_BACKSLASH, escape(tokens[idx].content).replace("$", _DOLLAR))


_BACKSLASH_MATH = re.compile(r"\\(?=[(\[])")
_SHIELDED_BACKSLASH = r'<span class="tex2jax_ignore">\\</span>'


def _too_deep_html(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    text = escape(tokens[idx].content).replace("$", _DOLLAR)
    return f'<div class="zm-too-deep"><em>{escape(DEPTH_NOTE)}</em><pre>{text}</pre></div>\n'


def _raw_html(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    return escape(tokens[idx].content)  # never produced with html=False; escaped regardless


def _code_inline(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    return f"<code>{escape(tokens[idx].content)}</code>"


def _code_block(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    from .code import CODE_STYLE, highlight_code

    token = tokens[idx]
    info = (token.info or "").strip().split(maxsplit=1)
    lang = f' class="language-{escape(info[0])}"' if info else ""
    body = highlight_code(token.content, info[0] if info else "", escape)
    return f'<pre class="zm-code" style="{CODE_STYLE}"><code{lang}>{body}</code></pre>\n'


def _math_inline_html(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    return f'<span class="zm-math">{escape(_math_links(tokens[idx].content))}</span>'


def _math_block_html(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    return f'<div class="zm-math">{escape(_math_links(tokens[idx].content))}</div>\n'


def _link_open(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("target", "_blank")
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    return self.renderToken(tokens, idx, options, env)


def _image(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    # Images are never fetched (a remote image leaks data through its URL): a plain link.
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    src = token.attrGet("src") or ""
    label = escape(f"[image: {alt}]")
    if src and _safe_link(src):
        href = html.escape(src, quote=True)
        return f'<a href="{href}" target="_blank" rel="noopener noreferrer nofollow">{label}</a>'
    return label


_RENDER_RULES = (
    ("text", _text),
    ("html_block", _raw_html),
    ("html_inline", _raw_html),
    ("code_inline", _code_inline),
    ("code_block", _code_block),
    ("fence", _code_block),
    ("math_inline", _math_inline_html),
    ("math_block", _math_block_html),
    ("link_open", _link_open),
    ("image", _image),
    ("zm_too_deep", _too_deep_html),
)


@lru_cache(maxsize=1)
def markdown_parser() -> Any:
    """The configured parser, built once (the first call imports markdown-it and sets it up)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.core.ruler.push("zm_bare_urls", _bare_urls)
    md.validateLink = _safe_link  # type: ignore[method-assign]
    first = md.block.ruler.get_all_rules()[0]
    md.block.ruler.before(first, "zm_too_deep", _too_deep, {"alt": ["paragraph", "blockquote", "list"]})
    md.inline.ruler.before("escape", "math_inline", _math_inline)
    md.block.ruler.before(
        "fence", "math_block", _math_block, {"alt": ["paragraph", "reference", "blockquote", "list"]}
    )
    for name, rule in _RENDER_RULES:
        md.add_render_rule(name, rule)
    return md


def safe_markdown_html(text: str) -> str:
    """Markdown -> an HTML fragment that is safe to show though the text is untrusted."""
    return markdown_parser().render(text)


__all__ = ["escape", "markdown_parser", "safe_markdown_html"]
