"""The task store: persistence, forward-only status, corrupt files, unwritable homes, two processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from zhipu_magic import tasks
from zhipu_magic.tasks import FAIL, PROCESSING, SUCCESS, TaskStore, TaskStoreWarning, merge

ROOT = Path(__file__).resolve().parents[1]


def submit(store: TaskStore, task_id: str, prompt: str = "hello", kind: str = "chat") -> dict:
    return store.record_submission(
        {"id": task_id, "model": "glm-4-flash", "task_status": PROCESSING, "request_id": "r1"},
        kind=kind,
        model="glm-4-flash",
        prompt=prompt,
    )


def test_submission_is_persisted_and_listed_after_restart(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    assert store.persistent and store.problem is None
    rec = submit(store, "t1", "x " * 500)
    assert rec["status"] == PROCESSING and rec["kind"] == "chat"
    assert len(rec["prompt"]) <= tasks.PROMPT_CHARS and rec["prompt"].endswith("\u2026")
    on_disk = json.loads((tmp_path / "tasks" / "t1.json").read_text())
    assert on_disk["id"] == "t1" and on_disk["status"] == PROCESSING
    # a "restarted kernel": a new store object over the same home sees the task
    again = TaskStore(tmp_path)
    assert [r["id"] for r in again.list()] == ["t1"]
    assert [r["id"] for r in again.pending()] == ["t1"]


def test_newest_first(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    for i in range(3):
        submit(store, f"t{i}")
        time.sleep(0.002)
    assert [r["id"] for r in store.list()] == ["t2", "t1", "t0"]


def test_success_and_fail_results(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    submit(store, "ok")
    submit(store, "bad")
    resp = {
        "id": "ok",
        "task_status": SUCCESS,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    rec = store.apply_result("ok", resp)
    assert rec["status"] == SUCCESS and rec["result"]["choices"][0]["message"]["content"] == "hi"
    assert rec["polls"] == 1 and rec["finished"]
    rec = store.apply_result(
        "bad", {"id": "bad", "task_status": FAIL, "error": {"code": "1301", "message": "no"}}
    )
    assert rec["status"] == FAIL and rec["error"] == "[1301] no"
    assert store.apply_result("bad", {"task_status": FAIL})["error"] == "[1301] no"  # first final wins
    assert store.pending() == []


def test_unknown_status_is_stored_and_pending(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    submit(store, "u")
    rec = store.apply_result("u", {"task_status": "QUEUED_SOMEWHERE"})
    assert rec["status"] == "QUEUED_SOMEWHERE"
    assert [r["id"] for r in store.pending()] == ["u"]
    assert store.apply_result("u", {})["status"] == tasks.UNKNOWN
    assert store.apply_result("u", {"task_status": SUCCESS})["status"] == SUCCESS


def test_status_never_moves_backwards(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    submit(store, "t")
    store.apply_result("t", {"task_status": SUCCESS, "choices": []})
    rec = store.apply_result("t", {"task_status": PROCESSING})
    assert rec["status"] == SUCCESS and rec["polls"] == 2
    # a stale whole record written by another kernel does not win either
    stale = {"id": "t", "status": PROCESSING, "result": None, "polls": 0, "submitted": 1.0}
    rec = store.put(stale)
    assert rec["status"] == SUCCESS and rec["result"] == {"task_status": SUCCESS, "choices": []}
    assert rec["submitted"] == 1.0  # the earliest submitted time is kept


def test_merge_rules() -> None:
    assert merge(None, {"id": "a", "status": PROCESSING}) == {"id": "a", "status": PROCESSING}
    m = merge({"id": "a", "status": FAIL, "error": "x"}, {"id": "a", "status": SUCCESS, "error": None})
    assert m["status"] == FAIL and m["error"] == "x"
    m = merge({"id": "a", "status": "WEIRD"}, {"id": "a", "status": PROCESSING})
    assert m["status"] == PROCESSING  # pending spellings may change freely


def test_note_error_and_mark_failed(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    submit(store, "t")
    assert store.note_error("t", "connection refused")["last_error"] == "connection refused"
    assert store.get("t")["status"] == PROCESSING
    rec = store.mark_failed("t", "unknown task id")
    assert rec["status"] == FAIL and rec["error"] == "unknown task id" and rec["last_error"] is None


def test_unsafe_ids_are_hashed_into_file_names(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    submit(store, "../../etc/passwd")
    names = os.listdir(tmp_path / "tasks")
    assert all("/" not in n and not n.startswith("..") for n in names)
    assert store.get("../../etc/passwd")["id"] == "../../etc/passwd"


def test_corrupt_file_is_set_aside_with_one_warning(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    submit(store, "good")
    (tmp_path / "tasks" / "broken.json").write_text('{"id": "broken", "status": ')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [r["id"] for r in store.list()] == ["good"]
        assert [r["id"] for r in store.list()] == ["good"]  # second listing: no second warning
    assert len([w for w in caught if issubclass(w.category, TaskStoreWarning)]) == 1
    assert "broken.json" in str(caught[0].message)
    names = os.listdir(tmp_path / "tasks")
    assert "broken.json" not in names
    assert any(n.startswith("broken.json.corrupt-") for n in names)
    submit(store, "after")  # the store keeps working
    assert {r["id"] for r in store.list()} == {"good", "after"}


def test_home_that_is_a_file_falls_back_to_memory(tmp_path: Path) -> None:
    # Tests run as root, so chmod cannot make a directory unwritable; a home path whose parent is
    # a regular file fails the same way a read-only mount does (mkdir raises OSError).
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with pytest.warns(TaskStoreWarning, match="in memory"):
        store = TaskStore(blocker / "home")
    assert not store.persistent
    assert store.problem and "\n" not in store.problem and "ZHIPU_MAGIC_HOME" in store.problem
    submit(store, "m1")
    store.apply_result("m1", {"task_status": SUCCESS, "choices": []})
    assert store.get("m1")["status"] == SUCCESS and [r["id"] for r in store.list()] == ["m1"]


def test_tasks_path_that_is_a_file_falls_back(tmp_path: Path) -> None:
    (tmp_path / "tasks").write_text("x")
    with pytest.warns(TaskStoreWarning):
        store = TaskStore(tmp_path)
    assert not store.persistent
    submit(store, "m")
    assert store.get("m")


def test_write_failure_midway_falls_back_keeping_records(tmp_path: Path, monkeypatch) -> None:
    store = TaskStore(tmp_path)
    submit(store, "before")

    def boom(*a, **k):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tasks.tempfile, "mkstemp", boom)
    with pytest.warns(TaskStoreWarning, match="Read-only file system"):
        submit(store, "after")
    assert not store.persistent
    assert {r["id"] for r in store.list()} == {"before", "after"}


def test_no_temp_files_left_and_key_never_stored(tmp_path: Path, canary: str) -> None:
    from zhipu_magic.config import Secret

    store = TaskStore(tmp_path)
    submit(store, "t")
    store.put({"id": "t", "odd": Secret(canary)})  # even a stray Secret is written masked
    for p in (tmp_path / "tasks").iterdir():
        if p.is_file():
            assert canary not in p.read_text()
    assert [p.name for p in (tmp_path / "tasks").iterdir() if p.name.endswith(".tmp")] == []


def test_get_store_is_per_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ZHIPU_MAGIC_HOME", str(tmp_path / "a"))
    a = tasks.get_store()
    assert tasks.get_store() is a
    monkeypatch.setenv("ZHIPU_MAGIC_HOME", str(tmp_path / "b"))
    assert tasks.get_store() is not a


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from zhipu_magic.tasks import TaskStore
    home, name, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    store = TaskStore(home)
    while not go.exists():
        time.sleep(0.001)
    for i in range(60):
        store.record_submission({"id": f"{name}-{i}", "task_status": "PROCESSING"},
                                kind="chat", model="m", prompt=f"{name} {i}")
        # both processes hammer the same task; only writer A ever reports SUCCESS (at i == 20)
        status = "SUCCESS" if (name == "A" and i >= 20) else "PROCESSING"
        store.apply_result("shared", {"task_status": status, "by": name, "i": i})
    print("done", name)
    """
)


def test_two_processes_lose_nothing_and_never_go_backwards(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = TaskStore(home)
    submit(store, "shared")
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(home), name, str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("A", "B")
    ]
    time.sleep(0.3)  # let both import and wait at the barrier
    go.touch()
    seen_success = False
    shared = home / "tasks" / "shared.json"
    while any(p.poll() is None for p in procs):  # a third reader: every read parses, no step back
        data = json.loads(shared.read_text())
        if data["status"] == SUCCESS:
            seen_success = True
        else:
            assert not seen_success, "status moved backwards on disk"
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert "TaskStoreWarning" not in err
    files = [p for p in (home / "tasks").iterdir() if p.name.endswith(".json")]
    ids = set()
    for f in files:
        ids.add(json.loads(f.read_text())["id"])  # every file is valid JSON
    assert ids == {"shared"} | {f"{n}-{i}" for n in "AB" for i in range(60)}
    final = store.get("shared")
    assert final["status"] == SUCCESS and final["polls"] == 120  # every poll counted, none lost
    assert [p.name for p in (home / "tasks").iterdir() if p.name.endswith(".tmp")] == []
