"""Replay of task cells (issue 12): a finished ``--async`` / ``--video`` task is logged under the request
that submitted it, and a cell submitting that same request with replay on shows the recorded result
and submits nothing (counted at the server), also in a new process. A real shell, the package's local
server over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from zhipu_magic.core.ledger import get_ledger, query
from zhipu_magic.core.ledger.records import backend_name, request_hash


def submits(srv) -> int:
    return sum(r.path.endswith(("async/chat/completions", "videos/generations")) for r in srv.requests)


def shown(ip) -> dict:
    return ip.rec.calls[-1]


def finish(ip, task_id: str) -> dict:
    """Fetch the task until it is done (the local server finishes it at the second poll); its row."""
    for _ in range(5):
        ip.run_line_magic("glm", f"result {task_id}")
        rows = [r for r in query.recent(get_ledger(), 20) if r["task_id"] == task_id]
        if rows:
            return rows[0]
    raise AssertionError(f"task {task_id} was never logged")


def test_an_async_task_is_logged_under_its_submitted_request_and_replayed(ip, api):
    ip.run_cell_magic("glm", "--async -t 0.3 -s 'Be brief'", "Summarise owls")
    task_id = ip.user_ns["_glm"].task_id
    row = finish(ip, task_id)
    first = ip.user_ns["_glm"].text
    (sent,) = [r.body for r in api.requests if r.path.endswith("async/chat/completions")]
    assert json.loads(row["request"]) == sent  # the submitted body, system prompt and temperature too
    assert row["request_hash"] == request_hash(sent, backend_name(api.base_url, False))
    before = submits(api)
    ip.run_line_magic("glm", "config replay=on")
    ip.run_cell_magic("glm", "--async -t 0.3 -s 'Be brief' -o again", "Summarise owls")
    reply = ip.user_ns["_glm"]
    assert submits(api) == before  # counted at the server: nothing submitted
    assert reply.text == first == ip.user_ns["again"] and reply.replayed == row["id"]
    assert reply.task_id == task_id and not reply.usage
    out = shown(ip)
    assert "replayed · 0 tokens" in out["data"]["text/plain"]
    assert "zhipu-magic-reply" in out["data"]["text/html"]
    assert "application/vnd.jupyter.widget-view+json" not in out["data"]  # static, like a finished task
    assert out["metadata"]["zhipu_magic"]["replayed"] is True
    ip.run_cell_magic("glm", "--wait -t 0.3 -s 'Be brief'", "Summarise owls")  # --wait: the same
    assert submits(api) == before and ip.user_ns["_glm"].replayed == row["id"]
    ip.run_cell_magic("glm", "--async --fresh -t 0.3 -s 'Be brief'", "Summarise owls")
    assert submits(api) == before + 1 and ip.user_ns["_glm"].replayed is None
    ip.run_cell_magic("glm", "--async -t 0.4 -s 'Be brief'", "Summarise owls")  # another request
    assert submits(api) == before + 2


def test_replay_off_resubmits_a_logged_task(ip, api):
    ip.run_cell_magic("glm", "--async", "Name a river")
    finish(ip, ip.user_ns["_glm"].task_id)
    before = submits(api)
    ip.run_cell_magic("glm", "--async", "Name a river")
    assert submits(api) == before + 1 and ip.user_ns["_glm"].replayed is None


def test_a_video_task_is_replayed_with_its_recorded_link(ip, api):
    ip.run_cell_magic("glm", "--video", "A cat surfing")
    task_id = ip.user_ns["_glm"].task_id
    row = finish(ip, task_id)
    assert row["kind"] == "video" and json.loads(row["request"])["prompt"] == "A cat surfing"
    before = submits(api)
    ip.run_cell_magic("glm", "--video --replay -o url", "A cat surfing")
    assert submits(api) == before
    url = ip.user_ns["url"]
    assert url == row["answer"] and url.endswith("sample.mp4") and ip.user_ns["_glm"].text == url
    data = shown(ip)["data"]
    assert "<video" in data["text/html"] and f'src="{url}"' in data["text/html"]
    assert "replayed · 0 tokens" in data["text/plain"] and f"task {task_id}" in data["text/plain"]
    # a chat cell with the video's words is not answered by the video, nor a video by a chat
    ip.run_cell_magic("glm", "--async --replay", "A cat surfing")
    assert submits(api) == before + 1 and ip.user_ns["_glm"].replayed is None


RESTARTED = """
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "zhipu_magic")
ip.run_line_magic("glm", "config replay=on")
ip.run_cell_magic("glm", "--async -o answer", "Write a haiku about tea")
print("REPLAYED", ip.user_ns["_glm"].replayed, ip.user_ns["answer"] == ip.user_ns["_glm"].text)
"""


def test_task_replay_after_a_kernel_restart(ip, api, canary):
    ip.run_cell_magic("glm", "--async", "Write a haiku about tea")
    row = finish(ip, ip.user_ns["_glm"].task_id)
    before = submits(api)
    env = {**os.environ, "ZHIPUAI_API_KEY": canary, "ZHIPUAI_BASE_URL": api.base_url}
    out = subprocess.run(
        [sys.executable, "-c", RESTARTED], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert f"REPLAYED {row['id']} True" in out.stdout and "replayed · 0 tokens" in out.stdout
    assert submits(api) == before


LOCAL_VIDEO = """
from IPython.core.interactiveshell import InteractiveShell
from zhipu_magic.server.app import start_local_server
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "zhipu_magic")
server = start_local_server()
ip.run_cell_magic("glm", "--video --wait -o url", "A paper boat at dusk")
print("SERVER", server.base_url)
print("URL", ip.user_ns["url"])
print("REPLAYED", ip.user_ns["_glm"].replayed)
print("SUBMITS", sum(r.path.endswith("videos/generations") for r in server.requests))
"""


def _run_local(env: dict) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-c", LOCAL_VIDEO], env=env, capture_output=True, text=True, timeout=90
    )
    assert out.returncode == 0, out.stderr
    return dict(line.split(" ", 1) for line in out.stdout.splitlines() if line.split(" ")[0].isupper())


def test_a_local_video_replayed_in_a_new_process_points_at_the_server_running_now():
    """No key: the built-in server made the video; a new process (a new server, a new port) replays
    it with a link to its own server, which serves it, and submits nothing."""
    env = {**os.environ, "ZHIPU_MAGIC_REPLAY": "on", "ZHIPU_MAGIC_LOCAL_TASK_SECONDS": "0"}
    first = _run_local(env)
    assert first["REPLAYED"] == "None" and first["SUBMITS"] == "1"
    again = _run_local(env)
    assert again["SUBMITS"] == "0" and again["REPLAYED"] != "None"
    assert again["SERVER"] != first["SERVER"] and again["URL"] == again["SERVER"] + "/files/sample.mp4"


TOOL_CELL = '''
def add(a: int, b: int) -> int:
    """Add two numbers."""
    print("CALLED")
    return a + b
'''

RESTARTED_TOOLS = """
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "zhipu_magic")
ip.run_cell(TOOL_CELL)
ip.run_line_magic("glm", "config replay=on")
ip.run_cell_magic("glm", "--tools add", "Please add 2 and 40")
reply = ip.user_ns["_glm"]
print("REPLAYED", reply.replayed, reply.tool_calls[0]["result"])
"""


def test_a_tool_cell_replayed_after_a_kernel_restart_runs_nothing(ip, api, canary):
    ip.run_cell(TOOL_CELL)
    ip.run_cell_magic("glm", "--tools add", "Please add 2 and 40")
    log_id, before = ip.user_ns["_glm"].log_id, len(api.requests)
    env = {**os.environ, "ZHIPUAI_API_KEY": canary, "ZHIPUAI_BASE_URL": api.base_url}
    script = f"TOOL_CELL = {TOOL_CELL!r}\n{RESTARTED_TOOLS}"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"REPLAYED {log_id} 42" in out.stdout and "CALLED" not in out.stdout
    assert "tool calls from the log" in out.stdout and len(api.requests) == before


def test_a_task_too_big_to_keep_its_body_is_still_logged_under_its_hash(ip, api):
    """A submitted body over the task record's limit is not copied into the record; its hash is, so
    the answer is still logged under the submitted request and replayed."""
    from zhipu_magic.core.ledger.records import MAX_KEPT_REQUEST
    from zhipu_magic.core.tasks import get_store

    ip.run_line_magic("glm", f"config value_limit={MAX_KEPT_REQUEST * 2}")
    ip.user_ns["notes"] = "tea " * (MAX_KEPT_REQUEST // 4 + 10)
    ip.run_cell_magic("glm", "--async", "Summarise these notes: {notes}")
    task_id = ip.user_ns["_glm"].task_id
    kept = get_store().get(task_id)
    assert "request" not in kept and kept["request_hash"]
    row = finish(ip, task_id)
    assert row["request_hash"] == kept["request_hash"]
    before = submits(api)
    ip.run_cell_magic("glm", "--async --replay", "Summarise these notes: {notes}")
    assert submits(api) == before and ip.user_ns["_glm"].replayed == row["id"]
