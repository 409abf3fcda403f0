"""The canary key never shows: not in reprs, errors, exception chains, tracebacks or log records."""

from __future__ import annotations

import json
import logging
import pickle
import socket
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from zhipu_magic.api.client import GLMClient
from zhipu_magic.api.config import Secret, resolve_api_key, resolve_base_url
from zhipu_magic.api.errors import GLMError


def reachable_strings(obj: Any, depth: int = 0, seen: set[int] | None = None) -> Iterator[str]:
    """Every string reachable from an error's state and its __cause__/__context__ chain."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 8:
        return
    seen.add(id(obj))
    if isinstance(obj, (str, bytes)):
        yield obj if isinstance(obj, str) else obj.decode("utf-8", "replace")
        return
    if isinstance(obj, BaseException):
        yield from reachable_strings(obj.args, depth + 1, seen)
        yield from reachable_strings(vars(obj), depth + 1, seen)
        yield from reachable_strings(obj.__cause__, depth + 1, seen)
        yield from reachable_strings(obj.__context__, depth + 1, seen)
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from reachable_strings(k, depth + 1, seen)
            yield from reachable_strings(v, depth + 1, seen)
    elif isinstance(obj, (list, tuple, set)):
        for v in obj:
            yield from reachable_strings(v, depth + 1, seen)
    elif hasattr(obj, "__dict__"):
        yield from reachable_strings(vars(obj), depth + 1, seen)


def assert_error_clean(err: BaseException, canary: str) -> None:
    assert isinstance(err, GLMError)
    assert err.__cause__ is None and err.__context__ is None  # no requests exception rides along
    texts = [str(err), repr(err), *err._render_traceback_(), err.hint, err.partial]
    texts.append("".join(traceback.format_exception(err)))
    # Locals of the library's own frames (the test's frames hold the canary on purpose).
    summary = traceback.TracebackException.from_exception(err, capture_locals=True)
    library = [f for f in summary.stack if "zhipu_magic" in f.filename]
    assert library  # the error was raised inside the package
    for frame in library:
        texts.extend(f"{k}={v}" for k, v in (frame.locals or {}).items())
    texts.extend(reachable_strings(err))
    for text in texts:
        assert canary not in text
    assert canary.encode() not in pickle.dumps(err)


def assert_logs_clean(caplog: pytest.LogCaptureFixture, canary: str) -> None:
    assert caplog.records  # urllib3 and the client did log at DEBUG
    assert canary not in caplog.text
    for record in caplog.records:
        assert canary not in record.getMessage()
        assert canary not in repr(record.args)


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    caplog.set_level(logging.DEBUG, logger="zhipu_magic")


def test_secret_masks_itself(canary: str) -> None:
    secret = Secret(canary)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", format(secret), str([secret])):
        assert canary not in text and "***" in text
    assert secret.reveal() == canary and Secret(secret).reveal() == canary
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_key_and_url_resolution(canary: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_api_key() is None
    monkeypatch.setenv("ZAI_API_KEY", "zai.key")
    assert resolve_api_key().reveal() == "zai.key"
    monkeypatch.setenv("ZHIPUAI_API_KEY", canary)
    assert resolve_api_key().reveal() == canary
    assert resolve_api_key("arg.key").reveal() == "arg.key"
    assert resolve_api_key("  ").reveal() == canary  # blank argument counts as unset
    assert resolve_base_url() == "https://open.bigmodel.cn/api/paas/v4"
    assert resolve_base_url("https://api.z.ai/api/paas/v4/") == "https://api.z.ai/api/paas/v4"
    monkeypatch.setenv("ZHIPUAI_BASE_URL", "https://api.z.ai/api/paas/v4")
    assert resolve_base_url() == "https://api.z.ai/api/paas/v4"


def test_client_state_never_shows_key(canary: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from zhipu_magic import ZhipuAI

    monkeypatch.setenv("ZHIPUAI_API_KEY", canary)
    client = GLMClient()
    for text in (
        repr(client),
        str(client),
        repr(vars(client)),
        repr(vars(client._transport)),
        repr(client._transport.session.headers),
    ):
        assert canary not in text
    assert "set" in repr(client)
    assert canary not in repr(ZhipuAI()) and canary not in repr(vars(ZhipuAI()))


def test_canary_chat_and_stream(canary: str, caplog: pytest.LogCaptureFixture) -> None:
    from zhipu_magic.server import LocalServer

    with LocalServer(port=0, api_key=canary) as srv:  # the server accepts only the canary
        client = GLMClient(canary, srv.base_url)
        reply = client.chat("echo: fine")
        assert reply["choices"][0]["message"]["content"] == "fine"
        with client.stream("echo: streamed") as stream:
            chunks = list(stream)
        assert stream.text == "streamed"
        for text in (json.dumps(reply), json.dumps(chunks), repr(stream), repr(srv.requests)):
            assert canary not in text
    assert_logs_clean(caplog, canary)


def test_canary_auth_failure(canary: str, caplog: pytest.LogCaptureFixture) -> None:
    from zhipu_magic.server import LocalServer

    with LocalServer(port=0, api_key="another.key") as srv:
        client = GLMClient(canary, srv.base_url)
        with pytest.raises(GLMError) as info:
            client.chat("hi")
        assert info.value.status == 401
        assert_error_clean(info.value, canary)
        with pytest.raises(GLMError) as info:
            client.stream("hi")
        assert_error_clean(info.value, canary)
    assert_logs_clean(caplog, canary)


@pytest.mark.parametrize(
    "prompt",
    [
        "x [[fault:server_error:9]]",
        "x [[fault:bad_gateway]]",
        "x [[fault:rate_limit:3600]]",
        "x [[fault:filter]]",
    ],
)
def test_canary_http_failures(
    canary: str, server: Any, caplog: pytest.LogCaptureFixture, prompt: str
) -> None:
    client = GLMClient(canary, server.base_url, sleep=lambda s: None)
    with pytest.raises(GLMError) as info:
        client.chat(prompt)
    assert_error_clean(info.value, canary)
    assert_logs_clean(caplog, canary)


@pytest.mark.parametrize("fault", ["drop", "error_frame", "garbage", "no_done", "stall:5"])
def test_canary_stream_failures(
    canary: str, server: Any, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    client = GLMClient(canary, server.base_url, timeout=(2.0, 0.3))
    stream = client.stream(f"story [[chunks:6]] [[fault:{fault}]]")
    with pytest.raises(GLMError) as info:
        for _ in stream:
            pass
    assert info.value.partial
    assert_error_clean(info.value, canary)
    assert canary not in repr(stream)
    assert_logs_clean(caplog, canary)


def test_canary_connection_refused_and_timeout(canary: str, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = GLMClient(canary, f"http://127.0.0.1:{port}/api/paas/v4", sleep=lambda s: None)
    with pytest.raises(GLMError) as info:
        client.chat("hi")
    assert_error_clean(info.value, canary)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        client = GLMClient(canary, f"http://127.0.0.1:{silent.getsockname()[1]}/v4", timeout=(1.0, 0.2))
        with pytest.raises(GLMError) as info:
            client.chat("hi")
        assert_error_clean(info.value, canary)
    assert_logs_clean(caplog, canary)


@pytest.fixture
def echo_key_server() -> Iterator[str]:
    """A hostile server that echoes the Authorization header back in a 401 body and a header."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    piece = conn.recv(65536)
                    if not piece:
                        break
                    data += piece
                auth = ""
                for line in data.decode("latin-1").split("\r\n"):
                    if line.lower().startswith("authorization:"):
                        auth = line.split(":", 1)[1].strip()
                body = json.dumps({"error": {"code": "1002", "message": f"invalid token {auth}"}}).encode()
                conn.sendall(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                    + f"X-Echo: {auth}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                    + body
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/paas/v4"
    stop.set()
    listener.close()
    thread.join(timeout=5)


def test_key_echoed_by_server_is_masked(
    canary: str, echo_key_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = GLMClient(canary, echo_key_server)
    with pytest.raises(GLMError) as info:
        client.chat("hi")
    assert "invalid token Bearer ***" in str(info.value)
    assert_error_clean(info.value, canary)
    assert_logs_clean(caplog, canary)


def test_response_object_forgets_the_header(canary: str, server: Any) -> None:
    stream = GLMClient(canary, server.base_url).stream("echo: x")
    assert "Authorization" not in stream._response.request.headers
    stream.close()
