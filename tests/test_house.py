"""The defects the house rebuild fixed, each pinned: per-call attempts, the dry run is what is sent,
help comes from the registry, the HTTP client speaks neutrally and the notebook adds its hints."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import KEY
from IPython.core.error import UsageError

from zhipu_magic.api import codes
from zhipu_magic.api.client import GLMClient
from zhipu_magic.api.errors import BadRequestError, RateLimitError, ServerError, error_class
from zhipu_magic.api.retry import should_retry
from zhipu_magic.notebook import render
from zhipu_magic.notebook.commands import COMMANDS

ROOT = Path(__file__).resolve().parent.parent


# -- attempts belong to the call -----------------------------------------------------------------
def test_two_threads_streaming_at_once_each_keep_their_own_attempts(server) -> None:
    """One client, two streams open together; only one was rate-limited (and retried)."""
    client = GLMClient(KEY, server.base_url)
    results: dict[str, object] = {}
    slow_open = threading.Event()

    def slow() -> None:
        with client.stream("echo: steady [[chunks:30]] [[interval:0.02]]") as stream:
            slow_open.set()
            results["slow_text"] = "".join(
                c["choices"][0]["delta"].get("content") or "" for c in stream if c.get("choices")
            )
            results["slow"] = stream.attempts

    def retried() -> None:
        slow_open.wait(5)
        with client.stream("echo: again [[fault:rate_limit:0.05]]") as stream:
            results["retried_text"] = stream.text or "".join(
                c["choices"][0]["delta"].get("content") or "" for c in stream if c.get("choices")
            )
            for _ in stream:
                pass
            results["retried"] = stream.attempts

    threads = [threading.Thread(target=slow), threading.Thread(target=retried)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    client.close()
    assert results["slow"] == 1 and results["retried"] == 2
    assert str(results["slow_text"]).startswith("steady")


def test_json_calls_carry_their_attempts_and_the_client_keeps_none(make) -> None:
    client = make()
    retried = client.chat("echo: a [[fault:server_error:1]]")
    plain = client.chat("echo: b")
    assert (retried.attempts, plain.attempts) == (2, 1)
    assert retried == dict(retried) and isinstance(retried, dict)  # still a plain JSON dict to read
    assert not hasattr(client, "attempts")
    with pytest.raises(ServerError) as info:
        make(max_retries=1).chat("x [[fault:server_error:5]]")
    assert info.value.attempts == 2


# -- one business-code table -----------------------------------------------------------------------
@pytest.mark.parametrize("code", sorted(codes.CODES))
def test_error_class_and_retry_agree_for_every_code(code: str) -> None:
    """The retry policy and the error classes read one table: rate and server codes retry, all else not."""
    cls = error_class(400, code)
    assert should_retry(429, code) == issubclass(cls, (RateLimitError, ServerError))
    assert should_retry(500, code) == codes.CODES[code].retryable


def test_unlisted_12xx_codes_are_bad_requests_never_retried() -> None:
    assert error_class(400, "1299") is BadRequestError and not should_retry(400, "1299")


# -- the HTTP client is neutral; the notebook words its own hints -----------------------------------
def _string_constants(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    ]


def test_api_messages_never_assume_a_notebook() -> None:
    found = [
        (p.name, s)
        for p in (ROOT / "zhipu_magic" / "api").glob("*.py")
        for s in _string_constants(p)
        if "%glm" in s or "_glm" in s
    ]
    assert found == []


# -- the magics, in a real shell ------------------------------------------------------------------
@pytest.fixture
def ip(ip, api, monkeypatch):
    """The shared shell, on the fixture server, printing plain text (easy to read)."""
    monkeypatch.setattr(render, "is_rich_frontend", lambda shell=None: False)
    return ip


CASES = [
    ("stream", "-t 0.2", "chat/completions"),
    ("sync", "--no-stream --max-tokens 40", "chat/completions"),
    ("async", "--async -s terse", "async/chat/completions"),
    ("video", "--video", "videos/generations"),
    ("json", "--json --no-think", "chat/completions"),
]


@pytest.mark.parametrize(("kind", "line", "path"), CASES, ids=[c[0] for c in CASES])
def test_dry_run_shows_exactly_the_request_that_is_sent(ip, server, capsys, kind, line, path) -> None:
    prompt = "a haiku about tests"
    ip.run_cell_magic("glm", f"{line} --dry-run", prompt)
    shown = capsys.readouterr().out
    title, _, body = shown.partition("\n")
    assert server.requests == []  # nothing sent
    assert title.startswith(f"POST {server.base_url}/{path}  (dry run: nothing sent; API key set)")
    ip.run_cell_magic("glm", line, prompt)
    sent = [r for r in server.requests if r.method == "POST"][0]
    assert sent.path == f"/api/paas/v4/{path}"
    assert json.loads(body) == sent.body


def test_video_dry_run_names_the_video_endpoint_and_model(ip, capsys) -> None:
    ip.run_cell_magic("glm", "--video --dry-run", "a cat on a piano")
    title, _, body = capsys.readouterr().out.partition("\n")
    assert "/videos/generations" in title
    assert json.loads(body) == {"model": "cogvideox-flash", "prompt": "a cat on a piano"}


def test_help_and_doc_list_every_registered_subcommand(ip, capsys) -> None:
    ip.run_line_magic("glm", "help")
    listed = capsys.readouterr().out
    doc = ip._zhipu_magic.glm.__doc__
    for name in COMMANDS:
        assert f"%glm {name}" in listed and f"%glm {name}" in doc
    assert {"wait", "logout", "result", "login"} <= set(COMMANDS)


def test_docs_list_every_subcommand_as_generated_from_the_registry() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    for doc in ("README.md", "docs/architecture.md"):
        text = (ROOT / doc).read_text()
        assert [name for name in COMMANDS if f"%glm {name}" not in text] == [], doc


def test_subcommand_arguments_are_parsed_not_split_by_hand(ip) -> None:
    with pytest.raises(UsageError, match=r"use %glm wait TASK_ID \[-o NAME\]"):
        ip.run_line_magic("glm", "wait")
    with pytest.raises(UsageError, match="-o needs a Python variable name"):
        ip.run_line_magic("glm", "wait some-task -o not-a-name")
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("glm", "reset a b-secret-looking-thing")
    assert "secret" not in str(info.value) and "use %glm reset" in str(info.value)


def test_api_errors_reach_the_cell_with_notebook_hints(ip) -> None:
    result = ip.run_cell("%%glm -m no-such-model\nhello")
    assert "%glm models" in result.error_in_exec.hint


def test_the_stream_accumulates_straight_into_the_reply(ip, server) -> None:
    """Each delta is parsed once, by the reply the stream was given: nothing counted twice."""
    prompt = "echo: one two three [[chunks:3]]"
    with GLMClient(KEY, server.base_url) as client, client.stream(prompt) as stream:
        for _ in stream:
            pass
        expected_chunks = stream.chunks
    ip.run_cell_magic("glm", "", prompt)
    reply = ip.user_ns["_glm"]
    assert reply.text == "one two three" and reply.retries == 0
    assert reply.chunks == expected_chunks
