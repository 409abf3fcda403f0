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

from zhipu_magic.core import tasks
from zhipu_magic.core.tasks import records
from zhipu_magic.core.tasks import store as task_store
from zhipu_magic.core.tasks.records import FAIL, PROCESSING, SUCCESS, merge
from zhipu_magic.core.tasks.store import TaskStore, TaskStoreWarning

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
    assert len(rec["prompt"]) <= records.PROMPT_CHARS and rec["prompt"].endswith("\u2026")
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
    assert store.apply_result("u", {})["status"] == records.UNKNOWN
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

    monkeypatch.setattr(task_store.tempfile, "mkstemp", boom)
    with pytest.warns(TaskStoreWarning, match="Read-only file system"):
        submit(store, "after")
    assert not store.persistent
    assert {r["id"] for r in store.list()} == {"before", "after"}


def test_no_temp_files_left_and_key_never_stored(tmp_path: Path, canary: str) -> None:
    from zhipu_magic.api.config import Secret

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
    from zhipu_magic.core.tasks.store import TaskStore
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


# -- polling against the local server ------------------------------------------------------------
from zhipu_magic.core.tasks import polling  # noqa: E402
from zhipu_magic.server import LocalServer  # noqa: E402


@pytest.fixture
def srv():
    with LocalServer(port=0, task_polls=3) as s:
        yield s


@pytest.fixture
def client(srv):
    from zhipu_magic.api.client import GLMClient

    with GLMClient(api_key="test-key", base_url=srv.base_url, max_retries=0) as c:
        yield c


def submit_real(store: TaskStore, client, prompt: str = "hello there", kind: str = "chat") -> dict:
    return tasks.submit_task(store, client, prompt, kind=kind)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s

    def __call__(self) -> float:
        return self.now


def test_wait_processing_then_success_with_backoff(tmp_path: Path, client) -> None:
    store = TaskStore(tmp_path)
    rec = submit_real(store, client)
    assert store.get(rec["id"])["status"] == PROCESSING  # stored before the first poll
    clock = FakeClock()
    done = polling.wait_for_task(store, client, rec["id"], sleep=clock.sleep, clock=clock)
    assert done["status"] == SUCCESS and done["polls"] == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]
    reply = tasks.reply_from_record(done)
    assert reply.text and reply.task_id == rec["id"] and reply.usage


def test_backoff_caps_at_ten_seconds(tmp_path: Path) -> None:
    class Slow:
        def result(self, task_id):
            return {"id": task_id, "task_status": PROCESSING}

    store = TaskStore(tmp_path)
    submit(store, "slow")
    clock = FakeClock()
    rec = polling.wait_for_task(store, Slow(), "slow", deadline=60, sleep=clock.sleep, clock=clock)
    assert rec["status"] == PROCESSING  # deadline hit: still pending, still listed
    assert clock.sleeps[:6] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0] and max(clock.sleeps) == 10.0
    assert sum(clock.sleeps) == pytest.approx(60)
    assert [r["id"] for r in store.pending()] == ["slow"]


def test_task_fail_and_unknown_id(tmp_path: Path, client) -> None:
    store = TaskStore(tmp_path)
    rec = submit_real(store, client, "please [[fault:task_fail]]")
    clock = FakeClock()
    done = polling.wait_for_task(store, client, rec["id"], sleep=clock.sleep, clock=clock)
    assert done["status"] == FAIL and done["error"]
    submit(store, "no-such-task")
    gone = polling.wait_for_task(store, client, "no-such-task", sleep=clock.sleep, clock=clock)
    assert gone["status"] == FAIL and "does not know" in gone["error"]


def test_unknown_status_string_keeps_polling(tmp_path: Path) -> None:
    class Odd:
        answers = ["QUEUED", "RUNNING_ON_GPU", SUCCESS]

        def result(self, task_id):
            return {"id": task_id, "task_status": self.answers.pop(0), "choices": []}

    store = TaskStore(tmp_path)
    submit(store, "odd")
    clock = FakeClock()
    rec = polling.wait_for_task(store, Odd(), "odd", sleep=clock.sleep, clock=clock)
    assert rec["status"] == SUCCESS and rec["polls"] == 3


def test_transient_errors_are_noted_and_waited_out(tmp_path: Path) -> None:
    from zhipu_magic.api.errors import APIConnectionError, AuthenticationError

    class Flaky:
        calls = 0

        def result(self, task_id):
            self.calls += 1
            if self.calls == 1:
                raise APIConnectionError("connection refused")
            return {"id": task_id, "task_status": SUCCESS, "choices": []}

    store = TaskStore(tmp_path)
    submit(store, "f")
    notes = []
    clock = FakeClock()
    rec = polling.wait_for_task(
        store,
        Flaky(),
        "f",
        sleep=lambda s: (notes.append(store.get("f")["last_error"]), clock.sleep(s)),
        clock=clock,
    )
    assert rec["status"] == SUCCESS and notes == ["connection refused"] and rec["last_error"] is None

    class Denied:
        def result(self, task_id):
            raise AuthenticationError("[1000] bad key", status=401, code="1000")

    submit(store, "d")
    with pytest.raises(AuthenticationError):
        polling.wait_for_task(store, Denied(), "d", sleep=clock.sleep, clock=clock)
    assert store.get("d")["status"] == PROCESSING and "bad key" in store.get("d")["last_error"]


def test_interrupted_wait_resumes_after_kernel_restart(tmp_path: Path, srv, client) -> None:
    from zhipu_magic.api.client import GLMClient

    store = TaskStore(tmp_path)
    rec = submit_real(store, client)

    def interrupt(_s: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        polling.wait_for_task(store, client, rec["id"], sleep=interrupt)
    assert store.get(rec["id"])["status"] == PROCESSING
    # "kernel restart": new store object, new client; the task is listed and refreshes to its result
    store2 = TaskStore(tmp_path)
    assert [r["id"] for r in store2.pending()] == [rec["id"]]
    with GLMClient(api_key="other", base_url=srv.base_url) as c2:
        for _ in range(5):
            polling.refresh(store2, c2)
        assert store2.get(rec["id"])["status"] == SUCCESS
        assert store2.pending() == []
        assert polling.refresh(store2, c2) == []  # finished tasks are not polled again


def test_refresh_is_concurrent(tmp_path: Path) -> None:
    from zhipu_magic.api.client import GLMClient

    with (
        LocalServer(port=0, task_polls=1, poll_delay=0.3) as s,
        GLMClient(api_key="k", base_url=s.base_url) as c,
    ):
        store = TaskStore(tmp_path)
        ids = [submit_real(store, c, f"q{i}")["id"] for i in range(20)]
        t0 = time.monotonic()
        recs = polling.refresh(store, c)
        took = time.monotonic() - t0
        assert sorted(r["id"] for r in recs) == sorted(ids)
        assert took < 0.9, f"20 polls of 0.3 s took {took:.2f} s: not concurrent"
        polling.refresh(store, c)
        assert all(r["status"] == SUCCESS for r in store.list())


def test_arefresh_in_a_running_loop(tmp_path: Path, srv, client) -> None:
    import asyncio

    store = TaskStore(tmp_path)
    ids = {submit_real(store, client, f"a{i}")["id"] for i in range(3)}

    async def main() -> list[dict]:
        out: list[dict] = []
        for _ in range(4):
            out = await tasks.arefresh(store, client) or out
        return out

    recs = asyncio.run(main())
    assert {r["id"] for r in recs} == ids and all(r["status"] == SUCCESS for r in store.list())


def test_key_never_reaches_the_store(tmp_path: Path, srv, canary: str) -> None:
    from zhipu_magic.api.client import GLMClient

    store = TaskStore(tmp_path)
    with GLMClient(api_key=canary, base_url=srv.base_url) as c:
        rec = submit_real(store, c)
        submit_real(store, c, "[[fault:task_fail]]")
        submit_real(store, c, "a video", kind="video")
        for _ in range(5):
            polling.refresh(store, c)
        assert store.get(rec["id"])["status"] == SUCCESS
    for f in (tmp_path / "tasks").iterdir():
        assert canary not in f.read_text(errors="replace")
        assert canary.split(".")[0] not in f.read_text(errors="replace")


def test_auto_refresher_stops_when_nothing_pending() -> None:
    rounds = []
    stopped = []
    auto = polling.AutoRefresher(
        lambda: rounds.append(1) or len(rounds) < 3, interval=0.01, on_stop=stopped.append
    )
    auto.start()
    for _ in range(200):
        if stopped:
            break
        time.sleep(0.01)
    assert len(rounds) == 3 and stopped == [None] and not auto.running


def test_store_and_polling_do_not_import_ipywidgets() -> None:
    code = (
        "import sys, zhipu_magic.core.tasks.store, zhipu_magic.core.tasks.polling;"
        " print('ipywidgets' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.kernel
def test_asyncio_helpers_inside_a_real_kernel_loop(tmp_path: Path) -> None:
    """Top-level ``await tasks.arefresh`` and ``run_sync`` (nest-asyncio) in ipykernel's running loop."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        "import asyncio\n"
        "from zhipu_magic.server import LocalServer\nfrom zhipu_magic.api.client import GLMClient\n"
        "from zhipu_magic.core import tasks\nfrom zhipu_magic.core.tasks import polling\n"
        "srv = LocalServer(port=0, task_polls=2).start()\n"
        "c = GLMClient(api_key='k', base_url=srv.base_url)\n"
        f"store = tasks.TaskStore({str(tmp_path)!r})\n"
        "ids = [store.record_submission(c.submit(f'q{i}'), kind='chat', model='m', prompt='q')['id']"
        " for i in range(3)]",
        "running = asyncio.get_running_loop() is not None  # the kernel's loop runs this cell\n"
        "first = await tasks.arefresh(store, c)\n"
        "print('await', running, sorted(r['status'] for r in first))",
        "second = polling.run_sync(polling.arefresh(store, c))\n"
        "third = polling.run_sync(polling.arefresh(store, c))\n"
        "print('run_sync', sorted(r['status'] for r in third), len(store.pending()))",
    ]
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    client = nbclient.NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    out = "".join(o.get("text", "") for cell in nb.cells for o in cell.get("outputs", []))
    assert "await True ['PROCESSING', 'PROCESSING', 'PROCESSING']" in out
    assert "run_sync ['SUCCESS', 'SUCCESS', 'SUCCESS'] 0" in out


def test_submit_task_records_before_any_poll(tmp_path: Path, srv, client) -> None:
    """The one submit path (magics, panel, Python): the id is on disk before anything polls it."""
    store = TaskStore(tmp_path)
    chat = tasks.submit_task(store, client, "a poem please", temperature=0.2)
    video = tasks.submit_task(store, client, "a cat on a piano", kind="video")
    assert (
        srv.requests[-2].body["temperature"] == 0.2
        and srv.requests[-2].body["messages"][0]["content"] == "a poem please"
    )
    assert srv.requests[-1].body["model"] == "cogvideox-flash"
    on_disk = {r["id"]: r for r in TaskStore(tmp_path).list()}  # a fresh store: read from the files
    assert on_disk[chat["id"]]["status"] == PROCESSING and on_disk[chat["id"]]["kind"] == "chat"
    assert on_disk[video["id"]]["kind"] == "video" and on_disk[video["id"]]["local"] is True
    assert not any(r.path.endswith(chat["id"]) for r in srv.requests)  # not polled yet


def test_delete_forgets_a_task_on_disk_and_in_memory(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    submit(store, "gone")
    submit(store, "kept")
    assert store.delete("gone") and not store.delete("gone")
    assert [r["id"] for r in TaskStore(tmp_path).list()] == ["kept"]  # a fresh store reads the files
    (tmp_path / "file").write_text("not a directory")
    memory = TaskStore(tmp_path / "file" / "home")
    submit(memory, "m")
    assert not memory.persistent and memory.delete("m") and memory.list() == []


def test_a_submitted_task_records_its_notebook(tmp_path: Path, srv, client, monkeypatch) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/analysis.ipynb")
    rec = tasks.submit_task(TaskStore(tmp_path), client, "hello")
    assert TaskStore(tmp_path).get(rec["id"])["notebook"] == "/home/me/analysis.ipynb"


def test_a_fresh_success_replaces_a_stale_one(tmp_path: Path) -> None:
    """The real API's video links expire: fetching a finished task again stores the renewed links."""
    store = TaskStore(tmp_path)
    submit(store, "v", kind="video")
    old = {"id": "v", "task_status": SUCCESS, "video_result": [{"url": "https://cdn.example/old.mp4"}]}
    new = {"id": "v", "task_status": SUCCESS, "video_result": [{"url": "https://cdn.example/new.mp4"}]}
    store.apply_result("v", old)
    rec = store.apply_result("v", new)
    assert rec["result"]["video_result"][0]["url"].endswith("new.mp4")
    assert TaskStore(tmp_path).get("v")["result"]["video_result"][0]["url"].endswith("new.mp4")
