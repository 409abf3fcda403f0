"""Files and batch jobs, client and local server over real HTTP: upload, create, the states a batch
goes through, output and error files joined back by ``custom_id``, validation, cancel."""

from __future__ import annotations

import json
import time

import pytest

from zhipu_magic.api.batches import jsonl
from zhipu_magic.api.errors import AuthenticationError, BadRequestError, NotFoundError


def line_body(text: str, model: str = "glm-4-flash") -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


def wait_done(client, batch_id: str, timeout: float = 20.0) -> tuple[dict, list[str]]:
    seen: list[str] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        batch = client.batch(batch_id)
        if not seen or seen[-1] != batch["status"]:
            seen.append(batch["status"])
        if batch["status"] in ("completed", "failed", "cancelled", "expired"):
            return batch, seen
        time.sleep(0.01)
    raise AssertionError(f"batch not done: {seen}")


def read_lines(client, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    return [json.loads(x) for x in client.file_content(file_id).decode().splitlines()]


def test_a_batch_runs_through_its_states_and_joins_back_by_custom_id(server, make):
    client = make()
    texts = [f"echo: row {i}" for i in range(30)]
    texts[7] += " [[fault:bad_param]]"
    uploaded = client.upload_file(jsonl((f"row-{i:04d}", line_body(t)) for i, t in enumerate(texts)))
    assert uploaded["purpose"] == "batch" and uploaded["bytes"] > 0
    created = client.create_batch(uploaded["id"], metadata={"job": "test"})
    assert created["status"] == "validating" and created["endpoint"] == "/v4/chat/completions"
    assert created["created_at"] > 10**12  # milliseconds, like the API
    batch, seen = wait_done(client, created["id"])
    assert seen[0] == "validating" and seen[-1] == "completed"
    assert seen == [s for s in ["validating", "in_progress", "finalizing", "completed"] if s in seen]
    assert batch["request_counts"] == {"total": 30, "completed": 29, "failed": 1}
    answers = {
        x["custom_id"]: x["response"]["body"]["choices"][0]["message"]["content"]
        for x in read_lines(client, batch["output_file_id"])
    }
    assert answers == {f"row-{i:04d}": f"row {i}" for i in range(30) if i != 7}
    errors = read_lines(client, batch["error_file_id"])
    assert [(e["custom_id"], e["response"]["status_code"]) for e in errors] == [("row-0007", 400)]
    assert errors[0]["response"]["body"]["error"]["code"] == "1214"
    chats = [r for r in server.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 30  # every line went through the chat path
    assert client.batches()["data"][0]["id"] == created["id"]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (
            b'{"custom_id": "a1", "body": {"model": "glm-4-flash", "messages": []}}\nnot json\n',
            "invalid_json_line",
        ),
        (
            jsonl([("same", line_body("echo: 1")), ("same", line_body("echo: 2"))]),
            "duplicate_custom_id",
        ),
        (jsonl([("m1", line_body("echo: 1")), ("m2", line_body("echo: 2", "glm-4-air"))]), "mixed_models"),
    ],
)
def test_a_bad_input_file_fails_the_batch_with_errors(server, make, content, code):
    client = make()
    created = client.create_batch(client.upload_file(content)["id"])
    batch, seen = wait_done(client, created["id"])
    assert batch["status"] == "failed" and batch["failed_at"]
    assert code in [e["code"] for e in batch["errors"]["data"]]
    assert not [r for r in server.requests if r.path.endswith("/chat/completions")]


def test_cancel_stops_a_running_batch(server, make):
    client = make()
    lines = [(f"slow-{i}", line_body(f"echo: {i} [[fault:slow_first:0.2]]")) for i in range(40)]
    created = client.create_batch(client.upload_file(jsonl(lines))["id"])
    while client.batch(created["id"])["status"] == "validating":
        time.sleep(0.01)
    cancelling = client.cancel_batch(created["id"])
    assert cancelling["status"] == "cancelling" and cancelling["cancelling_at"]
    batch, _ = wait_done(client, created["id"])
    assert batch["status"] == "cancelled"
    counts = batch["request_counts"]
    assert counts["completed"] + counts["failed"] < 40


def test_files_list_content_delete_and_checks(server, make):
    client = make()
    first = client.upload_file(b"hello\n", "batch", filename="a.jsonl")
    listed = client.request("GET", "files")["data"]
    assert [f["id"] for f in listed] == [first["id"]] and listed[0]["filename"] == "a.jsonl"
    assert client.file_content(first["id"]) == b"hello\n"
    client.request("DELETE", f"files/{first['id']}")
    with pytest.raises(NotFoundError):
        client.file_content(first["id"])
    with pytest.raises(BadRequestError):
        client.create_batch("file-missing")
    with pytest.raises(BadRequestError, match="not a task id"):
        client.batch("../models")  # refused before anything is sent
    before = len(server.requests)
    with pytest.raises(BadRequestError):
        client.cancel_batch("a/b")
    assert len(server.requests) == before


def test_upload_needs_the_key(make):
    from zhipu_magic.server import LocalServer

    with LocalServer(port=0, api_key="right.key") as srv:
        client = make(api_key="wrong.key", base_url=srv.base_url)
        with pytest.raises(AuthenticationError):
            client.upload_file(b"x\n")
        good = make(api_key="right.key", base_url=srv.base_url)
        assert good.upload_file(b"x\n")["id"].startswith("file-")


# -- map(batch=True) ------------------------------------------------------------------------------
def test_map_through_the_batch_api_is_aligned_and_recorded(server, make):
    from zhipu_magic.core.ledger import get_ledger
    from zhipu_magic.core.ledger.query import recent
    from zhipu_magic.core.mapping import RowError, map_rows

    values = [f"b{i}" for i in range(25)]
    values[4] = "[[fault:bad_param]] b4"
    reports = []
    out = map_rows("echo: {}", values, client=make(), batch=True, batch_poll=0.02, progress=reports.append)
    assert [v for i, v in enumerate(out) if i != 4] == [v for i, v in enumerate(values) if i != 4]
    assert isinstance(out[4], RowError) and out[4].code == "1214" and out[4].status == 400
    assert out.totals["done"] == 24 and out.totals["failed"] == 1 and out.totals["completion_tokens"] > 0
    assert reports[-1].finished and reports[-1].done == 24
    assert len([r for r in server.requests if r.path.endswith("/batches")]) == 1  # one batch for all rows
    logged = [r for r in recent(get_ledger(), 50) if r["kind"] == "batch"]
    assert len(logged) == 24 and all(r["task_id"].startswith("batch_") for r in logged)
    chats = len([r for r in server.requests if r.path.endswith("/chat/completions")])
    again = map_rows("echo: {}", values, client=make())  # the direct path finds the batch's answers
    assert again.totals["from_record"] == 24
    assert len([r for r in server.requests if r.path.endswith("/chat/completions")]) == chats + 1


def test_map_splits_a_batch_over_the_line_limit(server, make, monkeypatch):
    from zhipu_magic.core.mapping import batch as batch_mod
    from zhipu_magic.core.mapping import map_rows

    monkeypatch.setattr(batch_mod, "MAX_LINES", 4)
    out = map_rows("echo: {}", [f"s{i}" for i in range(10)], client=make(), batch=True, batch_poll=0.02)
    assert list(out) == [f"s{i}" for i in range(10)]
    assert len([r for r in server.requests if r.path.endswith("/batches")]) == 3
