"""``%%glm --map`` runs saved and reopened with no kernel, in JupyterLab 4 and Jupyter Notebook 7
(issue 10.2 for map runs): a finished ``--batch`` run leaves only static outputs (the card, the
progress), and a notebook saved while a run was going shows the note beside the live widget (how to
resume, the progress when saved) instead of "Error displaying widget: model not found".
"""

from __future__ import annotations

import re
from typing import Any

import nbformat
from playwright.sync_api import expect

WIDGET = "application/vnd.jupyter.widget-view+json"
REVIEWS = [
    "The battery lasts two days, great phone",
    "Screen cracked after a week, very disappointed",
    "It works. Nothing special.",
    "Charging is painfully slow",
    "Camera is superb in low light",
    "Arrived late and the box was damaged",
    "Decent value for the price",
    "Speakers are loud and clear, love it",
    "The app keeps crashing",
    "Okay for calls, nothing more",
    "Best purchase this year",
    "Stopped working after a month",
]
DONE_JS = """(sel) => { const t = document.querySelector(sel)?.innerText || '';
  const m = t.match(/(\\d+)\\/\\d+ done/); return m ? Number(m[1]) : -1; }"""


def saved_outputs(app: Any, name: str, cell: int) -> list[dict]:
    nb = nbformat.read(str(app.root / name), as_version=4)
    return [o.get("data", {}) for o in nb.cells[cell].outputs if o.output_type == "display_data"]


def test_batch_map_shows_live_cards_then_saves_static_outputs_that_reopen_clean(app: Any) -> None:
    name = app.notebook(
        f"map-batch-{app.app}.ipynb",
        [
            "%load_ext zhipu_magic",
            f"import pandas as pd\ndf = pd.DataFrame({{'review': {REVIEWS!r}}})",
            "%%glm --map df --batch -o out\n"
            "Label this review positive, negative or neutral: {review} [[fault:slow_first:2.5]]",
            "print(len(out), out.iloc[0])",
        ],
    )
    app.open(name)
    app.run_all()
    cell = app.cell(2)
    card = cell.locator(".zm-batch-card.zm-live")
    expect(card).to_be_visible(timeout=30_000)  # live while the batch runs
    expect(card.locator(".zm-badge")).to_have_text("in progress", timeout=15_000)  # it polls by itself
    expect(card.locator(".zm-batch-counts")).to_contain_text(re.compile(r"\d+ done of 12"))
    expect(card.locator(".widget-button", has_text="Cancel")).to_be_enabled()
    expect(cell.locator(".zm-map-live")).to_be_visible()
    notes = cell.locator(".zm-reopen-note")
    expect(notes).to_have_count(2)  # one for the progress, one for the card, both hidden while live
    for i in range(2):
        expect(notes.nth(i)).to_be_hidden()
    app.screenshot(f"map-batch-live-{app.app}.png", cell)

    app.wait_done(4, timeout=90_000)
    expect(cell.locator(".zm-live")).to_have_count(0)  # the widgets became plain outputs
    expect(cell.locator(".zm-reopen-note")).to_have_count(0)  # and their notes went
    static = cell.locator(".zm-task-card.zm-static")
    expect(static.locator(".zm-badge")).to_have_text("completed")
    expect(static).to_contain_text("12 done of 12")
    expect(cell.locator(".zm-map")).to_contain_text("12/12 done")
    expect(app.cell(3)).to_contain_text("12 ")
    app.screenshot(f"map-batch-done-{app.app}.png", cell)
    app.save()
    kept = [d for d in saved_outputs(app, name, 2) if d]
    assert not any(WIDGET in d for d in kept), kept  # just the static outputs
    assert not any("zm-reopen-note" in d.get("text/html", "") for d in kept)
    assert sum("zm-static" in d.get("text/html", "") for d in kept) == 1

    app.shutdown_kernels()
    fresh = app.fresh_page()
    fresh.open(name)
    again = fresh.cell(2)
    expect(again.locator(".zm-task-card.zm-static")).to_contain_text("12 done of 12")
    expect(again.locator(".zm-map")).to_contain_text("12/12 done")
    fresh.page.wait_for_timeout(3000)  # the widget manager gives up on missing models after ~2 s
    assert fresh.widget_errors() == []
    fresh.screenshot(f"map-batch-reopened-{app.app}.png", again)


def test_a_notebook_saved_mid_run_reopens_with_the_note_not_a_widget_error(app: Any) -> None:
    name = app.notebook(
        f"map-midrun-{app.app}.ipynb",
        [
            "%load_ext zhipu_magic",
            "words = [f'[[fault:slow_first:1]] w{i}' for i in range(40)]",
            "%%glm --map words -o out --concurrency 2\necho: {}",
        ],
    )
    app.open(name)
    app.run_all()
    cell = app.cell(2)
    expect(cell.locator(".zm-map-live")).to_be_visible(timeout=30_000)
    expect(cell.locator(".zm-reopen-note")).to_be_hidden()
    selector = ".jp-Notebook .jp-Cell:nth-child(3) .zm-map-live"
    app.page.wait_for_function(f"() => ({DONE_JS})({selector!r}) >= 6", timeout=30_000)
    app.screenshot(f"map-midrun-live-{app.app}.png", cell)
    app.save()  # while the run goes on
    shown = saved_outputs(app, name, 2)
    assert any(WIDGET in d for d in shown)  # the live widget, and before it the note
    [note] = [d for d in shown if "zm-reopen-note" in d.get("text/html", "")]
    assert note["text/plain"].startswith("this map was running when the notebook was saved")

    app.shutdown_kernels()  # the kernel dies mid-run
    fresh = app.fresh_page()
    fresh.open(name)
    seen = fresh.cell(2).locator(".zm-reopen-note")
    expect(seen).to_be_visible()
    expect(seen).to_contain_text("run the cell again to resume; answered rows come from the call log")
    expect(seen.locator(".zm-map")).to_contain_text(re.compile(r"so far: \d+/40 done$"))
    fresh.page.wait_for_timeout(3000)  # the widget manager gives up on missing models after ~2 s
    assert fresh.widget_errors() == []
    for error in fresh.cell(2).locator(".jp-OutputArea-output", has_text="widget").all():
        expect(error).to_be_hidden()  # the saved widget's output (its error text) is hidden by the note's CSS
    fresh.screenshot(f"map-midrun-reopened-{app.app}.png", fresh.cell(2))
