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
        '<code class="language-python">print(&#x27;&lt;b&gt;&#x27;)',
    ):
        assert piece in out, piece


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
    assert safe_markdown_html("https://example.com/x.png") == "<p>https://example.com/x.png</p>\n"
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
