"""The call log from the notebook: %%glm cells recorded (never the key), replay without a request
reaching the server (also after a restart), %glm log / cost / usage, the switch, provenance. A real
shell, the package's local server over HTTP."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from zhipu_magic.core.ledger import db, get_ledger, prices, query
from zhipu_magic.notebook import render
from zhipu_magic.notebook.render.bundles import money

ROOT = Path(__file__).resolve().parents[1]


def chats(srv) -> int:
    return sum("chat/completions" in r.path for r in srv.requests)


def shown(ip) -> str:
    return ip.rec.calls[-1]["data"]["text/plain"]


def db_bytes() -> bytes:
    home = Path(os.environ["ZHIPU_MAGIC_HOME"])
    return b"".join(p.read_bytes() for p in home.glob(db.FILENAME + "*"))


def test_every_kind_of_call_is_recorded_and_the_key_never(ip, api, canary):
    ip.run_cell_magic("glm", "-c trip", "Plan a day in Chengdu")
    ip.run_cell_magic("glm", "--no-stream -t 0.2", "Name three rivers")
    ip.run_cell_magic("glm", "--async", "Summarise owls")
    task_id = ip.user_ns["_glm"].task_id
    for _ in range(5):
        ip.run_line_magic("glm", f"result {task_id}")
    rows = {r["kind"]: r for r in query.recent(get_ledger(), 50)}
    assert set(rows) >= {"stream", "sync", "async"}, rows.keys()
    assert rows["stream"]["conversation"] == "trip" and rows["stream"]["prompt"] == "Plan a day in Chengdu"
    assert json.loads(rows["sync"]["request"])["temperature"] == 0.2
    assert rows["async"]["task_id"] == task_id and rows["async"]["answer"]
    assert (
        sum(r["task_id"] == task_id for r in query.recent(get_ledger(), 50)) == 1
    )  # fetched 5x, logged once
    assert rows["stream"]["backend"] == api.base_url.rstrip("/") and rows["stream"]["request_id"]
    data = db_bytes()
    assert data and canary.encode() not in data
    for part in canary.split("."):
        assert part.encode() not in data


def test_video_task_recorded_when_done(ip, api):
    ip.run_cell_magic("glm", "--video", "A cat surfing")
    task_id = ip.user_ns["_glm"].task_id
    for _ in range(5):
        ip.run_line_magic("glm", f"result {task_id}")
    (row,) = [r for r in query.recent(get_ledger(), 10) if r["task_id"] == task_id]
    assert row["kind"] == "video" and row["prompt"] == "A cat surfing" and ".mp4" in row["answer"]


def test_replay_answers_from_the_log_without_a_request(ip, api):
    ip.run_cell_magic("glm", "-o first", "Explain recursion briefly")
    first = ip.user_ns["_glm"]
    sent = chats(api)
    assert "free" in render.footer_text(first)
    ip.run_cell_magic("glm", "--replay -o again", "Explain recursion briefly")
    again = ip.user_ns["_glm"]
    assert chats(api) == sent  # counted at the server: nothing reached it
    assert again.text == first.text == ip.user_ns["again"] and again.replayed == first.log_id
    assert "replayed · 0 tokens" in shown(ip) and not again.usage
    ip.run_line_magic("glm", "config replay=on")
    ip.run_cell_magic("glm", "", "Explain recursion briefly")
    assert chats(api) == sent
    ip.run_cell_magic("glm", "--fresh", "Explain recursion briefly")
    assert chats(api) == sent + 1 and "replayed" not in shown(ip)
    ip.run_cell_magic("glm", "-t 0.5", "Explain recursion briefly")  # another request: sent
    assert chats(api) == sent + 2
    with pytest.raises(UsageError, match="do not go together"):
        ip.run_cell_magic("glm", "--replay --fresh", "x")


RESTARTED = """
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "zhipu_magic")
ip.run_line_magic("glm", "config replay=on")
ip.run_cell_magic("glm", "-o answer", "Write a haiku about tea")
print("REPLAYED", ip.user_ns["_glm"].replayed, ip.user_ns["answer"] == ip.user_ns["_glm"].text)
"""


def test_replay_after_a_kernel_restart(ip, api, canary):
    ip.run_cell_magic("glm", "", "Write a haiku about tea")
    log_id, sent = ip.user_ns["_glm"].log_id, chats(api)
    env = {**os.environ, "ZHIPUAI_API_KEY": canary, "ZHIPUAI_BASE_URL": api.base_url}
    out = subprocess.run(
        [sys.executable, "-c", RESTARTED], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert f"REPLAYED {log_id} True" in out.stdout and "replayed · 0 tokens" in out.stdout
    assert chats(api) == sent


def test_log_lists_searches_and_shows_one(ip, api):
    for prompt in ("Tell me about owls", "Tell me about rivers", "Tell me about owls at night"):
        ip.run_cell_magic("glm", "", prompt)
    ip.run_line_magic("glm", "log owls")
    text = shown(ip)
    lines = text.splitlines()
    assert "2 calls, newest first" in lines[0] and "rivers" not in text and len(lines) == 4
    assert "owls at night" in lines[2] and "owls at night" not in lines[3]  # newest first
    ip.run_line_magic("glm", "log -n 1")
    assert "1 calls" in shown(ip) and "owls at night" in shown(ip)
    ip.run_line_magic("glm", "log -m glm-4-plus")
    assert "No calls" in shown(ip)
    last = query.recent(get_ledger(), 1)[0]
    ip.run_line_magic("glm", f"log {last['id']}")
    assert last["answer"][:40] in shown(ip) and '"messages"' in shown(ip)
    with pytest.raises(UsageError, match="no call"):
        ip.run_line_magic("glm", "log 9999")
    with pytest.raises(UsageError, match="--since"):
        ip.run_line_magic("glm", "log --since yesterday-ish")
    import zhipu_magic

    rows = zhipu_magic.log(search="rivers")
    if hasattr(rows, "to_dict"):  # pandas is installed: a DataFrame, one row per call
        assert list(rows["prompt"]) == ["Tell me about rivers"]
        rows = rows.to_dict("records")
    assert [r["prompt"] for r in rows] == ["Tell me about rivers"]


def test_cost_totals_equal_usage_times_price(ip, api, monkeypatch):
    monkeypatch.setenv(prices.PRICES_ENV_VAR, "glm-4-air=0.8/2")
    for model, prompt in (("glm-4-air", "One"), ("glm-4-air", "Two"), ("glm-4-flash", "Three")):
        ip.run_cell_magic("glm", f"-m {model}", prompt)
    ip.run_cell_magic("glm", "-m glm-4-plus", "Four")
    assert "cost unknown" in render.footer_text(ip.user_ns["_glm"])
    rows = (
        sqlite3.connect(get_ledger().path)
        .execute("SELECT model, prompt_tokens, completion_tokens FROM calls")
        .fetchall()
    )
    expected = sum((p * 0.8 + c * 2) / 1e6 for m, p, c in rows if m == "glm-4-air")
    assert expected > 0
    ip.run_line_magic("glm", "cost")
    text = shown(ip)
    assert money(expected) in text and "1 unknown" in text
    html = ip.rec.calls[-1]["data"]["text/html"]
    assert html.count("width:100.0%") == 1 and "<script" not in html  # bars: the largest is full
    groups = {g["grp"]: g for g in query.totals(get_ledger(), "model")}
    assert groups["glm-4-air"]["cost"] == pytest.approx(expected)
    assert groups["glm-4-flash"]["cost"] == 0 and groups["glm-4-plus"]["cost"] is None
    ip.run_line_magic("glm", "usage")
    assert money(expected) in shown(ip) and "unknown" in shown(ip)
    ip.run_line_magic("glm", "cost --by day --since 1d")
    assert shown(ip).count(money(expected)) == 2  # the day and the total


def test_log_switched_off(ip, api):
    ip.run_line_magic("glm", "config log=off")
    ip.run_cell_magic("glm", "", "Not recorded")
    assert ip.user_ns["_glm"].log_id is None and query.recent(get_ledger()) == []
    ip.run_line_magic("glm", "config log=on")
    ip.run_cell_magic("glm", "", "Recorded")
    assert [r["prompt"] for r in query.recent(get_ledger())] == ["Recorded"]


def test_a_first_log_off_reaches_the_log_itself(ip, api):
    """On a fresh shell, ``log=off`` first: the chat panel and task cards ask the call log, not the
    magics, so the switch must reach it (it used to be compared with the static default, False)."""
    from zhipu_magic.core import ledger

    assert ledger.logging_enabled()
    ip.run_line_magic("glm", "config log=off")
    assert not ledger.logging_enabled()
    ip.run_line_magic("glm", "config log=on")
    assert ledger.logging_enabled()
    with pytest.raises(UsageError, match=r"^log: 'maybe' is not on or off \(yes/no, true/false and 1/0"):
        ip.run_line_magic("glm", "config log=maybe")  # traitlets' own message was "%r is not 1, 0..."
    ip.run_line_magic("glm", "config log=0 replay=true")
    assert not ledger.logging_enabled() and ip._zhipu_magic.replay


def test_a_broken_log_never_breaks_a_cell(ip, api, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / db.FILENAME).write_bytes(b"garbage" * 500)
    monkeypatch.setenv("ZHIPU_MAGIC_HOME", str(home))
    with pytest.warns(db.LedgerWarning):
        ip.run_cell_magic("glm", "-o answer", "Still answered")
        ip.run_cell_magic("glm", "", "And again")
    assert ip.user_ns["answer"] and get_ledger().in_memory
    assert [r["prompt"] for r in query.recent(get_ledger())] == ["And again", "Still answered"]


def test_load_ext_does_not_open_the_log():
    """``%load_ext`` loads neither the database module nor sqlite3 (IPython's own history may have
    imported sqlite3 before: only what load_ext adds counts)."""
    code = (
        "import sys\nfrom IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\nbefore = set(sys.modules)\n"
        "ip.run_line_magic('load_ext', 'zhipu_magic')\nnew = set(sys.modules) - before\n"
        "print(sorted(m for m in new if 'sqlite' in m or m.startswith('zhipu_magic.core.ledger.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_failed_calls_are_recorded_and_never_replayed(ip, api):
    from zhipu_magic.api.errors import GLMError

    ip.run_line_magic("glm", "config replay=on")
    for _ in range(2):
        with pytest.raises(GLMError):
            ip.run_cell_magic("glm", "", "Hello [[fault:balance]]")
    rows = query.recent(get_ledger())
    assert [r["status"] for r in rows] == ["error", "error"] and "1113" in rows[0]["error"]
    assert chats(api) == 2  # the failed call was sent again, not replayed


def test_provenance_and_notebook_path(ip, api):
    ip.user_ns["__session__"] = "analysis/owls.ipynb"
    try:
        ip.run_cell_magic("glm", "-t 0.4 --max-tokens 200", "Owls, briefly")
        reply = ip.user_ns["_glm"]
        ip.run_cell_magic("glm", "-t 0.4 --max-tokens 200 --replay", "Owls, briefly")
        again = ip.user_ns["_glm"]
    finally:
        del ip.user_ns["__session__"]
    first = reply.provenance
    assert first["model"] == "glm-4-flash" and first["params"] == {"temperature": 0.4, "max_tokens": 200}
    assert first["log_id"] == reply.log_id and first["request_id"] == reply.request_id and first["usage"]
    assert first["replayed"] is False and json.loads(json.dumps(first)) == first
    assert again.provenance["replayed"] is True and again.provenance["replayed_from"] == reply.log_id
    saved = [c["metadata"] for c in ip.rec.calls if c["metadata"]]
    assert saved[-1] == {"zhipu_magic": again.provenance}  # the output carries it into the notebook
    assert query.one(get_ledger(), reply.log_id)["notebook"] == "analysis/owls.ipynb"
    ip.run_line_magic("glm", "cost --by notebook")
    assert "analysis/owls.ipynb  1 " in shown(ip)


def test_an_interrupted_stream_is_recorded_with_its_partial(ip, monkeypatch, canary):
    from zhipu_magic.server import LocalServer

    with LocalServer(port=0, token_rate=300) as srv:
        monkeypatch.setenv("ZHIPUAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("ZHIPUAI_API_KEY", canary)
        ip.rec.interrupt_on_update = 2
        with pytest.raises(KeyboardInterrupt):
            ip.run_cell_magic("glm", "--replay", "long one [[chunks:3000]]")
        ip.run_cell_magic("glm", "--replay", "long one [[chunks:20]]")
        sent = sum("chat/completions" in r.path for r in srv.requests)
    rows = query.recent(get_ledger())
    assert [r["status"] for r in rows] == ["ok", "interrupted"]
    assert rows[1]["answer"] and len(rows[1]["answer"]) < 3000 * 3 and sent == 2


def test_an_answer_from_the_local_server_costs_nothing(ip, monkeypatch):
    """No key: the built-in server answered, so even a paid model's call cost nothing (not unknown)."""
    monkeypatch.setenv("ZHIPU_MAGIC_LOCAL_RATE", "4000")
    ip.run_cell_magic("glm", "-m glm-4-air", "hello")
    footer = ip.rec.final()[-1]["text/plain"].splitlines()[-1]
    assert " · free · " in footer and footer.endswith("local server") and "unknown" not in footer
    ip.run_line_magic("glm", "usage")
    assert "unknown" not in shown(ip)
    assert query.recent(get_ledger(), 1)[0]["cost"] == 0.0


def test_log_id_shows_the_sources_and_tool_cards_of_a_call(ip, api):
    ip.run_cell("def add(a: int, b: int) -> int:\n    return a + b")
    ip.run_cell_magic("glm", "--tools add", "Please add 2 and 40")
    ip.run_line_magic("glm", f"log {ip.user_ns['_glm'].log_id}")
    assert '"tool_runs": [' in shown(ip) and '"result": "42"' in shown(ip)
    ip.run_cell_magic("glm", "--search", "What is new in Python?")
    reply = ip.user_ns["_glm"]
    ip.run_line_magic("glm", f"log {reply.log_id}")
    assert reply.sources and all(s["link"] in shown(ip) for s in reply.sources)
