"""Issue 14 in a real browser: tool-call cards and footnoted web sources (JupyterLab 4 and Jupyter
Notebook 7), live, after save and reopen, and in a copy opened elsewhere (untrusted, so sanitized).

No key is set, so the built-in local server plays the model: with ``tools`` it calls the first
function whose parameters it can fill from the prompt ("add 2 and 3" -> ``add(a=2, b=3)``) and quotes
the result; with ``web_search`` it cites canned sources on example domains as ``[ref_N]``.

Hostile content (a tool result, a search title, a source's link) must stay text: each payload would
set ``window.__zmPwned`` if it ever ran.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

FLAG = "__zmPwned"
TOOLS = '''def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


def leak(n: int) -> str:
    """A tool whose result is hostile markup."""
    return f'<img src=x onerror="window.{FLAG}=1"><script>window.{FLAG}=2</script> n={n}'
'''.replace("{FLAG}", FLAG)
# Sources as a real search could return them: a page title with markup, links that are not http(s).
SOURCES = f"""from zhipu_magic.core.reply import Reply
from zhipu_magic.notebook import render

r = Reply("glm-4-flash", [])
r.set_response({{"request_id": "hostile", "choices": [{{"finish_reason": "stop",
    "message": {{"content": "See [ref_1], [ref_2], [ref_3] and [ref_4]."}}}}]}})
r.sources = [
    {{"title": "a real page", "link": "https://example.com/a", "media": "example.com"}},
    {{"title": '<img src=x onerror="window.{FLAG}=3">', "link": "javascript:window.{FLAG}=4"}},
    {{"title": "<script>window.{FLAG}=5</script>",
      "link": "data:text/html,<script>window.{FLAG}=6</script>"}},
    {{"title": "a local file", "link": "file:///etc/passwd"}},
]
r.finish()
render.show(render.reply_bundle(r, final=True))"""
CELLS = [
    "%load_ext zhipu_magic",
    TOOLS,
    "%%glm --tools add\nadd 2 and 3",
    "%%glm --search --recency oneWeek\nWhat is new in Python 3.13?",
    "%%glm --tools leak\nrun leak on 7",
    f'%%glm --search\nNews of <img src=x onerror="window.{FLAG}=7"> and <script>window.{FLAG}=8</script>',
    SOURCES,
    "%%glm\necho: ```python\ndef f(x):\n    return x  # the same\n```",
]
ADD, SEARCH, LEAK, HOSTILE_SEARCH, HOSTILE_SOURCES, CODE = 2, 3, 4, 5, 6, 7
# A code block's look: its background, and a keyword's colour against the block's own text colour.
CODE_LOOK_JS = """(pre) => {
  const bg = (n) => getComputedStyle(n).backgroundColor;
  let around = pre.parentElement;
  while (around && ['rgba(0, 0, 0, 0)', 'transparent'].includes(bg(around))) around = around.parentElement;
  const kw = [...pre.querySelectorAll('span')].find(s => s.textContent === 'def');
  return { background: bg(pre), around: around ? bg(around) : null, text: getComputedStyle(pre).color,
           keyword: kw ? getComputedStyle(kw).color : null }; }"""

# Everything in the outputs a browser would treat as live (as in test_browser.py), and every link.
LIVE_MARKUP_JS = """() => {
  const found = [];
  for (const n of document.querySelectorAll('.jp-Notebook .jp-OutputArea-output *')) {
    const tag = n.tagName.toLowerCase();
    const live = ['script', 'iframe', 'object', 'embed', 'img', 'svg'].includes(tag);
    if (live && n.closest('.zhipu-magic-reply')) found.push(tag);
    for (const a of n.attributes) {
      if (a.name.startsWith('on')) found.push(tag + '@' + a.name);
      const url = ['href', 'src', 'xlink:href'].includes(a.name);
      if (url && /^\\s*(javascript|data|file|vbscript):/i.test(a.value)) found.push(tag + '@' + a.value);
    }
  }
  return found; }"""
LINKS_JS = """(i) => [...document.querySelectorAll('.jp-Notebook .jp-Cell')[i]
  .querySelectorAll('.zhipu-magic-reply a')].map(a => a.getAttribute('href'))"""


def _is_open(details: Any) -> bool:
    return bool(details.evaluate("d => d.open"))


def _check_card(nb: Any) -> None:
    """The add cell: one closed card; a click opens it (arguments, result), a click closes it."""
    card = nb.cell(ADD).locator("details.zm-tool")
    expect(card).to_have_count(1)
    summary = card.locator("summary")
    expect(summary).to_contain_text("add")
    assert card.evaluate("d => getComputedStyle(d).borderTopWidth") == "1px"  # framed, also sanitized
    assert not _is_open(card)
    expect(card.locator("pre.zm-tool-args")).to_be_hidden()
    summary.click()
    assert _is_open(card)
    expect(card.locator("pre.zm-tool-args")).to_be_visible()
    args = card.locator("pre.zm-tool-args").inner_text()
    assert re.search(r'"a":\s*2', args) and re.search(r'"b":\s*3', args), args
    expect(card.locator("pre.zm-tool-result")).to_have_text("5")
    summary.click()
    assert not _is_open(card)
    expect(card.locator("pre.zm-tool-result")).to_be_hidden()
    expect(nb.cell(ADD).locator(".zm-answer")).to_contain_text("the result is: 5")


def _check_sources(nb: Any) -> None:
    """The search cell: markers are superscript links to the list's items; the list starts open and
    folds on a click; its links are live https links opening elsewhere; a marker scrolls to its source."""
    out = nb.cell(SEARCH)
    markers = out.locator(".zm-answer sup.zm-ref a")
    assert markers.count() >= 3
    sources = out.locator("details.zm-sources")
    expect(sources).to_have_count(1)
    expect(sources.locator("summary")).to_have_text("Sources (3)")
    for i in range(markers.count()):
        href = markers.nth(i).get_attribute("href")
        assert href and href.startswith("#zm-src-"), href
        # points into this list (a sanitized copy keeps the id as data-jupyter-id, which JupyterLab's
        # own handler for "#..." links looks up too)
        target = f'li[id="{href[1:]}"], li[data-jupyter-id="{href[1:]}"]'
        assert sources.locator(target).count() == 1, href
    assert _is_open(sources)
    items = sources.locator("li")
    expect(items).to_have_count(3)
    expect(items.first).to_be_visible()
    sources.locator("summary").click()
    assert not _is_open(sources)
    expect(items.first).to_be_hidden()
    sources.locator("summary").click()
    assert _is_open(sources)
    for i in range(3):
        link = items.nth(i).locator("a")
        expect(link).to_have_count(1)
        assert re.match(r"https://example\.(com|org|net)/", link.get_attribute("href") or "")
        assert link.get_attribute("target") == "_blank"
        assert "noopener" in (link.get_attribute("rel") or "")
    expect(items.first).to_contain_text("2026-")  # the date
    # a marker leads to its source: clicking [2] scrolls the notebook until source 2 is at the top
    marker = markers.nth(1)
    marker.scroll_into_view_if_needed()
    before = items.nth(1).evaluate("e => e.getBoundingClientRect().top")
    marker.click()
    nb.page.wait_for_function(
        "([e, y]) => e.getBoundingClientRect().top < y - 10", arg=[items.nth(1).element_handle(), before]
    )
    expect(items.nth(1)).to_be_in_viewport()
    expect(nb.page.locator(".jp-Notebook")).to_be_visible()  # still on the notebook


def _check_inert(nb: Any) -> None:
    """Hostile tool results, search titles and source links are shown as text; nothing ran."""
    leak = nb.cell(LEAK).locator("details.zm-tool")
    leak.locator("summary").click()
    expect(leak.locator("pre.zm-tool-result")).to_contain_text(f'<img src=x onerror="window.{FLAG}=1">')
    expect(leak.locator("pre.zm-tool-result")).to_contain_text("<script>")
    expect(nb.cell(LEAK).locator(".zm-answer")).to_contain_text("onerror")
    hostile = nb.cell(HOSTILE_SEARCH).locator("details.zm-sources li").first  # the list is open
    expect(hostile).to_be_visible()
    expect(hostile).to_contain_text("<img src=x onerror=")
    shared = nb.cell(HOSTILE_SOURCES)
    expect(shared.locator("details.zm-sources li").first).to_be_visible()
    # only the https source is a link; the others show their link as text
    assert [h for h in nb.page.evaluate(LINKS_JS, HOSTILE_SOURCES) if not h.startswith("#")] == [
        "https://example.com/a"
    ]
    items = shared.locator("details.zm-sources li")
    expect(items.nth(1)).to_contain_text(f"javascript:window.{FLAG}=4")
    expect(items.nth(1)).to_contain_text("<img src=x onerror=")
    expect(items.nth(2)).to_contain_text("<script>")
    expect(items.nth(3)).to_contain_text("file:///etc/passwd")
    nb.page.wait_for_timeout(500)  # give any handler a chance to fire
    assert nb.page.evaluate(LIVE_MARKUP_JS) == []
    assert nb.js_flag(FLAG) is None
    assert nb.page.dialogs == []


def _check_code(nb: Any) -> None:
    """Code stays set off and coloured in every state: an untrusted copy's sanitizer drops CSS with
    var(), so each themed declaration carries a plain fallback before it."""
    pre = nb.cell(CODE).locator("pre.zm-code")
    expect(pre).to_have_count(1)
    look = pre.evaluate(CODE_LOOK_JS)
    assert look["background"] not in ("rgba(0, 0, 0, 0)", "transparent", look["around"]), look
    assert look["keyword"] is not None and look["keyword"] != look["text"], look


def _check_all(nb: Any, shot: str) -> None:
    _check_code(nb)
    _check_card(nb)
    _check_sources(nb)
    _check_inert(nb)
    nb.cell(ADD).locator("details.zm-tool summary").click()  # open for the picture
    nb.cell(ADD).scroll_into_view_if_needed()
    nb.screenshot(f"{shot}-tools.png")
    nb.cell(SEARCH).locator(".zm-footer").scroll_into_view_if_needed()
    nb.screenshot(f"{shot}-sources.png")
    nb.cell(HOSTILE_SOURCES).scroll_into_view_if_needed()
    nb.screenshot(f"{shot}-hostile.png")


def test_tool_cards_and_sources_live_saved_and_shared(app: Any) -> None:
    name = app.notebook(f"tools-{app.app}.ipynb", CELLS)
    app.open(name)
    app.run_all()
    app.wait_done(len(CELLS), timeout=90_000)
    expect(app.cell(SEARCH).locator(".zm-footer")).to_contain_text("local server")
    _check_all(app, f"tools-live-{app.app}")
    app.save()
    app.shutdown_kernels()

    fresh = app.fresh_page()  # the same notebook reopened: no kernel ran these cells
    fresh.open(name)
    fresh.page.wait_for_timeout(3000)  # the widget manager gives up on missing models after ~2 s
    assert fresh.widget_errors() == []
    _check_all(fresh, f"tools-reopened-{app.app}")

    elsewhere = app.fresh_page()  # a copy opened by someone else: untrusted, HTML sanitized
    elsewhere.open(app.untrusted_copy(name))
    expect(elsewhere.cell(ADD).locator(".jp-OutputArea-output").first).not_to_have_class(
        re.compile(r"jp-mod-trusted")
    )
    elsewhere.page.wait_for_timeout(3000)
    assert elsewhere.widget_errors() == []
    _check_all(elsewhere, f"tools-shared-{app.app}")
