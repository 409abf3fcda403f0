"""A hostile or broken server on 127.0.0.1 writing raw bytes: every case ends in a typed GLMError
within bounded memory and time, and never leaks the key or re-sends the prompt elsewhere."""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc

import pytest
from rawserver import RawServer

from zhipu_magic.api.client import GLMClient
from zhipu_magic.api.errors import (
    APIConnectionError,
    BadRequestError,
    DeadlineError,
    GLMError,
    ResponseTooLargeError,
    StreamError,
)

KEY = "hostile.key-0123456789abcdef"
JSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"


def sized(head: bytes, body: bytes) -> bytes:
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def chunk(content: str, **extra: object) -> bytes:
    choice = {"index": 0, "delta": {"content": content}, **extra}
    return b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n"


# -- resources ---------------------------------------------------------------------------------
def test_gzip_bomb_json_body_stops_at_the_cap_within_bounded_memory() -> None:
    bomb = gzip.compress(b"{" + b" " * (40 * 1024 * 1024), compresslevel=9)  # 40 KB -> 40 MB
    head = JSON_HEAD + b"Content-Encoding: gzip\r\nConnection: close\r\n"
    with RawServer(sized(head, bomb), pause=0) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0, max_body=1024 * 1024)
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLargeError) as info:
                client.chat("hi")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert "larger than 1 MB" in str(info.value)
    assert peak < 8 * 1024 * 1024, peak


def test_a_compressed_stream_it_did_not_ask_for_is_refused() -> None:
    body = gzip.compress(chunk("hi", finish_reason="stop") + b"data: [DONE]\n\n")
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n"
        b"Connection: close\r\n\r\n"
    )
    with RawServer(head + body, pause=0) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0)
        with pytest.raises(StreamError, match="compressed"):
            list(client.stream("hi"))
    assert b"identity" in srv.heads[0].lower()


@pytest.mark.timeout(30)
def test_a_line_without_end_is_a_typed_error_not_unbounded_memory() -> None:
    piece = b"x" * (1024 * 1024)
    with RawServer(SSE_HEAD + b"data: ", [piece] * 24, pause=0) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0)
        t0 = time.monotonic()
        with pytest.raises(ResponseTooLargeError, match="line or event"):
            list(client.stream("hi"))
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize("where", ["stream", "error body", "json body"])
def test_deep_nesting_is_a_glm_error_not_a_recursion_error(where: str) -> None:
    deep = b"[" * 100_000
    if where == "stream":
        response = SSE_HEAD + b"data: " + deep + b"\n\n"
    elif where == "error body":
        response = sized(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n", deep)
    else:
        response = sized(JSON_HEAD, deep)
    with RawServer(response, pause=0) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0)
        with pytest.raises(GLMError) as info:
            if where == "stream":
                list(client.stream("hi"))
            else:
                client.chat("hi")
    assert len(str(info.value)) < 500


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["chat", "stream"])
def test_a_trickling_server_meets_the_overall_deadline(kind: str) -> None:
    if kind == "chat":
        head = JSON_HEAD + b"Content-Length: 100\r\n\r\n"
    else:
        head = SSE_HEAD + chunk("first")
    with RawServer(head, [b" "] * 30, pause=0.3) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0, timeout=(5, 5), deadline=1.5)
        t0 = time.monotonic()
        with pytest.raises(DeadlineError) as info:
            if kind == "chat":
                client.chat("hi")
            else:
                list(client.stream("hi"))
    assert time.monotonic() - t0 < 4
    assert "1.5 s deadline" in str(info.value) and "\n" not in str(info.value)
    if kind == "stream":
        assert info.value.partial == "first"


def test_deadline_must_be_a_sane_number() -> None:
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError):
            GLMClient(KEY, "http://127.0.0.1:9", deadline=bad)


# -- odd but valid-looking JSON ------------------------------------------------------------------
def test_wrong_types_in_optional_fields_never_stop_the_answer() -> None:
    odd = {
        "model": {"name": "x"},
        "id": ["not", "a", "string"],
        "choices": [{"index": 0, "delta": {"content": "!"}, "finish_reason": {"why": "stop"}}],
        "usage": {
            "prompt_tokens": "7",
            "completion_tokens": "12",
            "total_tokens": 19.0,
            "completion_tokens_details": ["reasoning_tokens", 3],
            "prompt_tokens_details": {"cached_tokens": "2", "odd": "many"},
            "note": "free text",
        },
    }
    body = chunk("Hello") + b"data: " + json.dumps(odd).encode() + b"\n\n"
    body += chunk("", finish_reason="stop") + b"data: [DONE]\n\n"
    with RawServer(SSE_HEAD + body, pause=0) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0)
        with client.stream("hi", model="glm-4-flash") as stream:
            list(stream)
    assert stream.text == "Hello!"
    assert stream.model == "glm-4-flash" and stream.finish_reason == "stop"
    assert stream.usage == {
        "prompt_tokens": 7,
        "completion_tokens": 12,
        "total_tokens": 19,
        "prompt_tokens_details": {"cached_tokens": 2},
    }


def test_wrong_types_in_a_whole_response() -> None:
    odd = {
        "model": 5,
        "request_id": {"x": 1},
        "choices": [{"message": {"content": "fine"}, "finish_reason": ["stop"]}],
        "usage": {"completion_tokens": "3", "completion_tokens_details": [1]},
    }
    from zhipu_magic.api.answer import Answer

    answer = Answer("glm-4-flash")
    answer.set_response(odd)
    assert answer.text == "fine" and answer.model == "glm-4-flash"
    assert answer.finish_reason is None and answer.request_id is None
    assert answer.usage == {"completion_tokens": 3}


# -- requests that must not be sent --------------------------------------------------------------
@pytest.mark.parametrize("task_id", ["..", ".", "a/b", "", "x" * 300, "id?x=1", "../chat/completions", "é"])
def test_task_ids_that_are_not_one_safe_segment_are_refused_before_sending(task_id: str) -> None:
    with RawServer(sized(JSON_HEAD, b"{}"), pause=0) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0)
        with pytest.raises(BadRequestError, match="not a task id") as info:
            client.result(task_id)
    assert srv.heads == []
    assert "\n" not in str(info.value)


def test_a_good_task_id_is_sent() -> None:
    with RawServer(sized(JSON_HEAD, b'{"task_status": "PROCESSING"}'), pause=0) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0)
        assert client.result("8761-20260313.ab_c~d")["task_status"] == "PROCESSING"
    assert b"/async-result/8761-20260313.ab_c~d " in srv.heads[0]


def test_cross_host_redirect_of_a_post_is_not_followed() -> None:
    with RawServer(sized(JSON_HEAD, b'{"choices": []}'), pause=0) as other:
        location = other.base_url.replace("127.0.0.1", "localhost") + "/chat/completions"
        redirect = (
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\n"
            b"Connection: close\r\nContent-Length: 0\r\n\r\n"
        )
        with RawServer(redirect % location.encode(), pause=0) as srv:
            client = GLMClient(KEY, srv.base_url, max_retries=0)
            for call in (lambda: client.chat("secret prompt"), lambda: list(client.stream("secret prompt"))):
                with pytest.raises(APIConnectionError, match="another host") as info:
                    call()
                assert KEY not in repr(vars(info.value))
    assert other.heads == []  # neither the prompt nor the key went there


def test_same_origin_redirect_is_followed_with_the_key() -> None:
    ok = sized(JSON_HEAD, b'{"choices": [{"message": {"content": "moved"}}]}')
    with RawServer(ok, pause=0) as srv:
        srv.head = (
            b"HTTP/1.1 308 Permanent Redirect\r\nLocation: /api/paas/v4/v2/chat\r\n"
            b"Connection: close\r\nContent-Length: 0\r\n\r\n"
        )
        served: list[bytes] = []

        def answer(conn):  # noqa: ANN001 - first a redirect, then the answer
            conn.sendall(srv.head if not served else ok)
            served.append(b"")

        srv._answer = answer  # type: ignore[method-assign]
        client = GLMClient(KEY, srv.base_url, max_retries=0)
        assert client.chat("hi")["choices"][0]["message"]["content"] == "moved"
    assert b"POST /api/paas/v4/v2/chat " in srv.heads[1]
    assert f"Bearer {KEY}".encode() in srv.heads[1]


@pytest.mark.timeout(30)
def test_a_trickling_error_body_is_cut_at_the_deadline() -> None:
    head = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 9000\r\n\r\n"
    with RawServer(head + b"overloaded", [b"."] * 40, pause=0.2) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0, timeout=(5, 5), deadline=1.0)
        t0 = time.monotonic()
        with pytest.raises(GLMError) as info:
            client.chat("hi")
        assert time.monotonic() - t0 < 3
    assert info.value.status == 500 and "overloaded" in str(info.value)
