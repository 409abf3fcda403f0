# ruff: noqa: E501  (the vendor snippets are kept verbatim, long lines included)
"""``zhipu_magic.ZhipuAI``: the vendor SDK's documented snippets run with only the import swapped."""

from __future__ import annotations

import textwrap
import time
from typing import Any

import pytest

from zhipu_magic.api.compat import Obj, Stream
from zhipu_magic.api.errors import BadRequestError

VENDOR_IMPORT = "from zhipuai import ZhipuAI"
OUR_IMPORT = "from zhipu_magic import ZhipuAI"

# The three snippets as the vendor documents them (zhipuai README / open.bigmodel.cn quick start),
# untouched except that the import line is swapped before running.
SYNC_SNIPPET = textwrap.dedent(
    """\
    from zhipuai import ZhipuAI
    client = ZhipuAI(api_key="your api key")  # 填写您自己的APIKey
    response = client.chat.completions.create(
        model="glm-4",  # 填写需要调用的模型名称
        messages=[
            {"role": "user", "content": "作为一名营销专家，请为我的产品创作一个吸引人的slogan"},
            {"role": "assistant", "content": "当然，为了创作一个吸引人的slogan，请告诉我一些关于您产品的信息"},
            {"role": "user", "content": "智谱AI开放平台"},
            {"role": "assistant", "content": "智启未来，谱绘无限一智谱AI，让创新触手可及!"},
            {"role": "user", "content": "创造一个更精准、吸引人的slogan"}
        ],
    )
    print(response.choices[0].message)
    """
)

SSE_SNIPPET = textwrap.dedent(
    """\
    from zhipuai import ZhipuAI
    client = ZhipuAI(api_key="your api key")  # 请填写您自己的APIKey
    response = client.chat.completions.create(
        model="glm-4",  # 填写需要调用的模型名称
        messages=[
            {"role": "system", "content": "你是一个乐于解答各种问题的助手，你的任务是为用户提供专业、准确、有见地的建议。"},
            {"role": "user", "content": "我对太阳系的行星非常感兴趣，特别是土星。请提供关于土星的基本信息，包括其大小、组成、环系统和任何独特的天文现象。"},
        ],
        stream=True,
    )
    for chunk in response:
        print(chunk.choices[0].delta)
    """
)

ASYNC_SNIPPET = textwrap.dedent(
    """\
    import time
    from zhipuai import ZhipuAI
    client = ZhipuAI(api_key="your api key")  # 请填写您自己的APIKey

    response = client.chat.asyncCompletions.create(
        model="glm-4",  # 填写需要调用的模型名称
        messages=[
            {
                "role": "user",
                "content": "请你作为童话故事大王，写一篇短篇童话故事，故事的主题是要永远保持一颗善良的心，要能够激发儿童的学习兴趣和想象力，同时也能够帮助儿童更好地理解和接受故事中所蕴含的道理和价值观。"
            }
        ],
    )
    task_id = response.id
    task_status = ''
    get_cnt = 0

    while task_status != 'SUCCESS' and task_status != 'FAILED' and get_cnt <= 40:
        result_response = client.chat.asyncCompletions.retrieve_completion_result(id=task_id)
        print(result_response)
        task_status = result_response.task_status

        time.sleep(2)
        get_cnt += 1
    """
)


def run_snippet(source: str) -> dict[str, Any]:
    assert source.count(VENDOR_IMPORT) == 1
    namespace: dict[str, Any] = {"__name__": "__snippet__"}
    exec(compile(source.replace(VENDOR_IMPORT, OUR_IMPORT), "<vendor snippet>", "exec"), namespace)
    return namespace


@pytest.fixture
def env(server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ZHIPUAI_BASE_URL", server.base_url)
    return server


def test_sync_snippet(env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ns = run_snippet(SYNC_SNIPPET)
    out = capsys.readouterr().out
    message = ns["response"].choices[0].message
    assert message.role == "assistant" and message.content
    assert out.startswith("CompletionMessage(") and "content=" in out and "role='assistant'" in out
    assert ns["response"].usage.total_tokens > 0
    assert env.requests[-1].body["model"] == "glm-4" and len(env.requests[-1].body["messages"]) == 5


def test_sse_snippet(env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ns = run_snippet(SSE_SNIPPET)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 3 and all(line.startswith("ChoiceDelta(") for line in lines)
    assert isinstance(ns["response"], Stream)
    assert ns["response"].text
    assert ns["chunk"].choices[0].finish_reason == "stop"
    assert env.requests[-1].body["stream"] is True


def test_async_snippet(env: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    naps: list[float] = []
    monkeypatch.setattr(time, "sleep", naps.append)  # the snippet sleeps 2 s per poll
    ns = run_snippet(ASYNC_SNIPPET)
    out = capsys.readouterr().out
    assert ns["task_status"] == "SUCCESS" and ns["get_cnt"] == 2 and naps == [2, 2]
    assert "task_status='PROCESSING'" in out and "task_status='SUCCESS'" in out
    assert ns["result_response"].choices[0].message.content
    assert ns["response"].task_status == "PROCESSING"


def test_explicit_base_url_and_videos(server: Any) -> None:
    from zhipu_magic import ZhipuAI

    client = ZhipuAI(api_key="k.s", base_url=server.base_url)
    task = client.videos.generations(model="cogvideox-flash", prompt="a cat surfing")
    assert task.task_status == "PROCESSING" and task.id
    assert client.videos.retrieve_videos_result(id=task.id).task_status == "PROCESSING"
    done = client.videos.retrieve_videos_result(id=task.id)
    assert done.task_status == "SUCCESS" and done.video_result[0].url.endswith(".mp4")
    assert "prompt" not in server.requests[-3].body or server.requests[-3].body["prompt"] == "a cat surfing"


def test_extra_body_none_params_and_errors(server: Any) -> None:
    from zhipu_magic import ZhipuAI

    client = ZhipuAI(api_key="k.s", base_url=server.base_url, timeout=30, max_retries=0)
    resp = client.chat.completions.create(
        model="glm-4-flash",
        messages=[{"role": "user", "content": "echo: ok"}],
        temperature=None,
        extra_body={"user_id": "user-123456"},
        extra_headers={"X-Ignored": "1"},
    )
    assert resp.choices[0].message.content == "ok"
    body = server.requests[-1].body
    assert body["user_id"] == "user-123456" and "temperature" not in body and "extra_headers" not in body
    with pytest.raises(BadRequestError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])


def test_stream_break_closes(server: Any) -> None:
    from zhipu_magic import ZhipuAI

    client = ZhipuAI(api_key="k.s", base_url=server.base_url)
    for _chunk in client.chat.completions.create(
        model="glm-4-flash",
        messages=[{"role": "user", "content": "story [[chunks:40]] [[interval:0.05]]"}],
        stream=True,
    ):
        break
    assert server.wait_disconnect(5)


def test_obj_wrapper() -> None:
    data = {
        "id": "1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
        "usage": None,
    }
    obj = Obj(data, "Completion")
    assert obj.choices[0].message.content == "hi"
    assert obj.missing is None and obj.usage is None
    assert obj["id"] == "1" and obj.get("nope", 3) == 3 and "choices" in obj
    assert obj.model_dump() == data and obj.to_dict() is not data
    assert obj == data and obj == Obj(data)
    assert (
        repr(obj.choices[0]) == "Choice(index=0, message=CompletionMessage(role='assistant', content='hi'))"
    )
    assert '"content": "hi"' in obj.model_dump_json()
    obj.id = "2"
    assert obj.id == "2"
    with pytest.raises(AttributeError):
        obj.__wrapped__  # noqa: B018 - dunder lookups stay real AttributeErrors
    import copy
    import pickle

    assert copy.deepcopy(obj) == obj and pickle.loads(pickle.dumps(obj)) == obj


# The Batch API as the vendor documents it (open.bigmodel.cn Batch API guide, zhipuai tests), only the
# import swapped; the model and the endpoint as the docs write them.
BATCH_SNIPPET = textwrap.dedent(
    """\
    import time
    from zhipuai import ZhipuAI
    client = ZhipuAI(api_key="your api key")
    result = client.files.create(
        file=open("batchinput.jsonl", "rb"),
        purpose="batch"
    )
    print(result.id)
    create = client.batches.create(
        input_file_id=result.id,
        endpoint="/v4/chat/completions",
        auto_delete_input_file=True,
        metadata={
            "description": "Sentiment classification"
        }
    )
    print(create)
    batch_job = client.batches.retrieve(create.id)
    while batch_job.status not in ("completed", "failed", "expired", "cancelled"):
        time.sleep(1)
        batch_job = client.batches.retrieve(create.id)
    print(batch_job.request_counts)
    content = client.files.content(batch_job.output_file_id)
    content.write_to_file("batch_output.jsonl")
    """
)


def test_batch_snippet(env: Any, capsys: pytest.CaptureFixture[str], tmp_path, monkeypatch) -> None:
    import json

    monkeypatch.chdir(tmp_path)
    lines = [
        {"custom_id": f"request-{i}", "method": "POST", "url": "/v4/chat/completions",
         "body": {"model": "glm-4", "messages": [{"role": "user", "content": f"echo: {word}"}]}}
        for i, word in enumerate(["good", "bad", "fine"])
    ]  # fmt: skip
    (tmp_path / "batchinput.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    monkeypatch.setattr(time, "sleep", lambda s: time.monotonic())  # poll without waiting a second
    ns = run_snippet(BATCH_SNIPPET)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ns["result"].id and out[0].startswith("file-")
    assert out[1].startswith("Batch(") and "status='validating'" in out[1]
    assert out[2] == "BatchRequestCounts(total=3, completed=3, failed=0)"
    saved = [json.loads(x) for x in (tmp_path / "batch_output.jsonl").read_text().splitlines()]
    answers = {x["custom_id"]: x["response"]["body"]["choices"][0]["message"]["content"] for x in saved}
    assert answers == {"request-0": "good", "request-1": "bad", "request-2": "fine"}
    upload = [r for r in env.requests if r.method == "POST" and r.path.endswith("/files")]
    assert len(upload) == 1 and ns["create"].metadata.description == "Sentiment classification"
    assert ns["batch_job"].status == "completed" and ns["result"].purpose == "batch"


def test_files_and_batches_shapes(server: Any, tmp_path) -> None:
    from zhipu_magic import ZhipuAI
    from zhipu_magic.api.compat_batches import FileContent, Page
    from zhipu_magic.api.errors import NotFoundError

    client = ZhipuAI(api_key="k.s", base_url=server.base_url)
    body = {"model": "glm-4-flash", "messages": [{"role": "user", "content": "echo: hi"}]}
    line = b'{"custom_id": "c-1", "method": "POST", "url": "/v4/chat/completions", "body": ' + (
        __import__("json").dumps(body).encode() + b"}\n"
    )
    path = tmp_path / "in.jsonl"
    path.write_bytes(line)
    made = [
        client.files.create(file=line, purpose="batch"),
        client.files.create(file=path, purpose="batch"),
        client.files.create(file=("named.jsonl", line), purpose="batch"),
    ]
    assert [f.filename for f in made[1:]] == ["in.jsonl", "named.jsonl"] and repr(made[0]).startswith(
        "FileObject("
    )
    listed = client.files.list(purpose="batch")
    assert isinstance(listed, Page) and {f.id for f in listed.data} == {f.id for f in made}
    assert repr(listed.data[0]).startswith("FileObject(") and listed.has_more is False
    content = client.files.content(made[0].id)
    assert (
        isinstance(content, FileContent) and content.content == line and content.json()["custom_id"] == "c-1"
    )
    assert list(content.iter_lines()) == [line.decode().strip()] and content.text == line.decode()
    deleted = client.files.delete(made[2].id)
    assert deleted.deleted is True and deleted.id == made[2].id and repr(deleted).startswith("FileDeleted(")
    with pytest.raises(NotFoundError):
        client.files.content(made[2].id)
    with pytest.raises(ValueError, match="knowledge-base uploads"):
        client.files.create(file=line, purpose="retrieval", knowledge_id="kb-1")
    batches = [client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions") for f in made[:2]]
    assert server.requests[-1].body["auto_delete_input_file"] is True
    cancelled = client.batches.cancel(batches[1].id)
    assert cancelled.status in ("cancelling", "cancelled") and cancelled.id == batches[1].id
    page = client.batches.list(limit=20)
    assert {b.id for b in page.data} == {b.id for b in batches} and repr(page.data[0]).startswith("Batch(")
    assert client.batches.retrieve(batches[0].id).input_file_id == made[0].id
    assert {b.id for b in page} >= {b.id for b in batches}  # iterating walks on (local server: one page)


def test_a_page_walks_on_while_the_api_has_more() -> None:
    from zhipu_magic.api.compat_batches import Page

    asked: list[str] = []

    def following(last: str) -> Page:
        asked.append(last)
        return Page({"data": [{"id": "b3"}], "has_more": False}, "SyncCursorPage[Batch]", "Batch")

    first = Page(
        {"data": [{"id": "b1"}, {"id": "b2"}], "has_more": True}, "SyncCursorPage[Batch]", "Batch", following
    )
    assert [b.id for b in first] == ["b1", "b2", "b3"] and asked == ["b2"]
    assert [b.id for b in first.data] == ["b1", "b2"]
