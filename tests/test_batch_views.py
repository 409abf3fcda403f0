"""A batch on screen, over real HTTP against the local server: the batch card (polls itself with
backoff, counts, Refresh, Cancel, a static output once final), the task panel's batch rows with
Cancel, and ``%glm result`` / ``%glm wait`` / ``%glm tasks`` given a batch id in a real shell."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("ipywidgets")

from zhipu_magic.api.batches import jsonl  # noqa: E402
from zhipu_magic.api.client import GLMClient  # noqa: E402
from zhipu_magic.core.tasks import batches  # noqa: E402
from zhipu_magic.core.tasks.polling import wait_for_task  # noqa: E402
from zhipu_magic.core.tasks.store import get_store  # noqa: E402
from zhipu_magic.notebook.render.batch import batch_card_bundle, batch_row_html  # noqa: E402
from zhipu_magic.notebook.widgets.batch_card import BatchCard, show_batch  # noqa: E402
from zhipu_magic.notebook.widgets.tasks import TaskPanel  # noqa: E402

SLOW = "[[fault:slow_first:0.3]]"


def submitted(client, texts: list[str]) -> dict:
    """A batch as map(batch=True) keeps it: created, then recorded before anything polls it."""
    content = jsonl((f"row-{i}", {"model": "glm-4-flash", "messages": [{"role": "user", "content": t}]})
                    for i, t in enumerate(texts))  # fmt: skip
    batch = client.create_batch(client.upload_file(content)["id"])
    return batches.record_batch(
        get_store(), batch, model="glm-4-flash", prompt="map: echo: {}", base_url=client.base_url,
        local=True, rows=range(len(texts)), row_count=len(texts), map_key=batches.digest(content),
    )  # fmt: skip


def finished(client, texts: list[str]) -> dict:
    rec = submitted(client, texts)
    return wait_for_task(get_store(), client, rec["id"], sleep=lambda s: time.sleep(0.02))


def inert(html: str) -> bool:
    return "<script" not in html and " on" not in html.replace(" one", "")


def test_the_card_polls_by_itself_until_completed(server, make) -> None:
    client = make()
    rec = submitted(client, [f"echo: c{i} {SLOW}" for i in range(6)])  # long enough for a few polls
    card = BatchCard(rec, client, backoff=(0.02, 0.05))
    assert "validating" in card.header.value and not card.cancel_button.disabled
    card.poller.join(10)
    assert not card.poller.running and "completed" in card.header.value
    assert "6 done of 6" in card.body.value and "output file" in card.body.value
    assert card.refresh_button.disabled and card.cancel_button.disabled
    assert card.poller.delays[:3] == [0.02, 0.04, 0.05]
    assert "joins the answers" not in card.body.value and "join the answers to the rows" in card.body.value
    card.close()


def test_cancel_on_the_card_follows_the_batch_to_cancelled(server, make) -> None:
    client = make()
    rec = submitted(client, [f"echo: {i} {SLOW}" for i in range(30)])
    card = BatchCard(rec, client, auto=False)
    card.cancel(wait=True)
    assert "cancelling" in card.header.value and card.cancel_button.disabled
    assert any(r.path.endswith(f"/batches/{rec['id']}/cancel") for r in server.requests)
    for _ in range(100):
        card.refresh(wait=True)
        if "cancelled" in card.header.value:
            break
        time.sleep(0.05)
    assert "cancelled" in card.header.value and card.refresh_button.disabled
    assert get_store().get(rec["id"])["status"] == "cancelled"
    card.close()


def test_a_finished_card_leaves_a_static_output_not_a_widget(server, make, monkeypatch) -> None:
    from zhipu_magic.notebook import render
    from zhipu_magic.notebook.render import live

    shown: list[tuple[dict, str | None, bool]] = []

    def show(bundle, *, display_id=None, update=False):
        shown.append((dict(bundle), display_id, update))

    monkeypatch.setattr(live, "is_rich_frontend", lambda shell=None: True)
    monkeypatch.setattr(render, "show", show)  # first: render.show is read (and kept) from live here
    monkeypatch.setattr(live, "show", show)
    client = make()
    rec = submitted(client, ["echo: a", "echo: b [[fault:bad_param]]"])
    card = BatchCard(rec, client, auto=False)
    card._ipython_display_()
    note_id = shown[0][1]
    assert "still running when this was saved: %glm result " in shown[0][0]["text/plain"]
    for _ in range(100):
        card.refresh(wait=True)
        if card.record["status"] == "completed":
            break
        time.sleep(0.03)
    bundle, display_id, update = shown[-1]
    assert (display_id, update) == (note_id, True)  # the note became the static card
    assert "zm-reopen-note" in bundle["text/html"] and "1 done, 1 failed of 2" in bundle["text/plain"]
    assert "error file" in bundle["text/html"] and inert(bundle["text/html"])
    card.close()
    shown.clear()
    assert show_batch(rec["id"], client) is None  # final: a plain output, nothing to reopen
    assert len(shown) == 1 and "application/vnd.jupyter.widget-view+json" not in shown[0][0]


def test_hostile_ids_and_reasons_are_escaped() -> None:
    rec = {
        "id": "batch_<img src=x onerror=alert(1)>",
        "kind": "batch",
        "status": "<b>failed",
        "error": "<script>x</script>",
        "request_counts": {"total": 2, "completed": 1, "failed": 1},
    }
    for html in (batch_card_bundle(rec)["text/html"], batch_row_html(rec)):
        assert "<img" not in html and "<script" not in html and "<b>" not in html


def test_the_task_panel_lists_batches_with_cancel(server, make) -> None:
    client = make()
    done = finished(client, ["echo: x"])
    running = submitted(client, [f"echo: {i} {SLOW}" for i in range(30)])
    panel = TaskPanel(client)
    rows = {row.task_id: row for row in panel.rows.children if hasattr(row, "task_id")}
    assert set(rows) == {done["id"], running["id"]}
    assert "1 done of 1" in rows[done["id"]].value and rows[done["id"]].cancel_button.layout.display == "none"
    assert (
        rows[running["id"]].cancel_button.layout.display == ""
        and "map: echo: {}" in rows[running["id"]].value
    )
    panel.cancel(running["id"], wait=True)
    assert "cancelling" in panel.status.value and get_store().get(running["id"])["status"] == "cancelling"
    assert rows[running["id"]].cancel_button.layout.display == "none"
    for _ in range(100):
        panel.refresh(wait=True)
        if not get_store().pending():
            break
        time.sleep(0.05)
    assert (
        get_store().get(running["id"])["status"] == "cancelled" and "cancelled" in rows[running["id"]].value
    )
    assert panel.clear_finished() == 2
    panel.close()


# -- %glm with a batch id ----------------------------------------------------------------------------
def test_glm_result_and_wait_with_a_batch_id(ip, api, canary, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with GLMClient(api_key=canary, base_url=api.base_url) as client:
        rec = submitted(client, ["echo: one", "echo: two"])
        ip.run_line_magic("glm", f"wait {rec['id']}")
        text = ip.rec.calls[-1]["data"]["text/plain"]
        assert text.startswith(
            f"batch {rec['id']} · glm-4-flash · completed · 2 done of 2 · output file file-"
        )
        assert "again to join the answers to the rows" in text and canary not in ip.rec.all_text()
        ip.run_line_magic("glm", f"result {rec['id']} -o out.jsonl")
        saved = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
        assert sorted(x["custom_id"] for x in saved) == ["row-0", "row-1"]
        assert "Saved" in ip.rec.calls[-1]["data"]["text/plain"]
        ip.run_line_magic("glm", f"result {rec['id']} -o info")
        assert ip.user_ns["info"]["status"] == "completed" and ip.user_ns["info"]["kind"] == "batch"
        # a batch made elsewhere (no record here): adopted, then kept as a task
        other = client.create_batch(
            client.upload_file(jsonl([("x-1", {"model": "glm-4-flash", "messages": []})]))["id"]
        )
        ip.run_line_magic("glm", f"result {other['id']}")
        assert get_store().get(other["id"])["kind"] == "batch"
        note, view = (c["data"] for c in ip.rec.calls[-2:])  # running: the live card after its note
        assert f"batch {other['id']} was still running" in note["text/plain"]
        assert "application/vnd.jupyter.widget-view+json" in view


def test_glm_tasks_lists_a_batch_of_this_notebook(ip, api, canary) -> None:
    with GLMClient(api_key=canary, base_url=api.base_url) as client:
        rec = finished(client, ["echo: listed"])
    ip.run_line_magic("glm", "tasks")
    assert "1 tasks, 0 pending" in ip.rec.all_text() and rec["id"]
