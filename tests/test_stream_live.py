"""Live streaming on every framing: the first event is yielded as soon as its bytes arrive, even on
a body without chunked framing (``Connection: close``, no length), and read timeouts still fire."""

from __future__ import annotations

import json
import time
import tracemalloc

import pytest
from rawserver import RawServer, chunked

from zhipu_magic.api.answer import Answer
from zhipu_magic.api.client import GLMClient
from zhipu_magic.api.errors import APITimeoutError, IncompleteStreamError

KEY = "live.key"
EOF_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
LENGTH_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n"


def chunk(content: str, **extra: object) -> bytes:
    choice = {"index": 0, "delta": {"content": content}, **extra}
    return b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n"


REST = chunk(" world") + chunk("", finish_reason="stop") + b"data: [DONE]\n\n"


def first_event_after(head: bytes, rest: list[bytes]) -> tuple[float, str]:
    """Seconds from the request to the first chunk, and the whole text."""
    with RawServer(head, rest, pause=1.0) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0, timeout=(5, 5))
        t0 = time.monotonic()
        with client.stream("hi") as stream:
            next(stream)
            first = time.monotonic() - t0
            list(stream)
    return first, stream.text


def test_a_body_without_framing_streams_live() -> None:
    """One event, a one-second pause, then the rest: the first event comes at once."""
    first, text = first_event_after(EOF_HEAD + chunk("hello"), [REST])
    assert first < 0.5, first
    assert text == "hello world"


def test_a_chunked_body_streams_live() -> None:
    pieces = chunked(chunk("hello"), REST)
    first, text = first_event_after(CHUNKED_HEAD + pieces[0], pieces[1:])
    assert first < 0.5, first
    assert text == "hello world"


def test_a_body_with_a_length_streams_live() -> None:
    body = chunk("hello") + REST
    first, text = first_event_after((LENGTH_HEAD % len(body)) + chunk("hello"), [REST])
    assert first < 0.5, first
    assert text == "hello world"


@pytest.mark.timeout(20)
def test_read_timeout_still_fires_on_a_body_without_framing() -> None:
    with RawServer(EOF_HEAD + chunk("partial"), [REST], pause=3.0) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0, timeout=(5, 0.5))
        t0 = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            list(client.stream("hi"))
        assert time.monotonic() - t0 < 2.5
    assert info.value.partial == "partial"


def test_a_body_without_framing_that_ends_early_is_incomplete() -> None:
    with RawServer(EOF_HEAD + chunk("cut"), pause=0) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0)
        with pytest.raises(IncompleteStreamError) as info:
            list(client.stream("hi"))
    assert info.value.partial == "cut"


def test_the_connection_is_reused_after_a_complete_chunked_stream() -> None:
    from helpers import pool_connections
    from rawserver import _ScriptedServer

    body = b"".join(chunked(chunk("a"), chunk("", finish_reason="stop"), b"data: [DONE]\n\n"))

    class KeepAlive(_ScriptedServer):
        def _answer(self, conn) -> None:  # noqa: ANN001 - answer every request on this connection
            from rawserver import read_request

            conn.sendall(CHUNKED_HEAD + body)
            while read_request(conn) is not None:
                self.heads.append(b"again")
                conn.sendall(CHUNKED_HEAD + body)

    with KeepAlive() as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0)
        for _ in range(3):
            with client.stream("hi") as stream:
                assert [c["choices"][0]["delta"]["content"] for c in stream] == ["a", ""]
        assert pool_connections(client) == 1


def test_a_long_answer_is_held_in_a_few_strings() -> None:
    """200,000 small chunks: the accumulator's peak stays within ~3x the answer's size."""
    pieces = [{"choices": [{"delta": {"content": f"w{i % 10}_ "}}]} for i in range(200_000)]
    answer = Answer("glm-4-flash")
    tracemalloc.start()
    try:
        for piece in pieces:
            answer.add_chunk(piece)
        text = answer.text
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(text) == 800_000
    assert peak < 3 * len(text), peak / len(text)
