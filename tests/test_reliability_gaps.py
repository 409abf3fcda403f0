"""Gaps found by the audit of ../shared/RELIABILITY.md (map: docs/reliability-map.md).

Each test names the case it completes. Everything talks real HTTP on 127.0.0.1: the package's
LocalServer, the scripted RawServer (tests/rawserver.py) or a small sequence server below.
"""

from __future__ import annotations

import html as htmllib
import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import KEY, Recorder, Sleeps, consume, pool_connections
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from rawserver import RawServer, SequenceServer, chunked

from zhipu_magic.api.client import GLMClient
from zhipu_magic.api.config import DEFAULT_BASE_URL
from zhipu_magic.api.errors import (
    APITimeoutError,
    AuthenticationError,
    IncompleteStreamError,
    RateLimitError,
    ServerError,
    StreamError,
    error_from_response,
)
from zhipu_magic.api.retry import should_retry
from zhipu_magic.core.conversation import conversations
from zhipu_magic.notebook import render
from zhipu_magic.server import LocalServer

SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def frame(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"


def content_frame(text: str, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": {"role": "assistant", "content": text}, **extra}
    return frame({"id": "1", "model": "glm-4-flash", "choices": [choice]})


END = content_frame("", finish_reason="stop") + b"data: [DONE]\n\n"


def http_response(status: str, body: bytes, ctype: str = "application/json", extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n{extra}"
        "Connection: close\r\n\r\n"
    ).encode() + body


# -- an in-process shell with a recording display publisher (as in test_magics) --------------------
@pytest.fixture
def ip(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    created = not InteractiveShell.initialized()
    shell = InteractiveShell.instance()
    saved_pub = shell.display_pub
    shell.display_pub = shell.rec = Recorder(shell=shell)
    monkeypatch.setattr(render, "is_rich_frontend", lambda shell=None: True)
    shell.run_line_magic("load_ext", "zhipu_magic")
    conversations.reset()
    yield shell
    shell.run_line_magic("unload_ext", "zhipu_magic")
    for name in ("_glm", "answer"):
        shell.user_ns.pop(name, None)
    shell.config.pop("GLMMagics", None)
    shell.display_pub = saved_pub
    conversations.reset()
    if created:
        InteractiveShell.clear_instance()


@pytest.fixture
def api(server: Any, monkeypatch: pytest.MonkeyPatch, canary: str) -> Any:
    monkeypatch.setenv("ZHIPUAI_BASE_URL", server.base_url)
    monkeypatch.setenv("ZHIPUAI_API_KEY", canary)
    return server


def run_cell(ip: InteractiveShell, source: str) -> tuple[Any, str]:
    with capture_output(display=False) as cap:
        result = ip.run_cell(source)
    return result, cap.stdout + cap.stderr


# == 1. no key + a configured base URL ==========================================================
def test_01_no_key_real_base_url_magic_opens_no_socket(ip, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real default URL configured, no key: one line naming both remedies; not even a DNS
    lookup or a connect happens (recorded at the socket layer, below requests)."""
    touched: list[Any] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *a, **k):
        touched.append(("dns", host))
        return real_getaddrinfo(host, *a, **k)

    def connect(self, address):
        touched.append(("connect", address))
        return real_connect(self, address)

    monkeypatch.setenv("ZHIPUAI_BASE_URL", DEFAULT_BASE_URL)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    result, out = run_cell(ip, "%%glm\nhello")
    assert not result.success and isinstance(result.error_in_exec, AuthenticationError)
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert "ZHIPUAI_API_KEY" in lines[0] and "%glm login" in lines[0]
    assert touched == []


def test_01_no_key_base_url_trait_sends_nothing(ip, server: Any) -> None:
    """Same through ``%config GLMMagics.base_url`` instead of the environment."""
    ip.run_line_magic("config", f"GLMMagics.base_url = {server.base_url!r}")
    result, out = run_cell(ip, "%%glm\nhello")
    assert not result.success
    assert "ZHIPUAI_API_KEY" in out and "%glm login" in out
    assert len([ln for ln in out.splitlines() if ln.strip()]) == 1
    assert server.requests == []


# == 5. load twice / reload: one magic, one answer, one request =================================
def test_05_after_double_load_and_reload_a_cell_runs_once(ip, api: Any) -> None:
    ip.run_line_magic("load_ext", "zhipu_magic")
    ip.run_line_magic("reload_ext", "zhipu_magic")
    ip.run_line_magic("reload_ext", "zhipu_magic")
    ip.rec.calls.clear()
    ip.run_cell("%%glm\necho: once", cell_id="cell-1")
    assert [r.body["messages"][-1]["content"] for r in api.requests if r.body] == ["echo: once"]
    assert len({c["id"] for c in ip.rec.calls}) == 1 and len(ip.rec.final()) == 1
    assert ip.user_ns["_glm"].text == "once"


# == 6. 401 with every documented auth code ======================================================
@pytest.mark.parametrize("code", ["1000", "1001", "1002", "1003", "1004", "1005"])
def test_06_auth_codes_not_retried_request_id_no_header(code: str, canary: str, sleeps: Sleeps) -> None:
    body = json.dumps(
        {"error": {"code": code, "message": f"auth failure {code}"}, "request_id": f"req-{code}"}
    ).encode()
    with SequenceServer([http_response("401 Unauthorized", body)]) as srv:
        client = GLMClient(canary, srv.base_url, sleep=sleeps)
        with pytest.raises(AuthenticationError) as info:
            client.chat("hi")
        assert srv.served == 1
    err = info.value
    assert err.status == 401 and err.code == code
    assert err.attempts == 1 and sleeps == []
    text = str(err)
    assert f"req-{code}" in text and f"[{code}]" in text and "\n" not in text
    for leaked in (canary, "Bearer", "Authorization"):
        assert leaked not in text and leaked not in err.hint
    assert not should_retry(401, code)
    assert type(error_from_response(401, body, {})) is AuthenticationError


# == 7. Retry-After: 2 on a stream ================================================================
def test_07_stream_rate_limit_retry_after_seconds(make, sleeps: Sleeps) -> None:
    client = make()
    stream = client.stream("echo: ok [[fault:rate_limit:2]]")
    consume(stream)
    assert stream.text == "ok" and stream.attempts == 2 and sleeps == [2.0]


# == 9. ceiling on streams; malformed retry-after-ms over HTTP ====================================
@pytest.mark.parametrize("directive", ["rate_limit:3600", "rate_limit_ms:3600000"])
def test_09_stream_retry_after_beyond_ceiling_raises_at_once(make, sleeps: Sleeps, directive: str) -> None:
    client = make()
    with pytest.raises(RateLimitError) as info:
        client.stream(f"x [[fault:{directive}]]")
    assert sleeps == [] and info.value.attempts == 1
    assert info.value.retry_after == pytest.approx(3600, abs=5) and "3600" in str(info.value)


@pytest.mark.parametrize("value", ["abc", "-5", "0", "inf", "nan"])
def test_09_malformed_retry_after_ms_uses_backoff(make, sleeps: Sleeps, value: str) -> None:
    client = make()
    reply = client.chat(f"echo: ok [[fault:rate_limit_ms:{value}]]")
    assert reply["choices"][0]["message"]["content"] == "ok"
    assert sleeps == [0.5] and reply.attempts == 2


# == 10. 502 twice then 200; the last status; failed responses closed ============================
def test_10_bad_gateway_twice_then_success(make, sleeps: Sleeps) -> None:
    client = make()
    reply = client.chat("echo: ok [[fault:bad_gateway:2]]")
    assert reply["choices"][0]["message"]["content"] == "ok"
    assert reply.attempts == 3 and sleeps == [0.5, 1.0]
    assert pool_connections(client) == 1  # both 502 pages were read and the socket reused


def test_10_unavailable_twice_then_success_closes_failed_responses(make, sleeps: Sleeps) -> None:
    client = make()
    reply = client.chat("echo: ok [[fault:unavailable:2]]")
    assert reply["choices"][0]["message"]["content"] == "ok"
    assert reply.attempts == 3 and sleeps == [0.5, 1.0]
    assert pool_connections(client) == 1


def test_10_max_retries_one_carries_the_last_status(sleeps: Sleeps) -> None:
    first = http_response("503 Service Unavailable", b'{"error": {"code": "1305", "message": "busy"}}')
    second = http_response("502 Bad Gateway", b"<html><h1>502 Bad Gateway</h1></html>", "text/html")
    with SequenceServer([first, second]) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=1, sleep=sleeps, rng=lambda: 1.0)
        with pytest.raises(ServerError) as info:
            client.chat("hi")
        assert srv.served == 2
    assert info.value.status == 502 and "502" in str(info.value)
    assert info.value.attempts == 2 and sleeps == [0.5]


# == 12. the timeout fires after (not before) the configured read timeout ==========================
@pytest.mark.parametrize("streaming", [False, True])
def test_12_silent_server_times_out_after_the_read_timeout(sleeps: Sleeps, streaming: bool) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/paas/v4"
        client = GLMClient(KEY, url, timeout=(2.0, 0.5), sleep=sleeps)
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            (client.stream if streaming else client.chat)("hi")
        elapsed = time.monotonic() - started
    assert elapsed >= 0.45  # it waited for the configured read timeout
    assert elapsed < 10
    assert info.value.attempts == 1 and sleeps == []


# == 13. 400 errors in the notebook: code and message on one line, one request ====================
@pytest.mark.parametrize(
    ("line", "cell", "code", "words"),
    [
        ("-m no-such-model", "hello", "1211", "Unknown Model"),
        ("", "hello [[fault:bad_param]]", "1214", "Invalid parameter"),
        ("", "hello [[fault:filter]]", "1301", "unsafe or sensitive"),
    ],
)
def test_13_bad_request_shown_in_one_line_not_retried(ip, api: Any, line, cell, code, words) -> None:
    result, out = run_cell(ip, f"%%glm {line}\n{cell}")
    assert not result.success and result.error_in_exec.code == code
    first = [ln for ln in out.splitlines() if ln.strip()][0]
    assert f"[{code}]" in first and words.lower() in first.lower()
    assert len([r for r in api.requests if r.path.endswith("chat/completions")]) == 1


# == 18/19. BOM, invalid UTF-8, comments, odd fields through a real HTTP stream ===================
def test_18_invalid_utf8_in_a_stream_becomes_replacement_and_goes_on() -> None:
    bad = b'data: {"choices": [{"index": 0, "delta": {"content": "bad \xff\xfe here"}}]}\n\n'
    raw = b"\xef\xbb\xbf" + content_frame("start ") + bad + content_frame(" end") + END
    with RawServer(SSE_HEAD, chunked(raw[:1], raw[1:40], raw[40:])) as srv:
        stream = GLMClient(KEY, srv.base_url).stream("hi")
        consume(stream)
    assert stream.text == "start bad \ufffd\ufffd here end"
    assert stream.finish_reason == "stop" and stream.closed


def test_19_comments_unknown_fields_no_space_and_multiline_data_over_http() -> None:
    raw = (
        b": keepalive\n\n"
        + content_frame("one")
        + b": keepalive\nfoo: bar\nid: 7\nretry: 10\n"
        + b'data:{"choices": [{"index": 0, "delta": {"content": " two"}}]}\n\n'
        + b'data: {"choices": [{"index": 0,\ndata:  "delta": {"content": " three"}}]}\n\n'
        + b": keepalive\n\n"
        + END
    )
    with RawServer(SSE_HEAD, chunked(*(raw[i : i + 7] for i in range(0, len(raw), 7))), pause=0.001) as srv:
        stream = GLMClient(KEY, srv.base_url).stream("hi")
        deltas = [c["choices"][0]["delta"].get("content") for c in stream]
    assert deltas == ["one", " two", " three", ""]
    assert stream.text == "one two three" and stream.finish_reason == "stop"


# == 20/21. in-band errors and incomplete streams in the notebook: partial kept and marked ========
@pytest.mark.parametrize(
    ("fault", "cls"),
    [
        ("error_frame", StreamError),
        ("garbage", StreamError),
        ("no_choices", StreamError),
        ("no_done", IncompleteStreamError),
        ("drop", IncompleteStreamError),
    ],
)
def test_20_21_magic_keeps_partial_on_stream_errors(ip, api: Any, canary: str, fault: str, cls) -> None:
    result, out = run_cell(ip, f"%%glm\nstory [[chunks:12]] [[fault:{fault}]]")
    assert not result.success
    err = result.error_in_exec
    assert type(err) is cls, type(err)
    assert not isinstance(err, (KeyError, ValueError))
    reply = ip.user_ns["_glm"]
    assert reply.text and reply.error is err and err.partial == reply.text
    final = ip.rec.final()
    assert len(final) == 1
    assert final[0]["text/plain"].startswith(reply.text)
    assert "partial" in final[0]["text/plain"].lower() and "partial" in final[0]["text/html"].lower()
    assert 1 <= len([ln for ln in out.splitlines() if ln.strip()]) <= 2
    assert canary not in out + ip.rec.all_text()
    assert len([r for r in api.requests if r.path.endswith("chat/completions")]) == 1  # not retried


def test_20_error_frame_after_text_is_typed_at_client_level_with_stream_closed() -> None:
    raw = content_frame("part one") + frame({"error": {"code": "1301", "message": "unsafe"}})
    with RawServer(SSE_HEAD, chunked(raw)) as srv:
        stream = GLMClient(KEY, srv.base_url).stream("hi")
        with pytest.raises(StreamError) as info:
            consume(stream)
    assert info.value.code == "1301" and info.value.partial == "part one" and stream.closed


def test_21_dropped_stream_server_sees_the_client_close(make, server: Any) -> None:
    client = make(timeout=(2.0, 0.5))
    stream = client.stream("story [[chunks:6]] [[fault:stall:20]]")
    with pytest.raises(APITimeoutError) as info:
        consume(stream)
    assert info.value.partial == stream.text != "" and stream.closed
    assert server.wait_disconnect(10)  # the client hung up: the server stops generating
    assert info.value.attempts == 1


# == 22. a long HTML page on a stream request: text, truncated ===================================
def test_22_long_html_page_on_stream_is_truncated_text() -> None:
    page = (
        b"<html><head><title>Proxy</title><script>evil()</script></head><body><h1>Access denied</h1>"
        + b"<p>blocked by the corporate proxy &amp; more</p>" * 500
        + b"</body></html>"
    )
    html_page = http_response("200 OK", page, "text/html; charset=utf-8")
    with SequenceServer([html_page]) as srv, pytest.raises(StreamError) as info:
        GLMClient(KEY, srv.base_url).stream("hi")
    text = str(info.value)
    assert "Access denied" in text and "<" not in text and "evil" not in text
    assert len(text) < 1000 and "\n" not in text


# == 23. interrupt while the read is blocked: partial visible and marked ==========================
def test_23_magic_interrupt_while_blocked_keeps_partial_visible(ip, api: Any) -> None:
    main = threading.main_thread().ident
    assert threading.current_thread() is threading.main_thread()

    def fire() -> None:
        time.sleep(0.8)
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=fire, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        ip.run_cell_magic("glm", "", "wait [[chunks:20]] [[fault:stall:30]]")
    assert api.wait_disconnect(10)
    reply = ip.user_ns["_glm"]
    assert reply.interrupted and reply.text
    final = ip.rec.final()
    assert len(final) == 1 and final[0]["text/plain"].startswith(reply.text)
    assert "interrupted" in final[0]["text/plain"].lower() and "interrupted" in final[0]["text/html"].lower()


# == 24. break closes at once, without waiting for the garbage collector ===========================
def test_24_break_closes_without_gc(make, server: Any) -> None:
    import gc

    client = make()
    gc.disable()  # only reference counting may close it: no collector pass
    try:
        for chunk in client.stream("a long story [[chunks:200]] [[interval:0.05]]"):
            assert chunk["choices"]
            break
        assert server.wait_disconnect(5)
    finally:
        gc.enable()


def test_24_break_from_a_held_stream_with_block_closes_at_once(make, server: Any) -> None:
    client = make()
    with client.stream("a long story [[chunks:200]] [[interval:0.05]]") as stream:
        for _ in stream:
            break
        # still inside the with block: a plain break does not close a stream the caller holds,
    assert stream.closed  # ... but leaving the block does, at once
    assert server.wait_disconnect(5)


# == 25. answers that are a URL or an existing path, in the notebook and in the chat panel ========
def _html_is_inert(html: str) -> None:
    low = html.lower()
    for bad in ("<img", "<script", "<iframe", "<video", "<audio", "src=", "file:", "javascript:"):
        assert bad not in low, bad


def test_25_magic_url_and_existing_path_answers_are_text(ip, api: Any, tmp_path: Path) -> None:
    path = tmp_path / "secret.png"
    path.write_bytes(b"\x89PNG\r\n")
    for answer in ("https://evil.example/tracker.png?user=1", str(path), "/etc/passwd"):
        ip.rec.calls.clear()
        ip.run_cell_magic("glm", "", f"echo: {answer}")
        assert ip.user_ns["_glm"].text == answer
        final = ip.rec.final()
        assert len(final) == 1
        html = final[0]["text/html"]
        _html_is_inert(html)
        assert "<a " not in html or answer.startswith("https://")
        assert answer in htmllib.unescape(html) and final[0]["text/plain"].startswith(answer)


def test_25_chat_panel_url_and_path_answers_are_text(tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets")
    from zhipu_magic.core.conversation import ConversationRegistry
    from zhipu_magic.notebook import widgets

    path = tmp_path / "local.png"
    path.write_bytes(b"\x89PNG\r\n")
    with LocalServer(port=0) as srv, GLMClient(KEY, srv.base_url) as client:
        panel = widgets.ChatPanel("urls", client, registry=ConversationRegistry())
        for answer in ("https://evil.example/pixel.gif", str(path)):
            panel.send(f"echo: {answer}", wait=True)
            assert panel.reply.text == answer
            html = panel.history.value
            _html_is_inert(html)
            assert answer in htmllib.unescape(html)


# == 26. the canary: log records through the magics, widget state, the task store via %%glm =======
def test_26_canary_not_in_logs_of_magic_runs(ip, api: Any, canary: str, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    caplog.set_level(logging.DEBUG, logger="zhipu_magic")
    for source in (
        "%%glm\nhello [[chunks:5]]",
        "%%glm --no-stream\nhello",
        "%%glm\nhello [[fault:auth]]",
        "%%glm\nhello [[fault:rate_limit:0.1]]",
        "%%glm\nhello [[chunks:6]] [[fault:drop]]",
        "%%glm --async\nlater",
    ):
        run_cell(ip, source)
    assert caplog.records
    assert canary not in caplog.text
    for record in caplog.records:
        assert canary not in record.getMessage() and canary not in repr(record.args)


def test_26_canary_not_in_task_store_after_magic_round_trip(ip, api: Any, canary: str) -> None:
    import os
    import re

    from zhipu_magic.api.config import home_dir

    ip.run_cell_magic("glm", "--async", "Summarise owls")
    task_id = re.search(r"%glm result (\S+)", ip.rec.calls[-1]["data"]["text/plain"]).group(1)
    for _ in range(5):
        ip.run_line_magic("glm", f"result {task_id}")
        if ip.user_ns["_glm"].text:
            break
    assert ip.user_ns["_glm"].text
    ip.run_line_magic("glm", "history")
    files = [p for p in home_dir().rglob("*") if p.is_file()]
    assert files, "the task was not stored"
    for p in files:
        assert canary not in p.read_text(errors="replace")
    assert canary not in ip.rec.all_text()
    assert os.environ["ZHIPUAI_API_KEY"] == canary


def test_26_canary_not_in_widget_state(tmp_path: Path, canary: str) -> None:
    ipywidgets = pytest.importorskip("ipywidgets")
    from zhipu_magic.core.conversation import ConversationRegistry
    from zhipu_magic.core.tasks.store import TaskStore
    from zhipu_magic.notebook import widgets

    with LocalServer(port=0, api_key=canary, task_polls=1) as srv, GLMClient(canary, srv.base_url) as client:
        chat = widgets.ChatPanel("canary", client, registry=ConversationRegistry())
        chat.send("hello", wait=True)
        chat.send("hello [[chunks:6]] [[fault:drop]]", wait=True)
        panel = widgets.task_panel(client, TaskStore(tmp_path))
        panel.submit("a task", wait=True)
        panel.refresh(wait=True)
        panel.refresh(wait=True)
        with GLMClient("wrong.key", srv.base_url) as wrong:
            bad = widgets.ChatPanel("bad", wrong, registry=ConversationRegistry())
            bad.send("hello", wait=True)
        assert chat.reply.text and "zm-error" in bad.status.value
        state = ipywidgets.Widget.get_manager_state(drop_defaults=False)
        dumped = json.dumps(state, default=repr)
        assert dumped.count('"model_name"') > 5  # the panels' widgets are in there
        assert canary not in dumped
        for obj in (chat, panel, bad):
            assert canary not in json.dumps(obj._repr_mimebundle_(), default=repr)
        for p in tmp_path.rglob("*"):
            if p.is_file():
                assert canary not in p.read_text(errors="replace")


# == 20 through the magic: malformed chunks never cost the answer ===============================
@pytest.mark.parametrize("bad", [[None], ["x"], [{"delta": "str"}], [{"index": 0, "delta": {"content": 5}}]])
def test_20_magic_skips_malformed_chunks(ip, monkeypatch: pytest.MonkeyPatch, bad: list) -> None:
    raw = (
        content_frame("hello ")
        + frame({"choices": bad})
        + content_frame("world", finish_reason="stop")
        + b"data: [DONE]\n\n"
    )
    with RawServer(SSE_HEAD, chunked(raw)) as srv:
        monkeypatch.setenv("ZHIPUAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("ZHIPUAI_API_KEY", KEY)
        result, out = run_cell(ip, "%%glm\nhi")
    assert result.success, out
    assert ip.user_ns["_glm"].text == "hello world"
    assert ip.rec.final()[-1]["text/plain"].startswith("hello world")


# == 21 through the magic: a stall longer than GLMMagics.timeout ================================
def test_21_magic_stall_beyond_timeout_keeps_partial(ip, api: Any) -> None:
    ip.run_line_magic("config", "GLMMagics.timeout = 0.5")
    result, out = run_cell(ip, "%%glm\nstory [[chunks:8]] [[fault:stall:20]]")
    err = result.error_in_exec
    assert isinstance(err, APITimeoutError), out
    reply = ip.user_ns["_glm"]
    assert reply.text and err.partial == reply.text
    assert "partial" in ip.rec.final()[-1]["text/plain"].lower()
    assert api.wait_disconnect(10)
    assert 1 <= len([ln for ln in out.splitlines() if ln.strip()]) <= 2
