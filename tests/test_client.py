"""GLMClient and ChatStream against the package's LocalServer over real HTTP on 127.0.0.1."""

from __future__ import annotations

import email.utils
import gc
import json
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import KEY, Sleeps, consume, pool_connections
from rawserver import RawServer, chunked

from zhipu_magic.api.client import ChatStream, GLMClient
from zhipu_magic.api.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    GLMError,
    IncompleteStreamError,
    MissingKeyError,
    NotFoundError,
    QuotaError,
    RateLimitError,
    ServerError,
    StreamError,
)
from zhipu_magic.notebook.hints import notebook_hint


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- plain calls ------------------------------------------------------------------------------------


def test_chat_string_message_and_params(make: Callable[..., GLMClient], server: Any) -> None:
    client = make()
    reply = client.chat("echo: hello there", temperature=0.5, top_p=None)
    assert reply["choices"][0]["message"]["content"] == "hello there"
    assert reply.attempts == 1
    record = server.requests[-1]
    assert record.path.endswith("/chat/completions")
    assert record.body["messages"] == [{"role": "user", "content": "echo: hello there"}]
    assert record.body["temperature"] == 0.5 and "top_p" not in record.body and "stream" not in record.body


def test_chat_message_list_and_model(make: Callable[..., GLMClient], server: Any) -> None:
    msgs = [{"role": "system", "content": "terse"}, {"role": "user", "content": "echo: 你好"}]
    reply = make().chat(msgs, model="glm-4.5-flash", thinking={"type": "disabled"})
    assert reply["choices"][0]["message"]["content"] == "你好"
    assert server.requests[-1].body["model"] == "glm-4.5-flash"


def test_async_task_round_trip(make: Callable[..., GLMClient], server: Any) -> None:
    client = make()
    task = client.submit("echo: later")
    assert task["task_status"] == "PROCESSING" and task["id"]
    assert client.result(task["id"])["task_status"] == "PROCESSING"
    done = client.result(task["id"])
    assert done["task_status"] == "SUCCESS"
    assert done["choices"][0]["message"]["content"] == "later"
    assert server.requests[-1].method == "GET" and server.requests[-1].path.endswith(
        f"async-result/{task['id']}"
    )


def test_video_and_unknown_task(make: Callable[..., GLMClient], server: Any) -> None:
    client = make()
    task = client.video("a cat surfing")
    assert task["task_status"] == "PROCESSING"
    assert server.requests[-1].body == {"model": "cogvideox-flash", "prompt": "a cat surfing"}
    client.result(task["id"])
    assert client.result(task["id"])["video_result"][0]["url"].endswith(".mp4")
    with pytest.raises(NotFoundError) as info:
        client.result("no-such-task")
    assert info.value.attempts == 1


def test_generic_request(make: Callable[..., GLMClient]) -> None:
    data = make().request("POST", "/embeddings", {"model": "embedding-3", "input": "x"})
    assert data["data"][0]["embedding"]


def test_base_url_from_env_and_trailing_slash(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIPUAI_BASE_URL", server.base_url + "/")
    monkeypatch.setenv("ZAI_API_KEY", KEY)
    with GLMClient() as client:
        assert client.base_url == server.base_url and client.has_key
        assert client.chat("echo: env")["choices"][0]["message"]["content"] == "env"


def test_missing_key_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    client = GLMClient()  # default real base URL, no key anywhere
    assert client.base_url == "https://open.bigmodel.cn/api/paas/v4" and not client.has_key
    with pytest.raises(MissingKeyError) as info:
        client.chat("hi")
    assert "ZHIPUAI_API_KEY" in str(info.value) and "%glm" not in str(info.value)  # neutral: no notebook here
    assert "%glm login" in notebook_hint(info.value)
    assert info.value.attempts == 0


# --- streaming -------------------------------------------------------------------------------------


def test_stream_collects_text_usage_and_closes(make: Callable[..., GLMClient], server: Any) -> None:
    client = make()
    stream = client.stream("echo: Hello streamed world 你好 👋 [[chunks:4]]")
    assert isinstance(stream, ChatStream)
    chunks = list(stream)
    assert len(chunks) == 5  # 4 content chunks + the final one
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == stream.text == "Hello streamed world 你好 👋"
    assert stream.finish_reason == "stop" and stream.usage["total_tokens"] > 0
    assert stream.closed and stream.model
    assert server.requests[-1].body["stream"] is True


def test_stream_reasoning(make: Callable[..., GLMClient]) -> None:
    with make().stream("echo: done", model="glm-4.5-flash") as stream:
        for _ in stream:
            pass
    assert stream.reasoning and stream.text == "done"


def test_chunks_arrive_as_they_are_sent(make: Callable[..., GLMClient]) -> None:
    client = make()
    start = time.monotonic()
    arrivals = []
    with client.stream("echo: a b c d [[chunks:4]] [[interval:0.3]]") as stream:
        for _ in stream:
            arrivals.append(time.monotonic() - start)
    assert arrivals[-1] >= 1.1
    assert arrivals[0] < 0.5  # the first chunk did not wait for the rest
    assert all(b - a > 0.15 for a, b in zip(arrivals, arrivals[1:], strict=False))


def test_early_break_closes_connection(make: Callable[..., GLMClient], server: Any) -> None:
    client = make()
    for chunk in client.stream("tell me a long story [[chunks:50]] [[interval:0.05]]"):
        assert chunk["choices"]
        break
    gc.collect()
    assert server.wait_disconnect(5)


def test_with_block_exit_closes_connection(make: Callable[..., GLMClient], server: Any) -> None:
    with make().stream("story [[chunks:50]] [[interval:0.05]]") as stream:
        next(stream)
        next(stream)
    assert stream.closed
    assert server.wait_disconnect(5)
    assert len(stream.text) > 0


def test_keyboard_interrupt_in_display_path(make: Callable[..., GLMClient], server: Any) -> None:
    with pytest.raises(KeyboardInterrupt), make().stream("story [[chunks:50]] [[interval:0.05]]") as stream:
        for i, _ in enumerate(stream):
            if i == 2:
                raise KeyboardInterrupt
    assert stream.closed and stream.interrupted and stream.text
    assert server.wait_disconnect(5)


def test_keyboard_interrupt_while_read_is_blocked(make: Callable[..., GLMClient], server: Any) -> None:
    assert threading.current_thread() is threading.main_thread()
    stream = make().stream("story [[chunks:10]] [[fault:stall:10]]")

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in stream:
                pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert time.monotonic() - started < 5
    assert stream.closed and stream.interrupted and stream.text
    assert server.wait_disconnect(5)


# --- stream failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "cls", "code"),
    [("error_frame", StreamError, "1301"), ("garbage", StreamError, None), ("no_choices", StreamError, None)],
)
def test_in_band_stream_errors_are_typed_with_partial(
    make: Callable[..., GLMClient], fault: str, cls: type[GLMError], code: str | None
) -> None:
    client = make()
    stream = client.stream(f"story [[chunks:6]] [[fault:{fault}]]")
    with pytest.raises(cls) as info:
        consume(stream)
    err = info.value
    assert type(err) is cls and not isinstance(err, (KeyError, ValueError))
    assert err.code == code
    assert err.partial and err.partial == stream.text
    assert stream.closed and stream.attempts == 1


def test_no_done_is_incomplete(make: Callable[..., GLMClient]) -> None:
    stream = make().stream("story [[chunks:6]] [[fault:no_done]]")
    with pytest.raises(IncompleteStreamError) as info:
        consume(stream)
    assert info.value.partial == stream.text != ""
    assert "[DONE]" in str(info.value)


def test_no_done_but_finish_reason_is_complete(make: Callable[..., GLMClient]) -> None:
    stream = make().stream("echo: fine [[fault:no_done:finish]]")
    consume(stream)
    assert stream.text == "fine" and stream.finish_reason == "stop"


def test_dropped_mid_stream(make: Callable[..., GLMClient]) -> None:
    client = make()
    stream = client.stream("story [[chunks:6]] [[fault:drop]]")
    with pytest.raises(IncompleteStreamError) as info:
        consume(stream)
    assert info.value.partial and stream.closed and stream.attempts == 1
    assert "\n" not in str(info.value)


def test_stall_beyond_read_timeout(make: Callable[..., GLMClient], server: Any) -> None:
    client = make(timeout=(2.0, 0.4))
    stream = client.stream("story [[chunks:6]] [[fault:stall:5]]")
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        consume(stream)
    assert time.monotonic() - started < 3
    assert info.value.partial == stream.text != ""
    assert stream.attempts == 1  # a stream is never retried once bytes were read
    assert server.wait_disconnect(5)


def test_stall_within_read_timeout_is_fine(make: Callable[..., GLMClient]) -> None:
    stream = make(timeout=(2.0, 3.0)).stream("echo: patience [[fault:stall:0.3]]")
    consume(stream)
    assert stream.text == "patience"


def test_finish_reasons(make: Callable[..., GLMClient]) -> None:
    stream = make().stream("story [[chunks:6]] [[fault:length]]")
    consume(stream)
    assert stream.finish_reason == "length"


def test_stream_502_html_page(make: Callable[..., GLMClient], sleeps: Sleeps) -> None:
    client = make(max_retries=0)
    with pytest.raises(ServerError) as info:
        client.stream("hi [[fault:bad_gateway]]")
    text = str(info.value)
    assert info.value.status == 502 and "<" not in text and "502 Bad Gateway" in text and "nginx" in text
    assert info.value.attempts == 1 and sleeps == []


def test_stream_pre_stream_errors(make: Callable[..., GLMClient]) -> None:
    with pytest.raises(ContentFilterError) as info:
        make().stream("x [[fault:filter]]")
    assert info.value.content_filter and info.value.code == "1301"


# --- HTTP faults and retries ------------------------------------------------------------------------


def test_auth_failure_not_retried(make: Callable[..., GLMClient], sleeps: Sleeps) -> None:
    client = make()
    with pytest.raises(AuthenticationError) as info:
        client.chat("x [[fault:auth]]")
    err = info.value
    assert err.status == 401 and err.code == "1000" and err.request_id
    assert err.request_id in str(err) and "ZHIPUAI_API_KEY" in err.hint and "%glm" not in err.hint
    assert "%glm login" in notebook_hint(err)
    assert err.attempts == 1 and sleeps == []


def test_wrong_key_against_keyed_server(sleeps: Sleeps) -> None:
    from zhipu_magic.server import LocalServer

    with LocalServer(port=0, api_key="right.key") as srv:
        assert (
            GLMClient("right.key", srv.base_url).chat("echo: ok")["choices"][0]["message"]["content"] == "ok"
        )
        client = GLMClient("wrong.key", srv.base_url, sleep=sleeps)
        with pytest.raises(AuthenticationError) as info:
            client.chat("hi")
        assert info.value.attempts == 1


@pytest.mark.parametrize(
    ("prompt", "model", "cls", "code"),
    [
        ("hi", "no-such-model", BadRequestError, "1211"),
        ("x [[fault:bad_param]]", "glm-4-flash", BadRequestError, "1214"),
        ("x [[fault:filter]]", "glm-4-flash", ContentFilterError, "1301"),
        ("x [[fault:balance]]", "glm-4-flash", QuotaError, "1113"),
        ("x [[fault:daily]]", "glm-4-flash", QuotaError, "1304"),
    ],
)
def test_not_retried(
    make: Callable[..., GLMClient], sleeps: Sleeps, prompt: str, model: str, cls: type, code: str
) -> None:
    client = make()
    with pytest.raises(cls) as info:
        client.chat(prompt, model=model)
    assert info.value.code == code and f"[{code}]" in str(info.value) and "\n" not in str(info.value)
    assert info.value.hint
    assert info.value.attempts == 1 and sleeps == []


def test_unknown_model_hint(make: Callable[..., GLMClient]) -> None:
    with pytest.raises(BadRequestError) as info:
        make().stream("hi", model="glm-99")
    assert "%glm" not in info.value.hint and "%glm models" in notebook_hint(info.value)


def test_balance_hint(make: Callable[..., GLMClient]) -> None:
    with pytest.raises(QuotaError) as info:
        make().chat("x [[fault:balance]]")
    assert "top up the balance" in info.value.hint


def test_rate_limit_retry_after_then_success(make: Callable[..., GLMClient], sleeps: Sleeps) -> None:
    client = make()
    reply = client.chat("echo: ok [[fault:rate_limit:2]]")
    assert reply["choices"][0]["message"]["content"] == "ok"
    assert reply.attempts == 2 and sleeps == [2.0]


def test_rate_limit_stream_retry(make: Callable[..., GLMClient], sleeps: Sleeps) -> None:
    client = make()
    stream = client.stream("echo: ok [[fault:rate_limit_ms:1500]]")
    consume(stream)
    assert stream.text == "ok" and stream.attempts == 2 and sleeps == [1.5]


@pytest.mark.parametrize(
    "directive",
    [
        "rate_limit:3600",
        "rate_limit_ms:3600000",
        "rate_limit:DATE",
    ],
)
def test_retry_after_beyond_ceiling_raises_at_once(
    make: Callable[..., GLMClient], sleeps: Sleeps, directive: str
) -> None:
    client = make()
    directive = directive.replace("DATE", email.utils.formatdate(time.time() + 3600, usegmt=True))
    started = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        client.chat(f"x [[fault:{directive}]]")
    assert time.monotonic() - started < 2 and sleeps == [] and info.value.attempts == 1
    assert info.value.retry_after == pytest.approx(3600, abs=5)
    assert "asked to wait 3" in str(info.value) and "60 s" in str(info.value)
    assert info.value.hint.startswith("wait about")


@pytest.mark.parametrize("value", ["abc", "-5", "0", "inf", "nan"])
def test_malformed_retry_after_uses_backoff(
    make: Callable[..., GLMClient], sleeps: Sleeps, value: str
) -> None:
    client = make(rng=lambda: 1.0)
    reply = client.chat(f"echo: ok [[fault:rate_limit:{value}]]")
    assert reply["choices"][0]["message"]["content"] == "ok"
    assert sleeps == [0.5] and reply.attempts == 2


def test_server_errors_twice_then_success_with_growing_delays(
    make: Callable[..., GLMClient], sleeps: Sleeps
) -> None:
    client = make()
    reply = client.chat("echo: ok [[fault:server_error:2]]")
    assert reply["choices"][0]["message"]["content"] == "ok"
    assert reply.attempts == 3
    assert sleeps == [0.5, 1.0]
    assert pool_connections(client) == 1  # every failed response was read and closed; one socket reused


def test_503_overloaded_retried(make: Callable[..., GLMClient], sleeps: Sleeps) -> None:
    client = make()
    stream = client.stream("echo: ok [[fault:unavailable:2]]")
    consume(stream)
    assert stream.text == "ok" and stream.attempts == 3 and len(sleeps) == 2 and sleeps[1] > sleeps[0]


def test_max_retries_one_gives_last_status(make: Callable[..., GLMClient], sleeps: Sleeps) -> None:
    client = make(max_retries=1)
    with pytest.raises(ServerError) as info:
        client.chat("x [[fault:server_error:5]]")
    assert info.value.status == 500 and info.value.attempts == 2 and len(sleeps) == 1


def test_bad_gateway_retried_then_fails(make: Callable[..., GLMClient], sleeps: Sleeps) -> None:
    client = make(max_retries=2)
    with pytest.raises(ServerError) as info:
        client.chat("x [[fault:bad_gateway]]")
    assert info.value.status == 502 and info.value.attempts == 3 and sleeps == [0.5, 1.0]


def test_connection_refused_retried_then_connection_error(sleeps: Sleeps) -> None:
    port = free_port()
    client = GLMClient(KEY, f"http://127.0.0.1:{port}/api/paas/v4", sleep=sleeps, rng=lambda: 1.0)
    started = time.monotonic()
    with pytest.raises(APIConnectionError) as info:
        client.chat("hi")
    assert type(info.value) is APIConnectionError
    assert time.monotonic() - started < 5
    assert info.value.attempts == 3 and sleeps == [0.5, 1.0]
    assert "refused" in str(info.value).lower()


def test_connection_refused_real_sleep_is_bounded() -> None:
    client = GLMClient(KEY, f"http://127.0.0.1:{free_port()}/api/paas/v4", max_retries=1, rng=lambda: 0.0)
    started = time.monotonic()
    with pytest.raises(APIConnectionError):
        client.chat("hi")
    assert 0.3 <= time.monotonic() - started < 3


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A socket that accepts connections (via the kernel backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def test_server_that_never_answers_times_out(silent_port: int, sleeps: Sleeps) -> None:
    client = GLMClient(KEY, f"http://127.0.0.1:{silent_port}/api/paas/v4", timeout=(1.0, 0.3), sleep=sleeps)
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        client.chat("hi")
    assert time.monotonic() - started < 2
    assert info.value.attempts == 1 and sleeps == []  # the request was sent: never retried
    assert "timeout" in str(info.value)
    with pytest.raises(APITimeoutError):
        client.stream("hi")


def test_slow_first_byte(make: Callable[..., GLMClient]) -> None:
    stream = make(timeout=(2.0, 3.0)).stream("echo: late [[fault:slow_first:0.5]]")
    consume(stream)
    assert stream.text == "late"
    client = make(timeout=(2.0, 0.2))
    with pytest.raises(APITimeoutError) as info:
        client.stream("echo: late [[fault:slow_first:1]]")
    assert info.value.attempts == 1


def test_per_call_timeout(make: Callable[..., GLMClient]) -> None:
    client = make(timeout=(2.0, 30.0))
    with pytest.raises(APITimeoutError):
        client.chat("echo: x [[fault:slow_first:1]]", timeout=0.2)
    assert "timeout" not in json.dumps(make().chat("echo: y")["choices"])


def test_client_importable_without_ipython() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['IPython'] = None; sys.modules['ipywidgets'] = None\n"
        "from zhipu_magic.api.client import GLMClient\nfrom zhipu_magic import ZhipuAI, GLMError\n"
        "GLMClient('k.s', 'http://127.0.0.1:1/x')\n"
        "assert 'IPython' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- byte-exact streams from a scripted raw server -----------------------------------------------------

SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def _frame(content: str, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": {"role": "assistant", "content": content}, **extra}
    body = {"id": "1", "model": "glm-4-flash", "choices": [choice]}
    return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\r\n\r\n"


def test_wire_splits_mid_character_and_mid_crlf_without_charset() -> None:
    text_parts = ["你好，世界", " 👋🏽 emoji", "\u2028 sep \u0085 nel"]
    raw = (
        b"\xef\xbb\xbf: keepalive\r\n\r\n"
        + b"".join(_frame(t) for t in text_parts)
        + _frame("", finish_reason="stop")
        + b"data: [DONE]\r\n\r\n"
    )
    cuts = sorted(
        {
            2,  # inside the BOM
            raw.index("好".encode()) + 1,  # inside a 3-byte character
            raw.index("👋".encode()) + 2,  # inside a 4-byte emoji
            raw.index(b"\r\n\r\ndata") + 1,  # between CR and LF
            raw.index(b"\r\n\r\ndata") + 3,  # between the two line breaks
            raw.index("\u0085".encode()) + 1,  # inside U+0085
        }
    )
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    with RawServer(SSE_HEAD, chunked(*pieces)) as srv:
        client = GLMClient(KEY, srv.base_url)
        with client.stream("hi") as stream:
            deltas = [c["choices"][0]["delta"]["content"] for c in stream]
    assert deltas == [*text_parts, ""]
    assert stream.text == "".join(text_parts) and "\ufffd" not in stream.text
    assert stream.finish_reason == "stop" and stream.closed


def test_stream_answered_with_html_page() -> None:
    page = b"<html><body><h1>Captive portal</h1><script>x()</script><p>Please log in</p></body></html>"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(page)
    with RawServer(head + page) as srv:
        client = GLMClient(KEY, srv.base_url)
        with pytest.raises(StreamError) as info:
            client.stream("hi")
    text = str(info.value)
    assert "Captive portal" in text and "Please log in" in text and "<" not in text and "x()" not in text
    assert "text/html" in text


def test_stream_answered_with_json_error_body() -> None:
    body = json.dumps({"error": {"code": "1113", "message": "余额不足"}}, ensure_ascii=False).encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    with RawServer(head + body) as srv, pytest.raises(QuotaError) as info:
        GLMClient(KEY, srv.base_url).stream("hi")
    assert info.value.code == "1113" and "余额不足" in str(info.value)


def test_event_error_frame_and_done_prefix() -> None:
    raw = _frame("part") + b'event: error\ndata: {"code": "1234", "message": "network"}\n\n'
    with RawServer(SSE_HEAD, chunked(raw)) as srv:
        stream = GLMClient(KEY, srv.base_url).stream("hi")
        with pytest.raises(StreamError) as info:
            consume(stream)
    assert info.value.code == "1234" and info.value.partial == "part"


def test_shutdown_from_another_thread_wakes_a_blocked_read(server) -> None:
    """A Stop button's thread shuts the socket: the reader, blocked in a stall, returns at once."""
    client = GLMClient(api_key="k", base_url=server.base_url, timeout=(5, 30))
    stream = client.stream("story [[fault:stall:20]]")
    first = next(stream)
    assert first["choices"]
    timer = threading.Timer(0.3, stream.shutdown)
    timer.start()
    started = time.monotonic()
    with pytest.raises(GLMError) as info, stream:
        for _chunk in stream:
            pass
    assert time.monotonic() - started < 5, "the blocked read did not wake up"
    assert stream.closed and info.value.partial == stream.text
    assert server.wait_disconnect(5)
