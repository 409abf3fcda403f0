"""``%%glm --map NAME --batch`` shows the card of each batch it creates while the cell waits (status,
counts, Refresh, Cancel), and leaves static cards once the run ends (nothing to reopen); Stop during
a batch run says in one line that the batch runs on and how to collect or cancel it (issue 15).
A real shell, the package's local server over real HTTP."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")

from zhipu_magic.core.tasks.store import get_store  # noqa: E402
from zhipu_magic.notebook import cell_map  # noqa: E402
from zhipu_magic.notebook.map_view import ProgressView  # noqa: E402

SLOW = "[[fault:slow_first:0.3]]"
WIDGET = "application/vnd.jupyter.widget-view+json"


def created(server) -> int:
    return sum(r.method == "POST" and r.path.endswith("/batches") for r in server.requests)


def test_a_batch_cell_shows_the_live_card_while_it_waits_then_a_static_one(ip, api):
    ip.user_ns["words"] = [f"w{i} {SLOW}" for i in range(4)]
    ip.run_cell_magic("glm", "--map words --batch -o out", "echo: {}")
    assert list(ip.user_ns["out"]) == ["w0", "w1", "w2", "w3"]  # bound as before
    [rec] = get_store().list()
    calls = ip.rec.calls
    live = [i for i, c in enumerate(calls) if WIDGET in c["data"] and rec["id"] in c["data"]["text/plain"]]
    assert len(live) == 1, "one live card for the one batch"
    progress = [i for i, c in enumerate(calls) if "zm-map" in c["data"].get("text/html", "")]
    assert live[0] < progress[-1]  # shown while the cell waited, before the run ended
    card_id = calls[live[0]]["id"]
    assert card_id  # a display id, so the end can replace it in place
    final = [out for out in ip.rec.final() if out]  # the card's note was emptied: no data left
    assert not any(WIDGET in out for out in final)  # static after the run: nothing to reopen
    assert not any("zm-reopen-note" in out.get("text/html", "") for out in final)
    [card] = [out for out in final if rec["id"] in out["text/plain"] and "zm-map" not in out["text/html"]]
    assert [c for c in calls if c["id"] == card_id][-1]["update"]  # the live card replaced in place
    assert "completed" in card["text/plain"] and "4 done of 4" in card["text/plain"]
    assert "4/4 done" in final[-1]["text/plain"]  # the progress still ends the cell's outputs


def test_stop_during_a_batch_run_says_the_batch_runs_on_and_how_to_collect_or_cancel(ip, api, monkeypatch):
    view = ProgressView(rich=True)
    monkeypatch.setattr(cell_map, "progress_view", lambda shell=None: view)
    publish = ip.rec.publish

    def stop_once_the_card_is_up(data, *args, **kwargs):  # Stop clicked as the batch appears
        publish(data, *args, **kwargs)
        if WIDGET in data and "batch_" in data.get("text/plain", ""):
            view.stop_event.set()

    monkeypatch.setattr(ip.rec, "publish", stop_once_the_card_is_up)
    ip.user_ns["words"] = [f"s{i} {SLOW}" for i in range(12)]
    ip.run_cell_magic("glm", "--map words --batch -o out", "echo: {}")  # Stop does not stop the cell
    [rec] = get_store().list()
    line = (
        f"stopped: batch {rec['id']} runs on; run the same call again to collect it, "
        "or cancel it (the task panel, %glm tasks, has Cancel)"
    )
    assert ip.user_ns["out"].stopped == line
    text = ip.rec.final()[-1]["text/plain"]
    assert line in text and "interrupted" not in text and "stopped: stopped" not in text
    assert "\n" not in line and not any(WIDGET in out for out in ip.rec.final())
    assert not get_store().get(rec["id"]).get("collected")  # it runs on, not joined back
    monkeypatch.setattr(ip.rec, "publish", publish)
    monkeypatch.setattr(cell_map, "progress_view", lambda shell=None: ProgressView(rich=True))
    ip.run_cell_magic("glm", "--map words --batch -o out", "echo: {}")  # the same call collects it
    assert list(ip.user_ns["out"]) == [f"s{i}" for i in range(12)] and created(api) == 1
    assert get_store().get(rec["id"])["collected"] is True


def test_cancel_on_a_run_card_cancels_the_batch_the_map_waits_for(ip, api, monkeypatch):
    from zhipu_magic.notebook.widgets.batch_card import RunCards

    made: list[RunCards] = []

    def cards(client):
        made.append(RunCards(client))
        return made[-1]

    monkeypatch.setattr(cell_map, "_batch_cards", cards)
    publish = ip.rec.publish

    clicked: list[bool] = []

    def cancel_once_the_card_is_up(data, *args, **kwargs):  # Cancel clicked on the card mid-run
        publish(data, *args, **kwargs)
        if made and made[0].cards and not clicked:
            clicked.append(True)
            made[0].cards[0][0].cancel(wait=True)

    monkeypatch.setattr(ip.rec, "publish", cancel_once_the_card_is_up)
    ip.user_ns["words"] = [f"c{i} {SLOW}" for i in range(30)]
    ip.run_cell_magic("glm", "--map words --batch -o out", "echo: {}")
    [rec] = get_store().list()
    assert clicked and any(r.path.endswith(f"/batches/{rec['id']}/cancel") for r in api.requests)
    assert get_store().get(rec["id"])["status"] == "cancelled"  # the map followed it to its end
    assert any(getattr(v, "kind", None) == "batch_cancelled" for v in ip.user_ns["out"])
    assert not any(WIDGET in out for out in ip.rec.final()) and not made[0].cards


def saved_at(calls: list[dict], n: int) -> list[dict]:
    """The outputs a notebook saved after the first ``n`` publishes holds (updates in place)."""
    outputs: dict = {}
    for i, call in enumerate(calls[:n]):
        outputs[call["id"] or f"anon-{i}"] = call["data"]
    return list(outputs.values())


def test_a_batch_card_has_a_note_a_notebook_saved_mid_run_shows_and_it_goes_at_the_end(ip, api):
    """Issue 10.2 for the cards of a map run: saved while the batch runs and reopened with no kernel,
    the cell shows one line (how to collect the batch) where the card was, not a widget error."""
    ip.user_ns["words"] = [f"n{i} {SLOW}" for i in range(3)]
    ip.run_cell_magic("glm", "--map words --batch -o out", "echo: {}")
    [rec] = get_store().list()
    calls = ip.rec.calls
    [live] = [i for i, c in enumerate(calls) if WIDGET in c["data"]]
    note = calls[live - 1]  # right before the card: the CSS hides it while the card lives
    assert "zm-reopen-note" in note["data"]["text/html"] and note["id"] and not note["update"]
    mid_run = saved_at(calls, live + 1)[-2]  # a save now: the note, then the card's widget
    assert mid_run["text/plain"] == (
        f"batch {rec['id']} was running when the notebook was saved: run the cell again to collect its"
        f" rows (nothing is sent twice), or %glm result {rec['id']} to see it"
    )
    final = {c["id"]: c["data"] for c in calls if c["id"]}
    assert final[note["id"]] == {}  # emptied when the card became static: the saved notebook has no note
    assert "completed" in final[calls[live]["id"]]["text/plain"]
    kept = [out for out in ip.rec.final() if out]
    assert not any(WIDGET in out or "zm-reopen-note" in out.get("text/html", "") for out in kept)
