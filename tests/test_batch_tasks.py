"""A Batch API job tracked as a task, over real HTTP against the local server: its record in the task
store, a rerun of the same map call collecting it after an interrupt and a "restart" (counted at the
server), the batch card (polls itself, Refresh, Cancel, a static output once final), the task panel's
batch rows with Cancel, and ``%glm result`` / ``%glm wait`` / ``%glm tasks`` with a batch id."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from zhipu_magic.api.batches import jsonl
from zhipu_magic.core.mapping import RowError, map_rows
from zhipu_magic.core.tasks import batches, records
from zhipu_magic.core.tasks import store as store_mod
from zhipu_magic.core.tasks.polling import refresh, wait_for_task
from zhipu_magic.core.tasks.store import TaskStore, get_store

SLOW = "[[fault:slow_first:0.3]]"


def created(server) -> int:
    return len([r for r in server.requests if r.method == "POST" and r.path.endswith("/batches")])


def uploads(server) -> int:
    return len([r for r in server.requests if r.method == "POST" and r.path.endswith("/files")])


def interrupt_at_first_report() -> object:
    """A progress callback that interrupts the run once (the Ctrl-C of a user while it waits)."""
    calls: list[object] = []

    def progress(p: object) -> None:
        calls.append(p)
        if len(calls) == 1:
            raise KeyboardInterrupt

    return progress


def restart(monkeypatch) -> None:
    """What a kernel restart does to the task store: the process's store objects are gone; the next
    one reads the files afresh."""
    monkeypatch.setattr(store_mod, "_STORES", {})


def batch_record(server, client, store: TaskStore, texts: list[str]) -> dict:
    content = jsonl((f"row-{i}", {"model": "glm-4-flash", "messages": [{"role": "user", "content": t}]})
                    for i, t in enumerate(texts))  # fmt: skip
    batch = client.create_batch(client.upload_file(content)["id"])
    return batches.record_batch(
        store, batch, model="glm-4-flash", prompt="map: echo: {}", base_url=client.base_url, local=True,
        rows=range(len(texts)), row_count=len(texts), map_key=batches.digest(content),
    )  # fmt: skip


# -- the record ------------------------------------------------------------------------------------
def test_a_map_batch_is_a_task_in_the_store_and_joined_back(server, make) -> None:
    values = [f"v{i}" for i in range(12)]
    out = map_rows("echo: {}", values, client=make(), batch=True, batch_poll=0.02)
    assert list(out) == values
    [rec] = get_store().list()
    assert rec["kind"] == "batch" and rec["id"].startswith("batch_") and rec["status"] == "completed"
    assert rec["request_counts"] == {"total": 12, "completed": 12, "failed": 0}
    assert rec["rows"] == [[0, 11]] and rec["row_count"] == 12 and rec["collected"] is True
    assert rec["input_file_id"].startswith("file-") and rec["output_file_id"].startswith("file-")
    assert rec["model"] == "glm-4-flash" and rec["prompt"] == "map: echo: {}" and rec["map_key"]
    assert rec["template_hash"] == batches.digest("echo: {}") and rec["notebook"]
    assert rec["submitted"] <= rec["finished"] and rec["polls"] >= 1
    assert "joined back to its rows" in batches.batch_summary(rec)


def test_rerun_after_an_interrupt_and_a_restart_collects_the_same_batch(server, make, monkeypatch) -> None:
    values = [f"r{i} {SLOW}" for i in range(10)]
    first = map_rows("echo: {}", values, client=make(), batch=True, batch_poll=0.02,
                     progress=interrupt_at_first_report())  # fmt: skip
    [rec] = get_store().list()
    assert first.stopped == f"interrupted: batch {rec['id']} runs on; run the same call again to collect it"
    assert all(isinstance(v, RowError) for v in first) and not rec["collected"]
    assert (created(server), uploads(server)) == (1, 1)
    restart(monkeypatch)
    again = map_rows("echo: {}", values, client=make(), batch=True, batch_poll=0.02)
    assert list(again) == [v.replace(f" {SLOW}", "") for v in values] and again.stopped is None
    assert (created(server), uploads(server)) == (1, 1)  # collected, not submitted again
    assert get_store().get(rec["id"])["collected"] is True
    third = map_rows("echo: {}", values, client=make(), batch=True, batch_poll=0.02)
    assert third.totals["from_record"] == 10 and created(server) == 1  # the call log has them all


def test_a_different_call_or_a_collected_batch_is_not_reused(server, make) -> None:
    map_rows("echo: {}", ["a", "b"], client=make(), batch=True, batch_poll=0.02, log=False)
    map_rows("echo: {}", ["a", "b"], client=make(), batch=True, batch_poll=0.02, log=False)
    assert created(server) == 2  # the first was collected; nothing in the log: asked again
    map_rows("echo: {}", ["a", "b"], client=make(), batch=True, batch_poll=0.02, log=False, temperature=0)
    assert created(server) == 3
    assert [r["collected"] for r in get_store().list()] == [True, True, True]


def test_a_failed_batch_keeps_its_reason_and_a_rerun_submits_anew(server, make, monkeypatch) -> None:
    client = make()
    store = get_store()
    rec = batch_record(server, client, store, ["echo: 1", "echo: 2"])
    bad = client.create_batch(client.upload_file(b"not json\n")["id"])
    batches.record_batch(store, bad, model="glm-4-flash", prompt="", base_url=client.base_url, local=True)
    done = wait_for_task(store, client, bad["id"], sleep=lambda s: time.sleep(0.02))
    assert done["status"] == "failed" and "invalid_json_line" in done["error"] and "line 1" in done["error"]
    assert wait_for_task(store, client, rec["id"], sleep=lambda s: time.sleep(0.02))["status"] == "completed"
    assert batches.find_batch(store, "nope", client.base_url) is None
    assert batches.find_batch(store, rec["map_key"], "http://elsewhere/v4") is None
    store.put({"id": rec["id"], "status": "failed"})  # (final already: stays completed)
    assert batches.find_batch(store, rec["map_key"], client.base_url)["id"] == rec["id"]
    assert "failed" in batches.batch_summary(done) and "invalid_json_line" in batches.batch_summary(done)


def test_refresh_polls_batches_and_tasks_alike_and_a_stale_write_loses_nothing(server, make) -> None:
    client = make()
    store = get_store()
    rec = batch_record(server, client, store, ["echo: x"])
    chat = client.submit([{"role": "user", "content": "echo: y"}], model="glm-4-flash")
    store.record_submission(chat, kind="chat", model="glm-4-flash", prompt="y")
    for _ in range(200):
        if not store.pending():
            break
        refresh(store, client)
        time.sleep(0.02)
    assert store.get(rec["id"])["status"] == "completed" and store.get(chat["id"])["status"] == "SUCCESS"
    stale = {"id": rec["id"], "status": "in_progress", "request_counts": {"total": 1, "completed": 0},
             "output_file_id": None}  # fmt: skip
    kept = store.put(stale)  # a late poll from another kernel
    assert (
        kept["status"] == "completed" and kept["output_file_id"] and kept["request_counts"]["completed"] == 1
    )
    store.put({"id": rec["id"], "collected": True})
    assert store.put({"id": rec["id"], "collected": False})["collected"] is True


def test_unusable_batch_fields_are_set_aside(tmp_path: Path) -> None:
    assert (
        records.invalid_reason({"id": "b", "request_counts": {"total": "3"}})
        == "request_counts are not counts"
    )
    assert records.invalid_reason({"id": "b", "rows": [[0]]}) == "rows are not ranges"
    assert records.invalid_reason({"id": "b", "output_file_id": 3}) == "output_file_id is not text"
    assert (
        records.invalid_reason({"id": "b", "rows": [[0, 4], [7, 7]], "request_counts": {"total": 6}}) is None
    )
    assert batches.unpack_rows(batches.pack_rows([0, 1, 2, 5, 7, 8])) == [0, 1, 2, 5, 7, 8]
    assert batches.pack_rows([0, 1, 2, 5, 7, 8]) == [[0, 2], [5, 5], [7, 8]]
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "batch_x.json").write_text(json.dumps({"id": "batch_x", "rows": "0-4"}))
    with pytest.warns(store_mod.TaskStoreWarning, match="rows are not ranges"):
        assert TaskStore(tmp_path).list() == []


def test_cancel_moves_a_batch_to_cancelled(server, make) -> None:
    client = make()
    store = get_store()
    rec = batch_record(server, client, store, [f"echo: {i} {SLOW}" for i in range(30)])
    assert batches.cancel_batch(store, client, rec["id"])["status"] == "cancelling"
    done = wait_for_task(store, client, rec["id"], sleep=lambda s: time.sleep(0.02))
    assert done["status"] == "cancelled" and done["finished"]
    assert any(r.path.endswith(f"/batches/{rec['id']}/cancel") for r in server.requests)


# -- in a cell, and across processes ----------------------------------------------------------------
def test_an_interrupted_batch_cell_says_how_to_collect_and_its_rerun_collects(ip, api) -> None:
    ip.user_ns["words"] = [f"w{i} {SLOW}" for i in range(8)]
    ip.rec.interrupt_on_update = 1  # Ctrl-C while the progress display waits for the batch
    ip.run_cell_magic("glm", "--map words --batch -o out", "echo: {}")
    [rec] = get_store().list()
    stopped = ip.user_ns["out"].stopped
    assert stopped == f"interrupted: batch {rec['id']} runs on; run the same call again to collect it"
    assert stopped in ip.rec.final()[-1]["text/plain"] and created(api) == 1
    ip.run_cell_magic("glm", "--map words --batch -o out", "echo: {}")
    assert list(ip.user_ns["out"]) == [f"w{i}" for i in range(8)] and created(api) == 1
    assert get_store().get(rec["id"])["collected"] is True


COLLECT = """
import json, sys
from zhipu_magic.core.mapping import map_rows
calls = []
def progress(p):
    calls.append(p)
    if sys.argv[1] == "interrupt" and len(calls) == 1:
        raise KeyboardInterrupt
out = map_rows("echo: {}", [f"k{i} [[fault:slow_first:0.3]]" for i in range(6)], batch=True, batch_poll=0.05,
               progress=progress)
print(json.dumps([out.stopped, list(map(str, out))]))
"""


def test_a_new_process_collects_the_batch_an_interrupted_one_left(api, tmp_path) -> None:
    """A kernel restart for real: the first process is interrupted while its batch runs and exits;
    a second process (same home, same call) collects that batch; the server sees one batch."""
    import os
    import subprocess
    import sys

    def run(mode: str) -> list:
        done = subprocess.run([sys.executable, "-c", COLLECT, mode], env=dict(os.environ),
                              capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
        return json.loads(done.stdout.splitlines()[-1])

    runs = [run("interrupt"), run("collect")]
    assert runs[0][0].startswith("interrupted: batch batch_") and runs[1][0] is None
    assert runs[1][1] == [f"k{i}" for i in range(6)]
    assert (created(api), uploads(api)) == (1, 1)
