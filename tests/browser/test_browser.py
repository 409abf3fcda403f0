"""JupyterLab 4 in headless chromium: streaming, task panel, chat panel, hostile output."""

from __future__ import annotations

from typing import Any


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
    lab.screenshot("smoke.png")
    assert lab.page.dialogs == []
