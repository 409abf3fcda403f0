"""JupyterLab 4 in headless chromium: streaming, task panel, chat panel, hostile output.

The kernel has no API key, so the magics and panels use the package's local server, which streams
at ``ZHIPU_MAGIC_LOCAL_RATE`` tokens/s (set by the harness) so partial answers are visible.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

# Everything in output areas that a browser would treat as live: script-ish nodes, on* handlers,
# javascript: links, images that fetch by themselves.
LIVE_MARKUP_JS = """() => {
  const root = document.querySelector('.jp-Notebook');
  const nodes = [...root.querySelectorAll('.jp-OutputArea-output *')];
  const found = [];
  for (const n of nodes) {
    const tag = n.tagName.toLowerCase();
    if (['script', 'iframe', 'object', 'embed'].includes(tag)) found.push(tag);
    if (tag === 'svg' && n.closest('.zm-answer, .zhipu-magic-reply')) found.push('svg');
    if (tag === 'img' && n.closest('.zm-answer, .zhipu-magic-reply')) found.push('img:' + n.src);
    for (const a of n.attributes) {
      if (a.name.startsWith('on')) found.push(tag + '@' + a.name);
      if (['href', 'src', 'xlink:href'].includes(a.name) && /^\\s*javascript:/i.test(a.value))
        found.push(tag + '@' + a.name + '=' + a.value);
    }
  }
  return found; }"""


def _text(locator: Any) -> str:
    return locator.inner_text() if locator.count() else ""


def test_smoke_runs_a_cell_and_a_widget(lab: Any) -> None:
    name = lab.notebook(
        "smoke.ipynb",
        [
            "print('hello from the kernel')",
            "import ipywidgets as w\nb = w.Button(description='Press')\n"
            "o = w.Output()\nb.on_click(lambda _: o.append_stdout('pressed'))\nw.VBox([b, o])",
        ],
    )
    lab.open(name)
    lab.run_all()
    lab.wait_done(2)
    assert "hello from the kernel" in lab.cell(0).locator(".jp-OutputArea-output").inner_text()
    lab.cell(1).locator(".widget-button", has_text="Press").click()
    lab.cell(1).locator(".widget-output", has_text="pressed").wait_for()
    assert lab.page.dialogs == []


def test_glm_answer_streams_progressively(lab: Any) -> None:
    name = lab.notebook(
        "stream.ipynb",
        ["%load_ext zhipu_magic", "%%glm -m glm-4.5-flash\nTell me about Jupyter notebooks"],
    )
    lab.open(name)
    lab.run_all()
    answer = lab.cell(1).locator(".jp-OutputArea-output .zm-answer")
    footer = lab.cell(1).locator(".jp-OutputArea-output .zm-footer")
    # partial text first: some answer, footer still "streaming…"
    lab.page.wait_for_function(
        """() => {
          const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[1];
          const a = c?.querySelector('.jp-OutputArea-output .zm-answer')?.innerText || '';
          const f = c?.querySelector('.jp-OutputArea-output .zm-footer')?.innerText || '';
          return a.length > 20 && f.includes('streaming'); }""",
        timeout=60_000,
    )
    partial = _text(answer)
    lab.copy_to_docs(lab.screenshot("streamed_partial.png"))
    expect(footer).to_contain_text("local server", timeout=60_000)  # the final footer
    lab.wait_done(2)
    final = _text(answer)
    assert len(partial) < len(final) and final.startswith(partial[:20])
    expect(lab.cell(1).locator(".jp-OutputArea-output")).to_have_count(1)  # updated in place
    assert "streaming" not in _text(footer)
    lab.page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    shot = lab.screenshot("streamed_answer.png")
    lab.copy_to_docs(shot)
    assert lab.page.dialogs == []


def test_task_panel_submit_and_refresh(lab: Any) -> None:
    name = lab.notebook(
        "tasks.ipynb", ["%load_ext zhipu_magic", "%glm tasks", "%%glm --async\nWhat does a task card show?"]
    )
    lab.open(name)
    lab.run_all()
    lab.wait_done(3)
    panel = lab.cell(1).locator(".zm-task-panel")
    panel.wait_for()
    refresh = panel.locator(".widget-button", has_text="Refresh")

    def submit(prompt: str) -> None:
        panel.locator("textarea").fill(prompt)
        panel.locator(".widget-button", has_text="Submit").click()
        expect(panel.locator(".zm-status")).to_contain_text("submitted task", timeout=20_000)

    def refresh_until(target: Any) -> None:
        for _ in range(10):
            refresh.click()
            try:
                target.wait_for(timeout=1500)
                return
            except Exception:
                continue
        raise AssertionError(f"{target} never appeared after Refresh")

    panel.locator(".widget-toggle-button", has_text="video").click()
    expect(panel.locator("select")).to_have_value("cogvideox-flash")
    submit("A paper boat drifting down a rainy street")
    expect(panel.locator(".zm-task-row").first.locator(".zm-badge")).to_have_text("PROCESSING")
    refresh_until(panel.locator(".zm-task-row").first.locator("video.zm-video"))
    video = panel.locator("video.zm-video").first
    assert video.get_attribute("src").startswith("http://127.0.0.1:")
    lab.page.wait_for_function(
        "() => { const v = document.querySelector('video.zm-video'); return v && v.readyState >= 1; }",
        timeout=20_000,
    )  # the local server serves a real, playable video

    panel.locator(".widget-toggle-button", has_text="chat").click()
    submit("Why are async tasks useful? Answer with a short list")
    newest = panel.locator(".zm-task-row").first
    expect(newest.locator(".zm-badge")).to_have_text("PROCESSING")
    refresh_until(newest.locator(".zhipu-magic-reply"))
    expect(newest.locator(".zm-badge")).to_have_text("SUCCESS")
    expect(newest.locator(".zm-footer")).to_contain_text("task ")
    lab.page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    lab.wait_done(3)
    shot = lab.screenshot("task_panel.png")
    lab.copy_to_docs(shot)

    # the %%glm --async card: it polls by itself (issue 10.7: it used to stay PROCESSING until its
    # Refresh was clicked); a Refresh click still works while it is unfinished
    card = lab.cell(2).locator(".zm-task-card.zm-live")
    button = card.locator(".widget-button", has_text="Refresh")
    for _ in range(20):  # click, then give the kernel time to answer; a finished card disables its button
        if card.locator(".zm-badge-success").count():
            break
        if button.is_enabled():
            button.click()
        lab.page.wait_for_timeout(500)
    expect(card.locator(".zm-badge")).to_have_text("SUCCESS")
    expect(card.locator(".zhipu-magic-reply .zm-footer")).to_contain_text("task ")
    card.scroll_into_view_if_needed()
    shot = lab.screenshot("task_card.png")
    lab.copy_to_docs(shot)
    assert lab.page.dialogs == []


def test_chat_panel_send_stop_and_shared_conversation(lab: Any) -> None:
    name = lab.notebook(
        "chat.ipynb",
        [
            "%load_ext zhipu_magic",
            "%%glm -c demo\necho: hello from a cell",
            "%glm chat demo",
            "from zhipu_magic.core.conversation import conversations\n"
            "print('turns:', [t.user for t in conversations.get('demo').turns])",
        ],
    )
    lab.open(name)
    lab.run_all()
    lab.wait_done(4)
    panel = lab.cell(2).locator(".zm-chat-panel")
    expect(panel).to_contain_text("hello from a cell")  # the magic's turn is in the panel
    send = panel.locator(".widget-button", has_text="Send")
    stop = panel.locator(".widget-button", has_text="Stop")

    panel.locator("textarea.zm-prompt-input").fill("Tell me a long story about careful engineering")
    send.click()
    lab.page.wait_for_function(
        """() => (document.querySelector('.zm-chat-panel .zm-answer')?.innerText || '').length > 30""",
        timeout=30_000,
    )
    expect(stop).to_be_enabled()
    lab.screenshot("chat_streaming.png")
    stop.click()
    expect(panel.locator(".zm-status")).to_contain_text("stopped", timeout=3_000)
    expect(send).to_be_enabled()
    expect(stop).to_be_disabled()
    expect(panel).to_contain_text("careful engineering")  # the user turn is in the history

    # the panel's turn is visible to the magics: re-run the last cell
    lab.page.evaluate(
        """() => { const nb = window.jupyterapp.shell.currentWidget.content;
                   nb.activeCellIndex = 3; window.jupyterapp.commands.execute('notebook:run-cell'); }"""
    )
    expect(lab.cell(3).locator(".jp-OutputArea-output")).to_contain_text(
        "careful engineering", timeout=20_000
    )
    lab.screenshot("chat_panel.png")
    assert lab.page.dialogs == []


def test_hostile_answers_stay_inert(lab: Any) -> None:
    remote: list[str] = []
    lab.page.on(
        "request",
        lambda req: (
            remote.append(req.url) if not req.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None
        ),
    )
    name = lab.notebook(
        "hostile.ipynb",
        ["%load_ext zhipu_magic", "%%glm\n[[fault:hostile]] please", "%glm chat evil", "%glm tasks"],
    )
    lab.open(name)
    lab.run_all()
    lab.wait_done(4)
    expect(lab.cell(1).locator(".zm-footer")).to_contain_text("local server")
    chat = lab.cell(2).locator(".zm-chat-panel")
    chat.locator("textarea.zm-prompt-input").fill("[[fault:hostile]] again")
    chat.locator(".widget-button", has_text="Send").click()
    expect(chat.locator(".zm-status")).to_contain_text("local server", timeout=30_000)
    tasks = lab.cell(3).locator(".zm-task-panel")
    tasks.locator("textarea").fill("[[fault:hostile]] as a task")
    tasks.locator(".widget-button", has_text="Submit").click()
    expect(tasks.locator(".zm-status")).to_contain_text("submitted task", timeout=20_000)
    newest = tasks.locator(".zm-task-row").first  # the store may hold other tests' tasks too
    expect(newest).to_contain_text("as a task")
    for _ in range(10):
        tasks.locator(".widget-button", has_text="Refresh").click()
        if newest.locator(".zm-badge-success").count():
            break
        lab.page.wait_for_timeout(700)
    expect(newest.locator(".zm-answer")).to_contain_text("hostile")
    lab.page.wait_for_timeout(500)  # give any handler a chance to fire

    # the text is shown, as text
    expect(lab.cell(1).locator(".zm-answer")).to_contain_text("<script>alert(1)</script>")
    expect(chat).to_contain_text('<img src=x onerror="alert(1)">')  # the history, as text
    # math is typeset in the cell, the chat panel and the task panel alike (MathJax drops the
    # javascript: target of \href, so the link is never live)
    for where in (lab.cell(1), chat, newest):
        expect(where.locator("mjx-container").first).to_be_visible(timeout=20_000)
    assert lab.page.evaluate(LIVE_MARKUP_JS) == []
    assert lab.page.dialogs == []
    assert not [u for u in remote if "example.com" in u], remote  # no image was fetched
    lab.screenshot("hostile.png")
