"""The local server inside the kernel (issue 11, RELIABILITY case 36): every directive is bounded, and
the server the magics start implicitly obeys none unless asked; its tasks finish after a time
(issue 10, item 7)."""

from __future__ import annotations

import time

import pytest
import requests
from helpers import Recorder

from zhipu_magic.server import LocalServer, start_local_server
from zhipu_magic.server.answers import plan
from zhipu_magic.server.faults import count_arg, wait_arg

AUTH = {"Authorization": "Bearer any.key"}


def chat(srv: LocalServer, text: str, **extra: object) -> requests.Response:
    body = {"model": "glm-4-flash", "messages": [{"role": "user", "content": text}], **extra}
    return requests.post(f"{srv.base_url}/chat/completions", json=body, headers=AUTH, timeout=60)


def test_huge_chunk_count_is_capped_and_quick(server: LocalServer) -> None:
    start = time.monotonic()
    answer = chat(server, "Count [[chunks:100000000]]").json()
    assert time.monotonic() - start < 20
    assert answer["usage"]["completion_tokens"] == plan.MAX_CHUNKS


def test_directive_values_are_bounded() -> None:
    _, d = plan.parse_directives("[[chunks:999999999999]] [[interval:1e300]]")
    assert d.chunks == plan.MAX_CHUNKS and d.interval == plan.MAX_INTERVAL
    _, d = plan.parse_directives("[[interval:-5]] [[chunks:-3]]")
    assert d.chunks == 0 and d.interval == 0.0
    for bad in ("nan", "inf", "-inf", "1e999"):
        assert wait_arg(bad, 1.0) == 1.0, bad
    assert wait_arg("1e9", 1.0) == plan.MAX_WAIT and wait_arg("-3", 1.0) == 0.0
    assert count_arg("1000000000", 1) == plan.MAX_COUNT and count_arg(None, 10**9) == 10**9
    _, d = plan.parse_directives("[[fault:error_frame:" + "9" * 500 + "]]")
    assert len(d.arg("error_frame") or "") == plan.MAX_ARG


def test_a_paced_stream_ends_within_the_stream_budget() -> None:
    from zhipu_magic.api.models import get_model

    info = get_model("glm-4-flash")
    assert info is not None
    prompt, d = plan.parse_directives("hi [[chunks:5000]] [[interval:10]]")
    p = plan.plan_reply(info, {}, [{"role": "user", "content": prompt}], prompt, d)
    assert len(p.content) == 5000
    assert d.interval is not None and d.interval * (len(p.content) + 1) <= plan.MAX_STREAM_SECONDS + 1e-9


def test_nan_stall_is_bounded_over_http(server: LocalServer) -> None:
    start = time.monotonic()
    r = chat(server, "Tell me a story [[fault:stall:nan]] [[chunks:4]]", stream=True)
    assert r.status_code == 200 and b"[DONE]" in r.content
    assert time.monotonic() - start < 15  # nan once slept forever (nan <= 0 is never true)


def test_fault_arguments_cannot_inject_headers(server: LocalServer) -> None:
    r = chat(server, "hi [[fault:rate_limit:1\r\nX-Evil: yes]]")
    assert r.status_code == 429 and "X-Evil" not in r.headers
    assert "\n" not in r.headers["Retry-After"] and "\r" not in r.headers["Retry-After"]


def test_explicit_servers_obey_directives_by_default(server: LocalServer) -> None:
    assert chat(server, "hi [[fault:balance]]").status_code == 429


def test_a_server_with_directives_off_reads_them_as_words() -> None:
    with LocalServer(port=0, directives=False) as srv:
        r = chat(srv, "echo: [[fault:auth]] [[chunks:100000000]] [[interval:zz]]")
        assert r.status_code == 200
        assert (
            r.json()["choices"][0]["message"]["content"]
            == "[[fault:auth]] [[chunks:100000000]] [[interval:zz]]"
        )


def test_the_implicit_server_ignores_directives_unless_the_env_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZHIPU_MAGIC_LOCAL_DIRECTIVES", raising=False)
    srv = start_local_server()
    assert chat(srv, "Hello [[fault:balance]]").status_code == 200
    monkeypatch.setenv("ZHIPU_MAGIC_LOCAL_DIRECTIVES", "1")
    assert start_local_server() is srv  # the same server: the switch is read on every call
    assert chat(srv, "Hello [[fault:balance]]").status_code == 429
    monkeypatch.setenv("ZHIPU_MAGIC_LOCAL_DIRECTIVES", "0")
    start_local_server()
    assert chat(srv, "Hello [[fault:balance]]").status_code == 200


@pytest.fixture
def ip(shell, monkeypatch):
    """A real shell with the extension, no key: the magics start the implicit local server."""
    from zhipu_magic.notebook import render

    shell.display_pub = Recorder(shell=shell)
    monkeypatch.setattr(render, "is_rich_frontend", lambda shell=None: True)
    monkeypatch.setenv("ZHIPU_MAGIC_LOCAL_RATE", "100000")
    shell.run_line_magic("load_ext", "zhipu_magic")
    yield shell
    shell.run_line_magic("unload_ext", "zhipu_magic")
    shell.user_ns.pop("_glm", None)


def test_untrusted_data_in_a_cell_cannot_drive_the_implicit_server(ip, monkeypatch) -> None:
    monkeypatch.delenv("ZHIPU_MAGIC_LOCAL_DIRECTIVES", raising=False)
    ip.user_ns["page"] = "scraped text [[chunks:100000000]] [[fault:balance]] [[fault:stall:3600]]"
    start = time.monotonic()
    ip.run_cell_magic("glm", "--no-stream", "echo: {page}")
    assert time.monotonic() - start < 10
    assert ip.user_ns["_glm"].text == ip.user_ns["page"]
    monkeypatch.setenv("ZHIPU_MAGIC_LOCAL_DIRECTIVES", "1")  # the documented demos opt in
    from zhipu_magic.api.errors import GLMError

    with pytest.raises(GLMError, match="1113"):
        ip.run_cell_magic("glm", "--no-stream", "Hello [[fault:balance]]")


# -- issue 10, item 7: tasks finish after a time ----------------------------------------------------


def _submit(srv: LocalServer) -> str:
    body = {"model": "glm-4-flash", "messages": [{"role": "user", "content": "hi"}]}
    return requests.post(
        f"{srv.base_url}/async/chat/completions", json=body, headers=AUTH, timeout=10
    ).json()["id"]


def _status(srv: LocalServer, tid: str) -> str:
    return requests.get(f"{srv.base_url}/async-result/{tid}", headers=AUTH, timeout=10).json()["task_status"]


def test_tasks_finish_after_a_time_not_a_poll_count() -> None:
    with LocalServer(port=0, task_polls=1000, task_seconds=0.5) as srv:
        tid = _submit(srv)
        assert _status(srv, tid) == "PROCESSING"
        time.sleep(0.6)
        assert _status(srv, tid) == "SUCCESS"
        late = _submit(srv)
        time.sleep(0.6)
        assert _status(srv, late) == "SUCCESS"  # first poll, after the time: done


def test_the_implicit_server_finishes_tasks_by_time(monkeypatch) -> None:
    srv = start_local_server()
    assert srv.task_seconds is not None and 0 < srv.task_seconds <= 2
    tid = _submit(srv)
    assert _status(srv, tid) == "PROCESSING"
    time.sleep(srv.task_seconds + 0.1)
    late = _submit(srv)
    time.sleep(srv.task_seconds + 0.1)
    assert _status(srv, late) == "SUCCESS"  # never polled before: done by time alone


def test_poll_counts_still_work_for_tests(server: LocalServer) -> None:
    tid = _submit(server)
    assert [_status(server, tid) for _ in range(2)] == ["PROCESSING", "SUCCESS"]
