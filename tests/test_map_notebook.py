"""``zhipu_magic.map`` and ``%%glm --map`` in a real in-process InteractiveShell against the local
server: the live progress (one output, updated in place, at most ten updates a second), binding,
``-o df.column``, and the checks made before anything is sent."""

from __future__ import annotations

import time

import pytest
from IPython.core.error import UsageError

import zhipu_magic
from zhipu_magic.core.mapping import MapResult, RowError
from zhipu_magic.notebook.map_view import ProgressView


def chats(srv) -> list[dict]:
    return [r.body for r in srv.requests if r.path.endswith("/chat/completions")]


def test_public_map_shows_one_live_output_at_most_ten_updates_a_second(ip, api):
    values = [f"[[fault:slow_first:0.04]] w{i}" for i in range(40)]
    started = time.monotonic()
    out = zhipu_magic.map("echo: {}", values, client=api.client(), concurrency=2)
    elapsed = time.monotonic() - started
    assert out == [f"w{i}" for i in range(40)]
    calls = ip.rec.calls
    ids = {c["id"] for c in calls}
    assert len(ids) == 1 and None not in ids  # one output, replaced in place
    assert [c["update"] for c in calls] == [False] + [True] * (len(calls) - 1)
    assert 2 <= len(calls) <= 10 * elapsed + 2, (len(calls), elapsed)
    final = ip.rec.final()[0]
    assert "40/40 done" in final["text/plain"] and "finished" in final["text/plain"]
    assert 'data-done="40"' in final["text/html"]


def test_progress_view_throttles_and_always_shows_the_end(ip):
    clock = [0.0]
    view = ProgressView(rich=True, clock=lambda: clock[0])
    from zhipu_magic.core.mapping import Progress

    def p(done: int, finished: bool = False) -> Progress:
        return Progress(done, 0, 1, 100, 0, 5, 5, clock[0], 10.0, 9.0, 4.0, None, finished)

    for i in range(50):  # 50 reports within 0.49 s
        clock[0] = i * 0.01
        view(p(i))
    assert view.updates == 5
    view(p(100, True))
    assert view.updates == 6 and "100/100 done" in ip.rec.final()[-1]["text/plain"]


def test_terminal_progress_is_one_rewritten_line(server):
    import io

    stream = io.StringIO()
    view = ProgressView(rich=False, stream=stream)
    zhipu_magic.map("echo: {}", ["a", "b"], client=server.client(), progress=False)
    from zhipu_magic.core.mapping import map_rows

    map_rows("echo: {}", ["a", "b", "c"], client=server.client(), progress=view)
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and "3/3 done" in text
    assert "2 from the call log" in text  # a and b were answered by the first run


def test_cell_map_binds_the_aligned_result(ip, api):
    ip.user_ns["words"] = ["alpha", "[[fault:bad_param]] beta", "gamma"]
    ip.run_cell_magic("glm", "--map words -o answers --concurrency 2", "echo: <{}>")
    answers = ip.user_ns["answers"]
    assert isinstance(answers, MapResult) and ip.user_ns["_glm"] is answers
    assert answers[0] == "<alpha>" and answers[2] == "<gamma>" and isinstance(answers[1], RowError)
    assert "2/3 done, 1 failed" in ip.rec.final()[-1]["text/plain"]
    assert len(chats(api)) == 3
    ip.run_cell_magic("glm", "--map words -o answers", "echo: <{}>")  # again: only the failed row
    assert len(chats(api)) == 4


def test_cell_map_adds_a_dataframe_column(ip, api):
    pd = pytest.importorskip("pandas")
    ip.user_ns["df"] = pd.DataFrame({"city": ["Paris", "Oslo"], "n": [1, 2]}, index=[5, 9])
    ip.run_cell_magic("glm", "--map df -o df.summary -s terse --temperature 0.2", "echo: {city} {n}")
    df = ip.user_ns["df"]
    assert df["summary"].to_dict() == {5: "Paris 1", 9: "Oslo 2"}
    body = chats(api)[0]
    assert body["temperature"] == 0.2 and body["messages"][0]["content"] == "terse"


def test_cell_map_json(ip, api):
    ip.user_ns["words"] = ["a"]
    ip.run_cell_magic("glm", "--map words --json -o out", "Give JSON with keys name and age for {}")
    assert set(ip.user_ns["out"][0]) == {"name", "age"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--map nothing_here", "no such variable"),
        ("--map words -o words.col", "adds a column"),
        ("--map words --concurrency 0", "--concurrency"),
        ("--map words --async", "does not go with"),
        ("--map words -o In", "belongs to IPython"),
    ],
)
def test_cell_map_checks_before_sending(ip, api, line, message):
    ip.user_ns["words"] = ["a"]
    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("glm", line, "echo: {}")
    assert chats(api) == []


def test_cell_map_interrupt_binds_the_partial_result_then_stops_the_cell(ip, api):
    ip.user_ns["words"] = ["a", "b"] + [f"[[fault:slow_first:3]] s{i}" for i in range(6)]
    ip.rec.interrupt_on_update = 1  # the interrupt lands in the first in-place update
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        ip.run_cell_magic("glm", "--map words -o out --concurrency 4", "echo: {}")
    assert time.monotonic() - started < 2.5
    out = ip.user_ns["out"]
    assert out.stopped == "interrupted" and out.totals["not_run"] >= 4
    assert "stopped: interrupted" in ip.rec.final()[-1]["text/plain"]


def test_cell_map_rows_are_in_the_call_log_unless_log_is_off(ip, api):
    from zhipu_magic.core.ledger import get_ledger
    from zhipu_magic.core.ledger.query import recent

    ip.user_ns["words"] = ["one", "two"]
    ip.run_cell_magic("glm", "--map words", "echo: {}")
    rows = [r for r in recent(get_ledger(), 10) if r["kind"] == "map"]
    assert sorted(r["answer"] for r in rows) == ["one", "two"]
    ip.run_line_magic("glm", "config log=off")
    ip.user_ns["words"] = ["three"]
    ip.run_cell_magic("glm", "--map words", "echo: {}")
    ip.run_cell_magic("glm", "--map words", "echo: {}")  # nothing recorded, so asked again
    assert len(chats(api)) == 4
    assert len([r for r in recent(get_ledger(), 10) if r["kind"] == "map"]) == 2


def test_cell_map_batch_goes_through_the_batch_api(ip, api):
    ip.user_ns["words"] = ["one", "two", "three"]
    ip.run_cell_magic("glm", "--map words --batch -o out", "echo: {}")
    assert list(ip.user_ns["out"]) == ["one", "two", "three"]
    assert [r.path.rsplit("/", 1)[-1] for r in api.requests if r.method == "POST"][:2] == ["files", "batches"]
    assert "3/3 done" in ip.rec.final()[-1]["text/plain"]
    with pytest.raises(UsageError, match="go with --map"):
        ip.run_cell_magic("glm", "--batch", "echo: x")


def test_without_a_kernel_that_routes_clicks_early_there_is_no_stop_button(ip, api):
    """A Stop the busy shell could only see after the run would be a lie: in a shell whose comms
    cannot report a click early (here: no kernel) the progress stays the plain in-place output."""
    from zhipu_magic.core.mapping import map_rows

    view = ProgressView(rich=True, stop_button=True)  # asked for, but this shell's comms are dummies

    map_rows("echo: {}", [f"[[fault:slow_first:0.05]] u{i}" for i in range(12)], client=api.client(),
             concurrency=2, progress=view, stop=view.stop_event)  # fmt: skip
    bundles = [c["data"] for c in ip.rec.calls]
    assert bundles and not any("application/vnd.jupyter.widget-view+json" in b for b in bundles)
    assert view.control is None and "12/12 done" in ip.rec.final()[-1]["text/plain"]


def test_the_live_progress_has_a_note_for_a_notebook_saved_mid_run_emptied_at_the_end(ip, monkeypatch):
    """Issue 10.2 for the map's live widget: before it, a note output (hidden by CSS while the widget
    lives) says how to resume, with the progress when saved; it is refreshed once a second at most, and
    emptied when the widget becomes the static progress, so a finished run saves just that."""
    from zhipu_magic.core.mapping import Progress
    from zhipu_magic.notebook import map_view

    monkeypatch.setattr(map_view, "watch_clicks", lambda button, on_click: True)  # a kernel's comms
    clock = [0.0]
    view = ProgressView(rich=True, clock=lambda: clock[0], stop_button=True)

    def report(done: int, finished: bool = False) -> None:
        view(Progress(done, 0, 1, 100, 2, 5, 5, clock[0], 10.0, 9.0, 4.0, None, finished))

    report(0)
    calls = ip.rec.calls
    assert [(c["id"], c["update"]) for c in calls] == [(view.note_id, False), (view.display_id, False)]
    note, live = calls[0]["data"], calls[1]["data"]
    assert "application/vnd.jupyter.widget-view+json" in live and "zm-live" in view.control.box._dom_classes
    assert 'class="zm-reopen-note"' in note["text/html"] and "zm-map-note" in note["text/html"]
    assert note["text/plain"].startswith(
        "this map was running when the notebook was saved: run the cell again to resume; answered rows"
        " come from the call log"
    )
    for t, done in ((0.5, 10), (0.9, 20), (1.1, 30)):
        clock[0] = t
        report(done)
    notes = [c for c in calls if c["id"] == view.note_id]
    assert len(notes) == 2 and notes[-1]["update"]
    assert notes[-1]["data"]["text/plain"].endswith("\nso far: 30/100 done (2 from the call log)")  # no ETA
    assert "ETA" not in notes[-1]["data"]["text/html"] and 'data-done="30"' in notes[-1]["data"]["text/html"]
    clock[0] = 3.0
    report(100, finished=True)
    final = {c["id"]: c["data"] for c in calls}
    assert final[view.note_id] == {}  # no leftover note
    assert "100/100 done" in final[view.display_id]["text/plain"] and view.control is None
    assert [out for out in ip.rec.final() if out] == [final[view.display_id]]  # just the static progress


def test_a_batch_run_note_says_run_the_cell_again_to_collect_its_batch():
    from zhipu_magic.core.mapping import Progress
    from zhipu_magic.notebook.render.progress import running_note

    text, html = running_note(Progress(3, 0, 7, 10, 0, 0, 0, 4.0, 0.0, None, 0.0, None, False))
    assert text.startswith("this map was running when the notebook was saved: run the cell again to collect")
    assert text.endswith("so far: 3/10 done") and 'data-done="3"' in html and "<script" not in html
