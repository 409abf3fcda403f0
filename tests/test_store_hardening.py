"""The task store against hostile or broken files (issue 11, RELIABILITY case 35): FIFOs, links to
devices, huge files, deep nesting and fields of the wrong type are set aside; ``list()`` never
hangs, raises or reads a file whole. And local asset links that outlive the server's port."""

from __future__ import annotations

import json
import os
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import pytest
import requests

from zhipu_magic.core.tasks import records
from zhipu_magic.core.tasks.store import TaskStore, TaskStoreWarning


def _store_with_good_task(tmp_path: Path) -> TaskStore:
    store = TaskStore(tmp_path)
    store.record_submission({"id": "good-1", "task_status": "PROCESSING"}, kind="chat", model="m", prompt="p")
    return store


def _list_in_thread(store: TaskStore, timeout: float = 10.0) -> list[dict]:
    """``store.list()`` that fails the test instead of hanging it."""
    out: list = []
    errors: list = []

    def run() -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TaskStoreWarning)
                out.append(store.list())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), "TaskStore.list() hung"
    assert not errors, errors
    return out[0]


def _aside(store: TaskStore, name: str) -> bool:
    names = os.listdir(store.directory)
    return name not in names and any(n.startswith(name + ".corrupt-") for n in names)


@pytest.mark.parametrize(
    "field, value",
    [
        ("submitted", "yesterday"),
        ("updated", [1]),
        ("finished", float("inf")),
        ("status", {"x": 1}),
        ("polls", "many"),
        ("result", ["not", "a", "dict"]),
        ("prompt", 42),
        ("id", 7),
    ],
)
def test_wrong_types_are_set_aside_and_listing_works(tmp_path: Path, field: str, value: object) -> None:
    store = _store_with_good_task(tmp_path)
    bad = {"id": "bad-1", "status": "PROCESSING", "submitted": 1.0, field: value}
    (store.directory / "bad-1.json").write_text(json.dumps(bad))
    with pytest.warns(TaskStoreWarning, match="bad-1.json"):
        listed = store.list()
    assert [r["id"] for r in listed] == ["good-1"]
    assert _aside(store, "bad-1.json")
    assert store.pending()[0]["id"] == "good-1"


def test_fifo_does_not_hang(tmp_path: Path) -> None:
    store = _store_with_good_task(tmp_path)
    os.mkfifo(store.directory / "fifo.json")
    assert [r["id"] for r in _list_in_thread(store)] == ["good-1"]
    assert _aside(store, "fifo.json")


def test_symlink_to_dev_zero_is_not_read(tmp_path: Path) -> None:
    store = _store_with_good_task(tmp_path)
    os.symlink("/dev/zero", store.directory / "zero.json")
    tracemalloc.start()
    try:
        listed = _list_in_thread(store)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r["id"] for r in listed] == ["good-1"]
    assert peak < 5_000_000
    assert _aside(store, "zero.json")
    assert os.path.exists("/dev/zero")  # the link was moved, not its target


def test_symlink_to_a_valid_record_elsewhere_is_not_followed(tmp_path: Path) -> None:
    store = _store_with_good_task(tmp_path)
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"id": "linked", "status": "SUCCESS"}))
    os.symlink(outside, store.directory / "linked.json")
    assert [r["id"] for r in _list_in_thread(store)] == ["good-1"]
    assert outside.exists()


def test_huge_file_is_never_read_whole(tmp_path: Path) -> None:
    store = _store_with_good_task(tmp_path)
    huge = store.directory / "huge.json"
    with open(huge, "wb") as fh:  # sparse: 600 MB on paper, nothing on disk
        fh.truncate(600 * 1024 * 1024)
    tracemalloc.start()
    try:
        listed = _list_in_thread(store)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r["id"] for r in listed] == ["good-1"]
    assert peak < 5_000_000
    assert _aside(store, "huge.json")


def test_size_cap_holds_for_valid_json_too(tmp_path: Path) -> None:
    store = _store_with_good_task(tmp_path)
    big = {"id": "big", "status": "SUCCESS", "prompt": "x" * (records.MAX_FILE_BYTES + 10)}
    (store.directory / "big.json").write_text(json.dumps(big))
    assert [r["id"] for r in _list_in_thread(store)] == ["good-1"]


@pytest.mark.parametrize("payload", ["[" * 100_000, '{"id": "deep", "result": ' + "[" * 100_000])
def test_deeply_nested_file_is_set_aside(tmp_path: Path, payload: str) -> None:
    store = _store_with_good_task(tmp_path)
    (store.directory / "deep.json").write_text(payload)
    assert [r["id"] for r in _list_in_thread(store)] == ["good-1"]
    assert _aside(store, "deep.json")


def test_valid_json_nested_past_the_depth_limit_is_set_aside(tmp_path: Path) -> None:
    store = _store_with_good_task(tmp_path)
    deep: object = "leaf"
    for _ in range(500):  # parses fine, but a view walking it recursively would not survive 100k
        deep = [deep]
    (store.directory / "deep.json").write_text(json.dumps({"id": "deep", "result": {"x": deep}}))
    assert [r["id"] for r in _list_in_thread(store)] == ["good-1"]
    assert records.invalid_reason({"id": "x", "result": {"a": [[1]]}}) is None


def test_a_directory_named_json_is_set_aside(tmp_path: Path) -> None:
    store = _store_with_good_task(tmp_path)
    (store.directory / "dir.json").mkdir()
    assert [r["id"] for r in _list_in_thread(store)] == ["good-1"]


def test_writing_over_a_bad_file_starts_afresh(tmp_path: Path) -> None:
    store = _store_with_good_task(tmp_path)
    (store.directory / "t-1.json").write_text(json.dumps({"id": "t-1", "submitted": "yesterday"}))
    with pytest.warns(TaskStoreWarning):
        rec = store.record_submission({"id": "t-1"}, kind="chat", model="m", prompt="again")
    assert isinstance(rec["submitted"], float) and store.get("t-1")["prompt"] == "again"


# -- local asset links outlive the local server's port (issue 10, item 3) -----------------------


def test_local_video_links_survive_a_new_server_port(tmp_path: Path, monkeypatch) -> None:
    """A video task recorded by one local server still plays after that server is gone and another
    (a restarted kernel's, on a new port) runs: the store keeps a port-free form and resolves it."""
    from zhipu_magic.core import backend
    from zhipu_magic.core.tasks import polling
    from zhipu_magic.server import LocalServer

    store = TaskStore(tmp_path)
    with LocalServer(port=0, task_polls=0) as first:
        client = first.client()
        rec = polling.submit_request(store, client, client_video_request(), prompt="a cat", kind="video")
        done = polling.poll_task(store, client, rec["id"])
        assert done["result"]["video_result"][0]["url"].startswith(first.base_url)
        client.close()
    raw = json.loads(next(store.directory.glob("*.json")).read_text())
    assert raw["result"]["video_result"][0]["url"] == "zhipu-local:files/sample.mp4"
    assert str(first.port) not in json.dumps(raw["result"])

    with LocalServer(port=0) as second:
        monkeypatch.setattr(backend, "local_server_url", lambda: second.base_url)
        fresh = TaskStore(tmp_path)  # a restarted kernel
        video = fresh.get(rec["id"])["result"]["video_result"][0]
        assert video["url"] == f"{second.base_url}/files/sample.mp4"
        assert requests.get(video["url"], timeout=5).content[4:8] == b"ftyp"
        assert requests.get(video["cover_image_url"], timeout=5).content.startswith(b"\x89PNG")
        assert fresh.list()[0]["result"]["video_result"][0]["url"] == video["url"]


def test_remote_links_are_kept_verbatim() -> None:
    rec = {
        "id": "x",
        "local": False,
        "result": {"video_result": [{"url": "http://127.0.0.1:9/api/paas/v4/files/a.mp4"}]},
    }
    assert records.stable_local_assets(rec) is rec
    local = {**rec, "local": True}
    assert records.stable_local_assets(local)["result"]["video_result"][0]["url"] == "zhipu-local:files/a.mp4"
    other = {"id": "y", "local": True, "result": {"video_result": [{"url": "https://cdn.example/v.mp4"}]}}
    assert records.stable_local_assets(other) == other


def client_video_request():
    from zhipu_magic.api import calls

    return calls.video("a cat", "cogvideox-flash")


def test_listing_a_thousand_files_is_quick(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    for i in range(300):
        (store.directory / f"t{i}.json").write_text(json.dumps({"id": f"t{i}", "submitted": i}))
    start = time.perf_counter()
    assert len(store.list()) == 300
    assert time.perf_counter() - start < 5
