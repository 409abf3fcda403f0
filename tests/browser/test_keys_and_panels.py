"""The chat panel's keys and Clear (issue 10.9) and the task panel's list (10.13), in JupyterLab 4 and
Jupyter Notebook 7, with real key presses and clicks."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect


def test_chat_keys_send_and_clear_asks_first(app: Any) -> None:
    name = app.notebook(
        f"keys-{app.app}.ipynb",
        [
            "%load_ext zhipu_magic",
            "%glm chat keys",
            "from zhipu_magic.core.conversation import conversations\n"
            "print('turns:', len(conversations.get('keys').turns))",
        ],
    )
    app.open(name)
    app.run_all()
    app.wait_done(3)
    panel = app.cell(1).locator(".zm-chat-panel")
    box = panel.locator("textarea.zm-prompt-input")
    history = panel.locator(".widget-htmlmath").first
    # Enter adds a line (a prompt can be long), as in a cell; nothing is sent
    box.fill("echo: line one")
    box.press("End")
    box.press("Enter")
    box.type("line two")
    app.page.wait_for_timeout(300)
    expect(box).to_have_value("echo: line one\nline two")
    expect(history).to_contain_text("no messages yet")
    # Shift+Enter and Ctrl/Cmd+Enter send, as they run a cell; in Notebook 7 too, where the notebook
    # would otherwise take them to run the cell
    for key in ("Shift+Enter", "Control+Enter", "Meta+Enter"):
        box.fill(f"echo: sent with {key}")
        box.press(key)
        expect(history).to_contain_text(f"sent with {key}", timeout=20_000)
        expect(panel.locator(".zm-status")).to_contain_text("local server", timeout=20_000)
        expect(box).to_have_value("")
    assert app.page.locator(".jp-Notebook .jp-Cell").count() == 3  # no key ran or added a cell
    expect(app.cell(1).locator(".zm-chat-panel")).to_have_count(1)
    app.screenshot(f"chat-keys-{app.app}.png", panel)
    clear = panel.locator(".widget-button", has_text="Clear")
    clear.click()
    expect(panel.locator(".zm-status")).to_contain_text("click again")
    expect(panel).to_contain_text("sent with Shift+Enter")  # nothing wiped yet
    app.screenshot(f"chat-clear-asks-{app.app}.png", panel)
    panel.locator(".widget-button", has_text="Really clear?").click()
    expect(panel).to_contain_text("no messages yet")


def test_task_panel_list_is_bounded_and_rows_can_go(app: Any) -> None:
    name = app.notebook(
        f"panel-{app.app}.ipynb",
        [
            "%load_ext zhipu_magic",
            "%%glm --async\necho: from this notebook",
            "from zhipu_magic.core.tasks.store import get_store\n"
            "for i in range(30):\n"
            "    get_store().record_submission({'id': f'other-{i}', 'task_status': 'SUCCESS'},"
            " kind='chat', model='m', prompt=f'another notebook {i}', notebook='elsewhere')",
            "%glm tasks",
        ],
    )
    app.open(name)
    app.run_all()
    app.wait_done(4)
    panel = app.cell(3).locator(".zm-task-panel")
    rows = panel.locator(".zm-task-row")
    expect(rows).to_have_count(1)  # this notebook's task only
    expect(rows.first).to_contain_text("from this notebook")
    panel.locator(".widget-toggle-button", has_text="all").click()
    expect(rows.filter(has_text="another notebook")).to_have_count(30, timeout=10_000)  # and others' tests
    box = panel.locator(".zm-task-rows").bounding_box()
    assert box is not None and box["height"] <= 530  # a bounded scroll area, not an endless page
    assert panel.locator(".zm-task-rows").evaluate("n => n.scrollHeight > n.clientHeight")
    app.screenshot(f"task-panel-all-{app.app}.png", panel)
    panel.locator(".widget-button", has_text="Clear finished").click()
    expect(panel.locator(".zm-status")).to_contain_text("removed", timeout=10_000)
    panel.locator(".widget-toggle-button", has_text="this notebook").click()
    remaining = rows.count()
    if remaining:  # the async task may still be running: delete it by its row's button
        rows.first.locator("xpath=../../..").locator(".zm-delete").click()
    expect(rows).to_have_count(0, timeout=10_000)
    expect(panel).to_contain_text("no tasks for this notebook")
