"""``%%glm --map`` in JupyterLab 4 and Jupyter Notebook 7 with real Chromium: the live progress
updates while the rows run (each answered after a delay by the local server), Stop is clicked while
the kernel is busy, the partial result comes back marked, the live widget becomes a static output
(its note gone), and the saved notebook reopens without a widget error."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

ROWS = 60
DONE_JS = """(sel) => { const t = document.querySelector(sel)?.innerText || '';
  const m = t.match(/(\\d+)\\/\\d+ done/); return m ? Number(m[1]) : -1; }"""


def test_map_progress_updates_live_and_stop_returns_the_partial_result(app: Any) -> None:
    lab = app
    name = lab.notebook(
        f"map-stop-{app.app}.ipynb",
        [
            "%load_ext zhipu_magic",
            f"words = [f'[[fault:slow_first:0.4]] w{{i}}' for i in range({ROWS})]",
            "%%glm --map words -o out --concurrency 2\necho: {}",
            "print('result:', out.stopped, out.totals['done'], out.totals['not_run'], len(out))",
        ],
    )
    lab.open(name)
    lab.run_all()
    live = lab.cell(2).locator(".zm-map-live")
    expect(live).to_be_visible(timeout=30_000)
    expect(live).to_contain_text("in flight")
    expect(lab.cell(2).locator(".zm-reopen-note")).to_be_hidden()  # the note waits for a saved copy
    selector = ".jp-Notebook .jp-Cell:nth-child(3) .zm-map-live"
    lab.page.wait_for_function(f"() => ({DONE_JS})({selector!r}) >= 2", timeout=20_000)
    first = lab.page.evaluate(DONE_JS, selector)
    lab.page.wait_for_function(f"() => ({DONE_JS})({selector!r}) > {first}", timeout=20_000)  # it moves
    lab.screenshot(f"map-progress-live-{app.app}.png", lab.cell(2))
    lab.cell(2).locator(".zm-map-stop").click()  # the kernel is busy running the map
    lab.wait_done(4, timeout=20_000)
    static = lab.cell(2).locator(".zm-map")
    expect(static).to_contain_text("stopped")
    expect(static).to_contain_text("rows not run")
    expect(lab.cell(2).locator(".zm-map-live")).to_have_count(0)  # the widget became a plain output
    expect(lab.cell(2).locator(".zm-map-stop")).to_have_count(0)
    expect(lab.cell(2).locator(".zm-reopen-note")).to_have_count(0)  # emptied with the widget gone
    printed = lab.cell(3).locator(".jp-OutputArea-output").inner_text()
    match = re.search(r"result: stopped (\d+) (\d+) (\d+)", printed)
    assert match, printed
    done, not_run, total = map(int, match.groups())
    assert total == ROWS and done >= 2 and not_run >= ROWS // 2  # stopped early, well before the end
    lab.screenshot(f"map-progress-stopped-{app.app}.png", lab.cell(2))
    lab.save()

    lab.shutdown_kernels()
    fresh = lab.fresh_page()
    fresh.open(name)
    expect(fresh.cell(2).locator(".zm-map")).to_contain_text("stopped")
    expect(fresh.cell(2).locator(".zm-reopen-note")).to_have_count(0)
    fresh.page.wait_for_timeout(3000)  # the widget manager gives up on missing models after ~2 s
    assert fresh.widget_errors() == []
