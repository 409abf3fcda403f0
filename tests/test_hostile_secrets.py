"""Secrets against a hostile server or a bad setting: a key cut by a display limit is still masked,
a key that cannot be sent says so in one line, URL credentials and ~/.netrc never replace the
Bearer key and are never shown, and nothing reachable after a call holds the key."""

from __future__ import annotations

import json
import logging

import pytest
from rawserver import RawServer

from zhipu_magic.api.client import GLMClient
from zhipu_magic.api.config import Secret, redact_url
from zhipu_magic.api.errors import APIConnectionError, GLMError, InvalidKeyError

KEY = "leak0123456789.ABCDEFGHIJ"  # 25 characters


def prefixes(key: str, shortest: int = 8) -> list[str]:
    sizes = range(shortest, len(key) + 1)
    return [key[:n] for n in sizes] + [key[-n:] for n in sizes]


def assert_no_part_of_key(*texts: str) -> None:
    for text in texts:
        for part in prefixes(KEY):
            assert part not in text, (part, text)


@pytest.mark.parametrize("cut_at", range(280, 305, 3))
def test_an_echoed_key_cut_by_the_display_limit_is_still_masked(
    cut_at: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The error body (not JSON) echoes the header; wherever the 300-character cut lands."""
    body = ("x" * (cut_at - len("HTTP 502 Bad Gateway: Authorization: Bearer "))).encode()
    body += b" Authorization: Bearer " + KEY.encode() + b" and more text after it" * 4
    head = b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body)
    caplog.set_level(logging.DEBUG, logger="zhipu_magic")
    with RawServer(head + body, pause=0) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0)
        with pytest.raises(GLMError) as info:
            client.chat("hi")
    err = info.value
    assert_no_part_of_key(str(err), repr(err), repr(vars(err)), caplog.text)


@pytest.mark.parametrize("pad", [60, 90, 100, 105, 110])
def test_a_non_json_frame_echoing_the_key_is_masked_before_it_is_cut(pad: int) -> None:
    frame = b"data: " + b"y" * pad + b" Bearer " + KEY.encode() + b" tail\n\n"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    with RawServer(head + frame, pause=0) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0)
        with pytest.raises(GLMError) as info:
            list(client.stream("hi"))
    assert_no_part_of_key(str(info.value), repr(vars(info.value)))


def test_mask_covers_long_prefixes_and_suffixes_only() -> None:
    secret = Secret(KEY)
    assert secret.mask(f"a {KEY[:-1]}… b") == "a ***… b"
    assert secret.mask(f"…{KEY[5:]} end") == "…*** end"
    assert secret.mask(f"x {KEY} y {KEY[:12]}") == "x *** y ***"
    assert secret.mask("leak012 is short") == "leak012 is short"  # 7 characters: not a key


@pytest.mark.parametrize("bad", ["abc\u201cdef.ghijkl", "key\u00a0ok\u2019", "new\nline", "zero\x00"])
def test_a_key_that_cannot_be_sent_is_one_line_naming_the_position(bad: str) -> None:
    with pytest.raises(InvalidKeyError) as info:
        GLMClient(bad, "http://127.0.0.1:9")
    err = info.value
    text = str(err)
    assert "\n" not in text and "position" in text
    assert bad not in text and bad not in repr(err.args) and bad not in repr(vars(err))
    assert not isinstance(err.__context__, UnicodeError)
    assert err._render_traceback_()[0].startswith("InvalidKeyError: ")


def test_a_non_latin1_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIPUAI_API_KEY", "sk\u201c123456789")
    with pytest.raises(InvalidKeyError, match="position 3"):
        GLMClient(base_url="http://127.0.0.1:9")


def test_redact_url() -> None:
    assert (
        redact_url("http://user:pa%40ss@host:8080/api/paas/v4?x=1") == "http://***@host:8080/api/paas/v4?x=1"
    )
    assert redact_url("https://token@example.com/v4") == "https://***@example.com/v4"
    assert redact_url("https://open.bigmodel.cn/api/paas/v4") == "https://open.bigmodel.cn/api/paas/v4"
    assert "secret" not in redact_url("http://u:secret@[::1/broken")


def test_url_credentials_never_replace_the_key_nor_show() -> None:
    ok = b'{"choices": [{"message": {"content": "ok"}}]}'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(ok)
    with RawServer(head + ok, pause=0) as srv:
        url = srv.base_url.replace("http://", "http://someone:hunter2@")
        client = GLMClient(KEY, url, max_retries=0)
        assert client.chat("hi")["choices"][0]["message"]["content"] == "ok"
        assert "hunter2" not in client.base_url and "hunter2" not in repr(client)
    sent = srv.heads[0].decode()
    assert f"Authorization: Bearer {KEY}" in sent and "Basic" not in sent
    dead = GLMClient(KEY, "http://someone:hunter2@127.0.0.1:9/api/paas/v4", max_retries=0, timeout=(1, 1))
    with pytest.raises(APIConnectionError) as info:
        dead.chat("hi")
    assert "hunter2" not in str(info.value) and "someone" not in str(info.value)


def test_a_netrc_entry_never_replaces_the_key(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    ok = b'{"choices": [{"message": {"content": "ok"}}]}'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(ok)
    with RawServer(head + ok, pause=0) as srv:
        GLMClient(KEY, srv.base_url, max_retries=0).chat("hi")
    sent = srv.heads[0].decode()
    assert f"Authorization: Bearer {KEY}" in sent and "Basic" not in sent


def test_nothing_reachable_from_a_stream_holds_the_key() -> None:
    body = b'data: {"choices": [{"delta": {"content": "hi"}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    with RawServer(head + body, pause=0) as srv:
        client = GLMClient(KEY, srv.base_url, max_retries=0)
        stream = client.stream("hi")
        response = stream._response
        assert response is not None and response.history == []
        assert "Authorization" not in response.request.headers
        list(stream)
    assert stream.text == "hi"
    assert KEY not in json.dumps(vars(stream), default=repr)
