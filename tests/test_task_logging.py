"""One logging path for tasks (issue 12): a task is logged in the call log when a poll finds it final,
whichever poll that is (the live card polling by itself, ``%glm result``, a wait, the panel's
refresh), under the request that submitted it, and once per task id, also when two kernels poll it.
A real shell, the package's local server over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("ipywidgets")

from zhipu_magic.core.ledger import get_ledger, query  # noqa: E402
from zhipu_magic.core.ledger.records import backend_name, request_hash  # noqa: E402
from zhipu_magic.core.tasks import FAIL, SUCCESS, get_store, refresh, submit_task  # noqa: E402
from zhipu_magic.core.tasks.logbook import log_finished  # noqa: E402


def submits(srv) -> int:
    return sum(r.path.endswith("async/chat/completions") for r in srv.requests)


def rows_of(task_id: str) -> list[dict]:
    return [r for r in query.recent(get_ledger(), 200) if r["task_id"] == task_id]


def card_of(task_id: str):
    from zhipu_magic.notebook.widgets.card import TaskCard

    (card,) = [c for c in list(TaskCard._polling) if c.record.get("id") == task_id]
    return card


def let_the_card_finish(task_id: str) -> dict:
    """The card polls by itself (1 s, then 2 s: the local server ends a task at its second poll)."""
    card = card_of(task_id)
    card.poller.join(30)
    assert not card.poller.running and card.record["status"] in (SUCCESS, FAIL)
    return card.record


REPLAY_CELL = """
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "zhipu_magic")
ip.run_line_magic("glm", "result {task_id}")  # a second kernel fetching the same task
ip.run_line_magic("glm", "config replay=on")
ip.run_cell_magic("glm", "--async -t 0.2 -o answer", "Name three owls")
print("REPLAYED", ip.user_ns["_glm"].replayed, ip.user_ns["answer"] == ip.user_ns["_glm"].text)
"""


def test_a_task_finished_by_its_card_is_logged_once_and_replayed_in_a_fresh_shell(ip, api, canary):
    ip.parent_header = {"metadata": {"cellId": "cell-owls"}}  # the cell that submits it
    ip.run_cell_magic("glm", "--async -t 0.2", "Name three owls")
    task_id = ip.user_ns["_glm"].task_id
    assert not rows_of(task_id)  # submitted, not finished: nothing logged yet
    ip.parent_header = {"metadata": {"cellId": "another-cell"}}  # the card finishes while it runs
    record = let_the_card_finish(task_id)
    assert record["status"] == SUCCESS
    (row,) = rows_of(task_id)  # logged by the card's own poll, no %glm result or wait involved
    (sent,) = [r.body for r in api.requests if r.path.endswith("async/chat/completions")]
    assert row["kind"] == "async" and row["status"] == "ok" and json.loads(row["request"]) == sent
    assert row["request_hash"] == request_hash(sent, backend_name(api.base_url, False))
    assert row["answer"] == record["result"]["choices"][0]["message"]["content"] and row["answer"]
    assert row["cell_id"] == "cell-owls" and get_store().get(task_id)["log_id"] == row["id"]
    # %glm result polls it again (and shows it): still one row, and the output names it
    ip.run_line_magic("glm", f"result {task_id}")
    assert [r["id"] for r in rows_of(task_id)] == [row["id"]]
    assert ip.user_ns["_glm"].log_id == row["id"] and ip.user_ns["_glm"].replayed is None
    assert ip.rec.calls[-1]["metadata"]["zhipu_magic"]["log_id"] == row["id"]
    # a fresh shell: fetching the task logs nothing more; the same cell with replay on submits nothing
    before = submits(api)
    env = {**os.environ, "ZHIPUAI_API_KEY": canary, "ZHIPUAI_BASE_URL": api.base_url}
    out = subprocess.run(
        [sys.executable, "-c", REPLAY_CELL.format(task_id=task_id)],
        env=env, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert submits(api) == before  # counted at the server
    assert f"REPLAYED {row['id']} True" in out.stdout and "replayed · 0 tokens" in out.stdout
    assert row["answer"] in out.stdout and [r["id"] for r in rows_of(task_id)] == [row["id"]]


def test_two_pollers_at_once_log_a_task_once(api, make):
    """Two kernels that both saw the task unlogged (no log_id on the record yet) log it once: the
    ledger checks the task id inside the insert's own transaction."""
    client, store = make(), get_store()
    task = submit_task(store, client, "Name a river")
    refresh(store, client, [task["id"]])
    (done,) = refresh(store, client, [task["id"]])  # the second poll ends it, and logs it
    assert done["status"] == SUCCESS and done["log_id"]
    unlogged = {k: v for k, v in done.items() if k != "log_id"}
    with ThreadPoolExecutor(8) as pool:
        ids = {r["log_id"] for r in pool.map(lambda _: log_finished(store, dict(unlogged)), range(8))}
    assert ids == {done["log_id"]} and len(rows_of(task["id"])) == 1
    assert rows_of(task["id"])[0]["answer"] == done["result"]["choices"][0]["message"]["content"]


def test_a_failed_task_is_logged_once_as_an_error_and_never_replayed(ip, api):
    ip.run_cell_magic("glm", "--async", "doomed [[fault:task_fail]]")
    task_id = ip.user_ns["_glm"].task_id
    assert let_the_card_finish(task_id)["status"] == FAIL
    (row,) = rows_of(task_id)
    assert row["status"] == "error" and row["error"].startswith("TaskFailed: ") and not row["answer"]
    assert query.find_answer(get_ledger(), row["request_hash"]) is None  # a failure is no answer
    with pytest.raises(Exception, match="failed"):
        ip.run_line_magic("glm", f"result {task_id}")
    assert len(rows_of(task_id)) == 1


def test_log_off_when_the_card_finishes_then_result_logs_it_once(ip, api):
    ip.run_line_magic("glm", "config log=off")
    ip.run_cell_magic("glm", "--async", "Name a mountain")
    task_id = ip.user_ns["_glm"].task_id
    assert let_the_card_finish(task_id)["status"] == SUCCESS
    assert not rows_of(task_id) and get_store().get(task_id).get("log_id") is None
    ip.run_line_magic("glm", "config log=on")
    ip.run_line_magic("glm", f"result {task_id}")
    ip.run_line_magic("glm", f"result {task_id}")
    (row,) = rows_of(task_id)
    assert ip.user_ns["_glm"].log_id == row["id"] == get_store().get(task_id)["log_id"]
