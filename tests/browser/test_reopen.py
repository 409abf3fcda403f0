"""Saved notebooks without their kernel (issue 10.2), the task card polling by itself (10.7), in
JupyterLab 4 and Jupyter Notebook 7: run, save, reopen in a fresh page, look.

No output may read "Error displaying widget: model not found": a finished answer or video is a plain
output saved with the notebook; a panel shows one line saying to run the cell to reopen it.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

WIDGET_ERRORS_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')]
  .filter(n => n.offsetParent !== null && /Error displaying widget|Loading widget/.test(n.innerText))
  .map(n => n.innerText)"""


def test_saved_notebook_reopens_without_widget_errors(app: Any) -> None:
    name = app.notebook(
        f"reopen-{app.app}.ipynb",
        [
            "%load_ext zhipu_magic",
            "%%glm --async\nWhat does a task card show?",
            "%%glm --video --wait\nA paper boat drifting down a rainy street",
            "%glm tasks",
            "%glm chat demo",
        ],
    )
    app.open(name)
    app.run_all()
    app.wait_done(5)
    card = app.cell(1).locator(".zm-task-card.zm-live")  # the widget (a submitted task is unfinished)
    # nobody clicks Refresh: the card polls by itself and shows the answer
    expect(card.locator(".zm-badge")).to_have_text("SUCCESS", timeout=15_000)
    expect(card.locator(".zhipu-magic-reply")).to_be_visible()
    expect(app.cell(2).locator("video.zm-video")).to_have_count(1)
    expect(app.cell(3).locator(".zm-task-panel")).to_be_visible()
    expect(app.cell(4).locator(".zm-chat-panel")).to_be_visible()
    for i in (1, 3, 4):  # the notes beside live widgets stay hidden while the widgets live
        expect(app.cell(i).locator(".zm-reopen-note")).to_be_hidden()
    app.screenshot(f"reopen-live-{app.app}.png")
    app.save()

    app.shutdown_kernels()
    fresh = app.fresh_page()
    fresh.open(name)
    expect(fresh.cell(4).locator(".zm-reopen-note")).to_contain_text("run this cell to reopen it")
    fresh.page.wait_for_timeout(3000)  # the widget manager gives up on missing models after ~2 s
    assert fresh.page.evaluate(WIDGET_ERRORS_JS) == []
    expect(fresh.cell(3).locator(".zm-reopen-note")).to_contain_text("run this cell to reopen the panel")
    expect(fresh.cell(2).locator("video.zm-video")).to_have_count(1)  # the finished video, saved
    expect(fresh.cell(2)).to_contain_text("%glm result")
    note = fresh.cell(1).locator(".zm-reopen-note")
    expect(note).to_be_visible()
    app.screenshot(f"reopen-saved-{app.app}.png", fresh.page)
