"""Issue 11 through the real magics: a hostile server, a bad key, a bad id each end in one line, the
answer always renders, nothing is sent that should not be, and the key never shows."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError
from rawserver import RawServer

KEY = "hardening.key-0123456789abcdef"
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"


def chunk(payload: dict) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


@pytest.fixture
def ip(ip, monkeypatch):
    """The shared shell with a key of our own (each test points it at its hostile server)."""
    monkeypatch.setenv("ZHIPUAI_API_KEY", KEY)
    return ip


def one_line(capsys) -> list[str]:
    return [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]


def test_odd_field_types_never_stop_the_answer_from_rendering(ip, monkeypatch):
    odd = {
        "model": {"name": "x"},
        "choices": [{"index": 0, "delta": {"content": " world"}, "finish_reason": {"why": "stop"}}],
        "usage": {"prompt_tokens": "7", "completion_tokens": "x", "completion_tokens_details": [3]},
    }
    body = chunk({"choices": [{"index": 0, "delta": {"content": "Hello"}}]}) + chunk(odd)
    body += chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) + b"data: [DONE]\n\n"
    with RawServer(SSE_HEAD + body, pause=0) as srv:
        monkeypatch.setenv("ZHIPUAI_BASE_URL", srv.base_url)
        ip.run_cell_magic("glm", "", "hi")
    reply = ip.user_ns["_glm"]
    final = ip.rec.final()[-1]["text/plain"]
    assert reply.text == "Hello world" and final.startswith("Hello world") and "glm-4-flash" in final
    ip.run_line_magic("glm", "usage")  # the counters take the odd usage too
    assert "glm-4-flash" in ip.rec.calls[-1]["data"]["text/plain"]


def test_a_trickling_server_meets_the_deadline_setting_in_one_line(ip, monkeypatch, capsys):
    head = SSE_HEAD + chunk({"choices": [{"index": 0, "delta": {"content": "first"}}]})
    with RawServer(head, [b" "] * 40, pause=0.3) as srv:
        monkeypatch.setenv("ZHIPUAI_BASE_URL", srv.base_url)
        ip.run_line_magic("glm", "config deadline=1.5")
        capsys.readouterr()
        result = ip.run_cell("%%glm\nhi")
    assert type(result.error_in_exec).__name__ == "DeadlineError"
    shown = one_line(capsys)
    assert len(shown) <= 2 and "deadline" in shown[0]
    assert ip.user_ns["_glm"].text == "first"  # the partial answer is kept


@pytest.mark.parametrize("line", ["result ..", "result ../chat/completions", "wait ..", "result a/b"])
def test_task_ids_that_are_not_one_path_segment_send_nothing(ip, server, monkeypatch, capsys, line):
    monkeypatch.setenv("ZHIPUAI_BASE_URL", server.base_url)
    result = ip.run_cell(f"%glm {line}")
    assert result.error_in_exec is not None and server.requests == []
    shown = one_line(capsys)
    assert 1 <= len(shown) <= 2 and "task id" in shown[0].lower()


def test_login_with_an_unsendable_key_says_where_in_one_line(ip, monkeypatch):
    pasted = "abc123\u201dsecretpart"  # a smart quote pasted with the key
    monkeypatch.setattr("getpass.getpass", lambda prompt="": pasted)
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("glm", "login")
    message = str(info.value)
    assert "position 7" in message and "secretpart" not in message and "abc123" not in message
    assert "\n" not in message


def test_config_still_shows_settings_with_a_bad_key_in_the_environment(ip, monkeypatch):
    monkeypatch.setenv("ZHIPUAI_API_KEY", "abc\u201ddef-key")
    ip.run_line_magic("glm", "config")
    table = ip.rec.calls[-1]["data"]["text/plain"]
    assert "api key" in table and "invalid" in table and "def-key" not in table


def test_malformed_choices_are_skipped_and_the_partial_kept(ip, monkeypatch):
    """Reliability case 20's old bug: chunks with a malformed ``choices`` element crashed the magic."""
    good = chunk({"choices": [{"index": 0, "delta": {"content": "kept"}}]})
    bad = [
        {"choices": [None]},
        {"choices": ["x"]},
        {"choices": [{"delta": "str"}]},
        {"choices": [{"delta": {"content": 5}}]},
    ]
    body = good + b"".join(chunk(b) for b in bad)
    body += chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) + b"data: [DONE]\n\n"
    with RawServer(SSE_HEAD + body, pause=0) as srv:
        monkeypatch.setenv("ZHIPUAI_BASE_URL", srv.base_url)
        ip.run_cell_magic("glm", "", "hi")
    assert ip.user_ns["_glm"].text == "kept" and ip.rec.final()[-1]["text/plain"].startswith("kept")
