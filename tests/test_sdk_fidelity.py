"""The official ``zhipuai`` SDK works unchanged against the local server: if the vendor's own parser
accepts our bytes, the server's wire format is faithful enough to test our client against."""

from __future__ import annotations

import time

import pytest

from zhipu_magic.server import LocalServer

zhipuai = pytest.importorskip("zhipuai")
from zhipuai import ZhipuAI  # noqa: E402
from zhipuai.core._errors import (  # noqa: E402
    APIAuthenticationError,
    APIInternalError,
    APIReachLimitError,
    APIRequestFailedError,
    APIResponseError,
)

KEY = "abc123.secretXYZ"


@pytest.fixture
def srv() -> LocalServer:
    with LocalServer(api_key=KEY, task_polls=1) as s:
        yield s


def sdk(srv: LocalServer, **kw: object) -> ZhipuAI:
    return ZhipuAI(api_key=KEY, base_url=srv.base_url, **kw)


def test_sync_call(srv: LocalServer) -> None:
    resp = sdk(srv).chat.completions.create(
        model="glm-4-flash", messages=[{"role": "user", "content": "Tell me about rivers"}]
    )
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].message.content.startswith("## Tell me about rivers")
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert resp.id and resp.model == "glm-4-flash" and isinstance(resp.created, int)
    # the SDK sends explicit nulls; the server kept the body it saw, without the key
    body = srv.requests[-1].body
    assert body["thinking"] is None and body["response_format"] is None
    assert KEY not in repr(srv.requests)


def test_stream(srv: LocalServer) -> None:
    chunks = list(
        sdk(srv).chat.completions.create(
            model="glm-4.7", messages=[{"role": "user", "content": "Plan a trip"}], stream=True
        )
    )
    reasoning = "".join(c.choices[0].delta.reasoning_content or "" for c in chunks if c.choices)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert reasoning.startswith("The user asks") and text.startswith("## Plan a trip")
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert chunks[-1].usage.completion_tokens == len(chunks) - 1


def test_stream_error_frame_raises(srv: LocalServer) -> None:
    stream = sdk(srv).chat.completions.create(
        model="glm-4-flash", messages=[{"role": "user", "content": "x [[fault:error_frame]]"}], stream=True
    )
    with pytest.raises(APIResponseError):
        list(stream)


def test_async_create_and_retrieve(srv: LocalServer) -> None:
    client = sdk(srv)
    task = client.chat.asyncCompletions.create(
        model="glm-4-plus", messages=[{"role": "user", "content": "echo: done"}]
    )
    assert task.task_status == "PROCESSING" and task.id
    deadline = time.monotonic() + 10
    while True:
        result = client.chat.asyncCompletions.retrieve_completion_result(id=task.id)
        if result.task_status != "PROCESSING" or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert result.task_status == "SUCCESS"
    assert result.choices[0].message.content == "done"
    assert result.usage.completion_tokens > 0


def test_video_generation(srv: LocalServer) -> None:
    client = sdk(srv)
    task = client.videos.generations(model="cogvideox-flash", prompt="a cat playing piano")
    assert task.task_status == "PROCESSING"
    result = client.videos.retrieve_videos_result(id=task.id)
    while result.task_status == "PROCESSING":
        result = client.videos.retrieve_videos_result(id=task.id)
    assert result.task_status == "SUCCESS"
    assert result.video_result[0].url.startswith(srv.base_url) and result.video_result[0].url.endswith(".mp4")


def test_embeddings(srv: LocalServer) -> None:
    resp = sdk(srv).embeddings.create(model="embedding-3", input="hello", dimensions=256)
    assert len(resp.data[0].embedding) == 256


def test_unknown_model_is_request_failed(srv: LocalServer) -> None:
    with pytest.raises(APIRequestFailedError) as info:
        sdk(srv).chat.completions.create(model="glm-nope", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 400 and '"1211"' in str(info.value)
    assert len(srv.requests) == 1  # 400 is not retried


def test_wrong_key_is_authentication_error(srv: LocalServer) -> None:
    with pytest.raises(APIAuthenticationError):
        ZhipuAI(api_key="abc123.wrong", base_url=srv.base_url).chat.completions.create(
            model="glm-4-flash", messages=[{"role": "user", "content": "hi"}]
        )


def test_sdk_jwt_mode_is_accepted(srv: LocalServer) -> None:
    resp = sdk(srv, disable_token_cache=False).chat.completions.create(
        model="glm-4-flash", messages=[{"role": "user", "content": "echo: jwt ok"}]
    )
    assert resp.choices[0].message.content == "jwt ok"


def test_sdk_retries_server_error_to_success(srv: LocalServer) -> None:
    resp = sdk(srv).chat.completions.create(
        model="glm-4-flash", messages=[{"role": "user", "content": "echo: ok [[fault:server_error:1]]"}]
    )
    assert resp.choices[0].message.content == "ok"
    assert len(srv.requests) == 2


@pytest.mark.parametrize(
    ("fault", "exc"), [("rate_limit", APIReachLimitError), ("server_error:9", APIInternalError)]
)
def test_sdk_error_classes(srv: LocalServer, fault: str, exc: type[Exception]) -> None:
    with pytest.raises(exc):
        sdk(srv, max_retries=0).chat.completions.create(
            model="glm-4-flash", messages=[{"role": "user", "content": f"x [[fault:{fault}]]"}]
        )
