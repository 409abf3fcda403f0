"""render: safe Markdown, bundles, footer and notes, LiveDisplay throttling and terminal mode."""

from __future__ import annotations

import io
import re

import pytest

from zhipu_magic.core.reply import Reply
from zhipu_magic.notebook import render
from zhipu_magic.notebook.render import LiveDisplay, footer_text, reply_bundle, reply_html, safe_markdown_html

HOSTILE = """# Title
<script>alert(1)</script>
<img src=x onerror=alert(1)>
<svg onload=alert(1)>
<iframe src="https://evil.example"></iframe>
[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c](&#106;avascript:alert(1))
[d](data:text/html;base64,PHNjcmlwdD4=) [e](vbscript:msgbox) [f](java%0Ascript:x)
<javascript:alert(1)> ![leak](https://evil.example/x.png?c=1) ![g](javascript:alert(1))
[ok](https://example.com/a?b=1&c=2) <mailto:x@example.com>
"""


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


def test_hostile_markdown_is_inert():
    out = safe_markdown_html(HOSTILE)
    low = out.lower()
    for bad in (
        "<script",
        "<img",
        "<svg",
        "<iframe",
        "onerror=",
        "onload=",
        "javascript:",
        "vbscript:",
        "data:",
    ):
        assert bad not in low, bad
    assert "&lt;script&gt;" in out
    assert hrefs(out) == [
        "https://evil.example",  # a bare URL in text is a link now (issue 10 #14), still https
        "https://evil.example/x.png?c=1",
        "https://example.com/a?b=1&amp;c=2",
        "mailto:x@example.com",
    ]
    assert all(h.startswith(("https:", "http:", "mailto:")) for h in hrefs(out))
    assert "[image: leak]" in out  # images become links, never fetched
    assert 'rel="noopener noreferrer nofollow"' in out


def test_markdown_features():
    out = safe_markdown_html(
        "## H\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n~~gone~~ **b** `c<d>`\n\n"
        "```python\nprint('<b>')\n```\n"
    )
    for piece in (
        "<h2>H</h2>",
        "<li>a</li>",
        "<table>",
        "<td>1</td>",
        "<s>gone</s>",
        "<strong>b</strong>",
        "<code>c&lt;d&gt;</code>",
        '<code class="language-python">',
    ):
        assert piece in out, piece
    # the fenced code is highlighted (issue 10 #5): our spans around the same escaped text
    code = out.split('<code class="language-python">')[1].split("</code>")[0]
    assert re.sub(r"<span style=\"[^\"<>]*\">|</span>", "", code) == "print(&#x27;&lt;b&gt;&#x27;)\n"
    assert "<span " in code


def test_math_kept_verbatim_and_escaped():
    out = safe_markdown_html(
        r"Inline $a_1 * b_2 < c$ and \(x_*y_*\) cost $5 and $10." "\n\n$$\n\\sum_{i=1}^n x_i\n<y>\n$$\n"
    )
    assert r"$a_1 * b_2 &lt; c$" in out  # no <em>, < escaped
    assert r"\(x_*y_*\)" in out
    assert "$$\n\\sum_{i&#61;1}^n x_i\n&lt;y&gt;\n$$" in out  # "=" as a reference: same DOM text
    assert "<em>" not in out
    assert 'cost <span class="tex2jax_ignore">$</span>5' in out  # currency is not math


def test_url_and_path_answers_are_text():
    # a bare http(s) URL is a link (issue 10 #14; it was plain text): never fetched, opens a new tab
    assert safe_markdown_html("https://example.com/x.png") == (
        '<p><a href="https://example.com/x.png" target="_blank" rel="noopener noreferrer nofollow">'
        "https://example.com/x.png</a></p>\n"
    )
    assert safe_markdown_html("/etc/passwd") == "<p>/etc/passwd</p>\n"


def make_reply(**kw) -> Reply:
    reply = Reply(kw.pop("model", "glm-4-flash"), [], local=kw.pop("local", False))
    for piece in kw.pop("reasoning", []):
        reply.add_chunk({"choices": [{"delta": {"reasoning_content": piece}}]})
    for piece in kw.pop("text", []):
        reply.add_chunk({"choices": [{"delta": {"content": piece}}]})
    for key, value in kw.items():
        setattr(reply, key, value)
    return reply


def test_bundle_shape_and_details_state():
    reply = make_reply(reasoning=["hmm <b>"])
    bundle = reply_bundle(reply, final=False)
    assert set(bundle) == {"text/html", "text/plain"}
    assert "<details open>" in bundle["text/html"] and "hmm &lt;b&gt;" in bundle["text/html"]
    reply.add_chunk({"choices": [{"delta": {"content": "Answer"}}]})
    html = reply_html(reply, final=False)
    assert "<details>" in html and "<details open>" not in html and "Answer" in html
    reply.finish()
    assert reply_bundle(reply, final=True)["text/plain"].startswith("Answer")


def test_footer():
    reply = make_reply(
        text=["x"],
        local=True,
        usage={
            "prompt_tokens": 12,
            "completion_tokens": 340,
            "completion_tokens_details": {"reasoning_tokens": 200},
        },
    )
    reply.finish()
    text = footer_text(reply)
    assert text.startswith("glm-4-flash · 12 in / 340 out (200 reasoning) · ")
    assert "tok/s" in text and text.endswith("local server")


@pytest.mark.parametrize(
    "reason,word",
    [
        ("length", "token limit"),
        ("sensitive", "content filter"),
        ("network_error", "failed"),
        ("tool_calls", "tool"),
        ("weird", "weird"),
    ],
)
def test_finish_notes(reason, word):
    reply = make_reply(text=["x"], finish_reason=reason)
    reply.finish()
    assert word in reply_bundle(reply, final=True)["text/plain"]
    assert word in reply_html(reply, final=True)


def test_interrupted_and_failed_marks():
    reply = make_reply(text=["partial"], interrupted=True)
    reply.finish()
    assert "interrupted" in reply_html(reply, final=True).lower()
    empty = make_reply(error=RuntimeError("x"))
    empty.finish()
    assert "no answer" in reply_bundle(empty, final=True)["text/plain"]


def test_status_line_before_first_token():
    reply = make_reply(model="glm-4-air")
    assert "glm-4-air" in reply_bundle(reply, final=False)["text/plain"]
    assert "waiting" in reply_bundle(reply, final=False)["text/plain"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_live_display_throttles(monkeypatch):
    calls = []
    import IPython.display as ipd

    monkeypatch.setattr(ipd, "display", lambda obj, **kw: calls.append(("display", obj, kw)))
    monkeypatch.setattr(ipd, "update_display", lambda obj, **kw: calls.append(("update", obj, kw)))
    clock = Clock()
    live = LiveDisplay(min_interval=0.1, plain=False, clock=clock)
    reply = Reply("glm-4-flash", [])
    live.start("glm-4-flash")
    for i in range(1000):  # 1000 chunks over 1 s
        clock.now = i / 1000
        reply.add_chunk({"choices": [{"delta": {"content": "x"}}]})
        live.update(reply)
    reply.finish()
    live.finish(reply)
    kinds = [c[0] for c in calls]
    assert kinds[0] == "display" and kinds.count("display") == 1
    assert 8 <= kinds.count("update") <= 12  # ~10 ticks in one second + the final
    assert {c[2]["display_id"] for c in calls} == {live.display_id}
    assert all(c[2]["raw"] is True for c in calls)
    assert calls[-1][1]["text/plain"].startswith("x" * 1000)
    assert live.updates == len(calls)


def test_live_display_plain_terminal_text():
    out = io.StringIO()
    live = LiveDisplay(plain=True, min_interval=0.0, stream=out, notice="using the local server")
    reply = Reply("glm-z1", [])
    live.start("glm-z1")
    for piece in ("<think>why", "</think>", "Hello", " there"):
        reply.add_chunk({"choices": [{"delta": {"content": piece}}]})
        live.update(reply)
    reply.finish()
    live.finish(reply)
    text = out.getvalue()
    assert text.startswith("using the local server\n[thinking]\nwhy\n[answer]\nHello there")
    assert "<" not in text.replace("<think>", "")  # no HTML in the terminal
    assert text.rstrip().endswith("]") and "glm-z1" in text.splitlines()[-1]


def test_is_rich_frontend():
    from IPython.core.displaypub import CapturingDisplayPublisher, DisplayPublisher

    class Shell:
        def __init__(self, pub):
            self.display_pub = pub

    class ZMQDisplayPublisher(DisplayPublisher):
        pass

    assert not render.is_rich_frontend(Shell(DisplayPublisher()))  # terminal / bare shell: prints text
    assert render.is_rich_frontend(Shell(ZMQDisplayPublisher()))
    assert render.is_rich_frontend(Shell(CapturingDisplayPublisher()))
    assert not render.is_rich_frontend(Shell(None))


def test_table_and_history_bundles_escape():
    table = render.table_bundle(["name", "note"], [["<b>x</b>", None]], title="T<")
    assert "<b>x</b>" not in table["text/html"] and "&lt;b&gt;" in table["text/html"]
    assert "<b>x</b>" in table["text/plain"]
    hist = render.history_bundle(
        "c",
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "<img src=x onerror=alert(1)>"}],
    )
    assert "<img" not in hist["text/html"] and "onerror&#61;alert(1)&gt;" in hist["text/html"]


def test_is_rich_frontend_patched_on_the_package_reaches_live(monkeypatch):
    """Tests patch ``render.is_rich_frontend`` or ``render.live.is_rich_frontend``: both are one name."""
    from zhipu_magic.notebook.render import live

    real = live.is_rich_frontend
    assert render.is_rich_frontend is real and "is_rich_frontend" not in vars(render)
    monkeypatch.setattr(render, "is_rich_frontend", lambda shell=None: False)
    assert live.is_rich_frontend() is False and LiveDisplay().plain
    monkeypatch.undo()
    assert live.is_rich_frontend is real and render.is_rich_frontend is real
    monkeypatch.setattr(live, "is_rich_frontend", lambda shell=None: True)
    assert render.is_rich_frontend() is True and not LiveDisplay().plain


def test_pure_render_modules_import_neither_ipython_nor_ipywidgets():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from zhipu_magic.notebook.render import bundles, markdown, panels\n"
        "from zhipu_magic.notebook import render\n"
        "assert render.safe_markdown_html('**x**')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('IPython', 'ipywidgets')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- issue 11: nothing vanishes past the nesting limit; math links follow the link policy ----------


def _visible_text(html: str) -> str:
    import html as htmllib

    return htmllib.unescape(re.sub(r"<[^>]+>", "", html))


@pytest.mark.parametrize(
    "text",
    [
        "- " * 30 + "deep words\n\nThe paragraph after.\n",
        "".join("  " * i + f"- item{i}\n" for i in range(30)) + "\nThe paragraph after.\n",
        ">" * 30 + " deep words\n\nThe paragraph after.\n",
        "> " * 12 + "- " * 12 + "1. " * 8 + "deep words\n\nThe paragraph after.\n",
    ],
)
def test_nesting_past_the_limit_is_shown_as_text_with_a_marker(text: str) -> None:
    from zhipu_magic.notebook.render.markdown import DEPTH_NOTE

    out = safe_markdown_html(text)
    seen = _visible_text(out)
    assert "The paragraph after." in seen
    assert "deep words" in seen or "item" in text
    if "item" in text:
        assert all(f"item{i}" in seen for i in range(30))
    assert DEPTH_NOTE in seen
    assert "<script" not in out


def test_deep_nesting_keeps_hostile_text_inert() -> None:
    out = safe_markdown_html("- " * 40 + "<img src=x onerror=alert(1)> [a](javascript:alert(1)) $x$")
    assert "<img" not in out and "onerror=" not in out and "javascript:" not in out.lower()
    assert "&lt;img src&#61;x onerror&#61;alert(1)&gt;" in out
    assert '<span class="tex2jax_ignore">$</span>x' in out  # no math from the raw tail either


def test_shallow_nesting_is_unchanged() -> None:
    out = safe_markdown_html("- a\n  - b\n    - c\n\n> q\n")
    assert "zm-too-deep" not in out and "<li>c</li>" in out


@pytest.mark.parametrize(
    "tex, gone, kept",
    [
        (r"$\href{file:///etc/passwd}{x^2}$", "file:", "{x^2}"),
        (r"$\href {javascript:alert(1)}{y}$", "javascript", "{y}"),
        (r"$$\href{data:text/html,x}{z}$$", "data:", "{z}"),
        (r"\(\href{FILE:///c:/x}{w}\)", "FILE:", "{w}"),
        (r"$\href{//evil.example}{v}$", "//evil", "{v}"),
        (r"$\url{file:///etc/passwd}$", r"\url", r"\text{file:///etc/passwd}"),
        (r"$\href x{u}$", r"\href", "x{u}"),
    ],
)
def test_math_links_follow_the_link_policy(tex: str, gone: str, kept: str) -> None:
    out = safe_markdown_html(f"Look: {tex} done")
    math = re.findall(r'class="zm-math">(.*?)</', out)
    assert math, out
    import html as htmllib

    body = htmllib.unescape(math[0])
    assert gone not in body and kept in body


def test_safe_math_links_are_kept() -> None:
    out = safe_markdown_html(r"$\href{https://example.com/a}{x} + \url{mailto:a@b.c}$")
    assert r"\href{https://example.com/a}{x}" in out and r"\url{mailto:a@b.c}" in out


def test_escaped_math_delimiters_in_text_cannot_open_math() -> None:
    out = safe_markdown_html(r"\\(\href{file:///etc/passwd}{click}\\)")
    assert '<span class="tex2jax_ignore">\\</span>(' in out
    assert "zm-math" not in out


# -- issue 10 #14: bare URLs are links, under the same policy --------------------------------------


def test_bare_urls_become_safe_links() -> None:
    out = safe_markdown_html(
        "See https://example.com/a_(b)?q=1&r=2. Or (http://x.org/path), javascript:alert(1) "
        "www.example.com and example.com stay text; `https://in.code` too.\n\n"
        "[already](https://linked.example) and https://example.com/x\u3002"
    )
    assert hrefs(out) == [
        "https://example.com/a_(b)?q=1&amp;r=2",
        "http://x.org/path",
        "https://linked.example",
        "https://example.com/x",  # the ideographic full stop is the sentence's
    ]
    assert "javascript:" not in out.lower()
    assert "<code>https://in.code</code>" in out
    assert out.count('rel="noopener noreferrer nofollow"') == len(hrefs(out))
    assert "r&#61;2</a>. Or (" in out and "/path</a>), " in out


def test_bare_url_with_hostile_characters_stays_inert() -> None:
    out = safe_markdown_html('https://e.example/"onmouseover="alert(1) and https://e.example/<svg/onload=x>')
    assert "onmouseover=" not in out and "<svg" not in out and "onload=" not in out
    assert all(h.startswith("https://e.example/") for h in hrefs(out))


# -- issue 10 #5: code blocks highlighted and set off like JupyterLab's code -----------------------


def test_code_blocks_are_highlighted_and_set_off() -> None:
    out = safe_markdown_html("```python\ndef f(x):\n    return x  # done\n```\n\n```\nplain <b>\n```")
    blocks = re.findall(r'<pre class="zm-code" style="([^"]*)">', out)
    assert len(blocks) == 2
    for style in blocks:
        assert "var(--jp-cell-editor-background" in style and "monospace" in style
    assert "var(--jp-mirror-editor-keyword-color" in out  # def, return
    assert "var(--jp-mirror-editor-comment-color" in out
    assert "plain &lt;b&gt;" in out  # no language: escaped, not coloured
    # every themed declaration has a plain one of the same property before it: an untrusted notebook's
    # sanitizer drops declarations with var() and keeps the rest
    for style in [*blocks, *re.findall(r'<span style="([^"]*)">', out)]:
        decls = [d.split(":", 1) for d in style.split(";") if d]
        for i, (prop, value) in enumerate(decls):
            if "var(" in value:
                assert any(p == prop and "var(" not in v for p, v in decls[:i]), (prop, style)


def test_highlighted_code_stays_inert() -> None:
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    for lang in ("html", "javascript", "python", "nosuchlanguage", ""):
        out = safe_markdown_html(f"```{lang}\n{hostile}\n```")
        low = out.lower()
        assert "<img" not in low and "<script" not in low and "onerror=" not in low, lang
        import html as htmllib

        assert hostile in htmllib.unescape(re.sub(r"<[^>]+>", "", out)), lang
