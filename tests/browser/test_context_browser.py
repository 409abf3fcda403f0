"""Issue 13 in a real browser: a ``%%glm --draw`` image is a plain saved output, so it is still there
after save and reopen, and in an untrusted copy (JupyterLab 4 and Jupyter Notebook 7).

No key is set, so the built-in local server answers ``images/generations`` with a real small PNG
drawn from the prompt; the magic downloads it once and shows it as ``image/png``.
"""

from __future__ import annotations

import base64
from typing import Any

import nbformat
from playwright.sync_api import expect

# Each shown image of a cell: where it comes from and whether the browser decoded it.
IMAGES_JS = """(i) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  return [...cell.querySelectorAll('.jp-OutputArea-output img')].map(img => ({
    src: img.src.slice(0, 22), complete: img.complete, w: img.naturalWidth, h: img.naturalHeight,
    shown: img.getBoundingClientRect().width })); }"""
PROMPT = "A lighthouse at dusk, watercolour"


def _image_shown(nb: Any, cell: int) -> dict[str, Any]:
    """The one decoded ``data:image/png`` image of ``cell`` (waits until the browser decoded it)."""
    nb.page.wait_for_function(f"() => ({IMAGES_JS})({cell}).some(x => x.complete && x.w > 0)", timeout=30_000)
    images = nb.page.evaluate(IMAGES_JS, cell)
    assert len(images) == 1, images
    image = images[0]
    assert image["src"].startswith("data:image/png;base64"), image
    assert image["w"] > 0 and image["h"] > 0 and image["shown"] > 0, image
    return image


def test_drawn_image_survives_save_and_reopen(app: Any) -> None:
    name = app.notebook(
        f"draw-{app.app}.ipynb",
        [
            "%load_ext zhipu_magic",
            f"%%glm --draw -o picture\n{PROMPT}",
            "print(type(picture).__name__, len(picture) if isinstance(picture, bytes) else picture.size)",
        ],
    )
    app.open(name)
    app.run_all()
    app.wait_done(3)
    live = _image_shown(app, 1)
    expect(app.cell(1).locator(".jp-OutputArea-output").first).to_contain_text("local server")  # notice
    expect(app.cell(2).locator(".jp-OutputArea-output")).to_contain_text("PngImageFile")  # -o bound it
    app.cell(1).scroll_into_view_if_needed()
    app.screenshot(f"draw-live-{app.app}.png")
    app.save()

    saved = nbformat.read(str(app.root / name), as_version=4)
    outputs = [o for o in saved.cells[1].outputs if "image/png" in o.get("data", {})]
    assert len(outputs) == 1, saved.cells[1].outputs
    png = base64.b64decode(outputs[0]["data"]["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert "application/vnd.jupyter.widget-view+json" not in outputs[0]["data"]

    app.shutdown_kernels()
    fresh = app.fresh_page()
    fresh.open(name)
    reopened = _image_shown(fresh, 1)
    assert (reopened["w"], reopened["h"]) == (live["w"], live["h"])
    fresh.page.wait_for_timeout(3000)  # the widget manager gives up on missing models after ~2 s
    assert fresh.widget_errors() == []
    expect(fresh.cell(1).locator(".jp-InputPrompt")).to_have_text("[2]:")  # nothing ran again
    fresh.cell(1).scroll_into_view_if_needed()
    fresh.screenshot(f"draw-reopened-{app.app}.png")

    elsewhere = app.fresh_page()  # a copy opened by someone else: untrusted, still the same image
    elsewhere.open(app.untrusted_copy(name))
    assert _image_shown(elsewhere, 1)["w"] == live["w"]
    assert elsewhere.widget_errors() == []
    assert app.page.dialogs == [] and fresh.page.dialogs == [] and elsewhere.page.dialogs == []
