"""%%glm and %glm in a real in-process InteractiveShell, against the package's local server.

Display messages are captured by a DisplayPublisher that records every publish (display_id,
update flag, bundle); the final state per display_id is what a saved notebook would hold.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from zhipu_magic.core.conversation import conversations
from zhipu_magic.notebook import render

REAL_IS_RICH = render.is_rich_frontend


def bodies(srv) -> list[dict]:
    return [r.body for r in srv.requests if r.body is not None]


def run(ip, line: str, cell: str):
    return ip.run_cell_magic("glm", line, cell)


# -- loading ----------------------------------------------------------------------------------
def test_load_unload_reload_no_duplicates(shell):
    shell.run_line_magic("load_ext", "zhipu_magic")
    try:
        shell.run_line_magic("load_ext", "zhipu_magic")
        shell.run_line_magic("reload_ext", "zhipu_magic")
        shell.run_line_magic("reload_ext", "zhipu_magic")
        from zhipu_magic.notebook.magics import GLMMagics

        for event in ("pre_run_cell", "post_run_cell"):
            ours = [
                cb
                for cb in shell.events.callbacks[event]
                if isinstance(getattr(cb, "__self__", None), GLMMagics)
            ]
            assert len(ours) == 1, event
        assert sum(isinstance(c, GLMMagics) for c in shell.configurables) == 1
        assert "glm" in shell.magics_manager.magics["line"] and "glm" in shell.magics_manager.magics["cell"]
    finally:
        shell.run_line_magic("unload_ext", "zhipu_magic")
    assert "glm" not in shell.magics_manager.magics["cell"]
    assert "glm" not in shell.magics_manager.magics["line"]
    assert not any(type(c).__name__ == "GLMMagics" for c in shell.configurables)


def test_load_is_light():
    code = (
        "import sys\nfrom IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\nip.run_line_magic('load_ext', 'zhipu_magic')\n"
        "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported'\n"
        "assert 'requests' not in sys.modules, 'requests imported'\nprint('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


def test_config_magic_and_traitlets(ip):
    ip.run_line_magic("config", 'GLMMagics.model = "glm-4-air"')
    ip.run_line_magic("glm", "config temperature=0.3 max_tokens=50")
    magics = ip._zhipu_magic
    assert (magics.model, magics.temperature, magics.max_tokens) == ("glm-4-air", 0.3, 50)
    text = ip.rec.calls[-1]["data"]["text/plain"]
    assert re.search(r"^model +'glm-4-air'$", text, re.M) and re.search(r"^api key +not set$", text, re.M)
    with pytest.raises(UsageError, match="temperature"):
        ip.run_line_magic("glm", "config temperature=3")
    with pytest.raises(UsageError, match="unknown setting"):
        ip.run_line_magic("glm", "config colour=blue")
    with pytest.raises(UsageError, match="ZHIPUAI_API_KEY"):
        ip.run_line_magic("glm", "config api_key=sk-secret-value")


def test_help_and_docstring(ip):
    ip.run_line_magic("glm", "help")
    text = ip.rec.calls[-1]["data"]["text/plain"]
    for sub in ("config", "login", "models", "usage", "history", "reset", "result", "chat", "tasks"):
        assert f"%glm {sub}" in text
    doc = ip._zhipu_magic.glm.__doc__
    for opt in (
        "--model",
        "--system",
        "--temperature",
        "--top-p",
        "--max-tokens",
        "--chat",
        "--no-stream",
        "--async",
        "--think",
        "--no-think",
        "--output",
        "--dry-run",
        "--json",
    ):
        assert opt in doc, opt
    with pytest.raises(UsageError, match="unknown subcommand"):
        ip.run_line_magic("glm", "frobnicate")


# -- streaming and display --------------------------------------------------------------------
def test_stream_one_display_updated_in_place(ip, monkeypatch, canary):
    from zhipu_magic.server import LocalServer

    with LocalServer(port=0, token_rate=400) as srv:
        monkeypatch.setenv("ZHIPUAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("ZHIPUAI_API_KEY", canary)
        t0 = time.monotonic()
        assert run(ip, "", "Tell me about streams [[chunks:400]]") is None  # never displayed twice
        elapsed = time.monotonic() - t0
    calls = ip.rec.calls
    ids = {c["id"] for c in calls}
    assert len(ids) == 1 and None not in ids
    assert not calls[0]["update"] and all(c["update"] for c in calls[1:])
    assert len(calls) >= 4  # status, ticks (1 s at >= 10 a second, stretched if renders are slow), final
    assert len(calls) <= 10 * elapsed + 2
    assert "waiting for the first token" in calls[0]["data"]["text/plain"]
    for call in calls:
        assert set(call["data"]) == {"text/html", "text/plain"}  # never text/markdown
    reply = ip.user_ns["_glm"]
    assert reply.finish_reason == "stop" and reply.text and not reply.interrupted
    assert reply.chunks >= 400 and reply.usage["completion_tokens"] > 0
    assert calls[-1]["data"] == render.reply_bundle(reply, final=True)  # the exact final render
    assert calls[-1]["data"]["text/plain"].startswith(reply.text)
    assert len(ip.rec.final()) == 1
    footer = render.footer_text(reply)
    assert "tok/s" in footer and " in / " in footer and "local server" not in footer


def test_options_reach_the_request(ip, api):
    run(ip, "-m glm-4-air -s 'Be terse.' -t 0.2 --top-p 0.9 --max-tokens 64 --think", "Hi")
    body = bodies(api)[-1]
    assert body["model"] == "glm-4-air" and body["stream"] is True
    assert body["messages"] == [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}]
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.2, 0.9, 64)
    assert body["thinking"] == {"type": "enabled"}
    run(ip, "--no-think", "Hi")
    assert bodies(api)[-1]["thinking"] == {"type": "disabled"}
    run(ip, "", "Hi")
    assert "thinking" not in bodies(api)[-1] and "temperature" not in bodies(api)[-1]


def test_no_stream_is_one_call(ip, api):
    run(ip, "--no-stream -o answer", "Hi there")
    body = bodies(api)[-1]
    assert "stream" not in body or body["stream"] is False
    assert ip.user_ns["answer"] == ip.user_ns["_glm"].text and ip.user_ns["answer"]
    assert len(ip.rec.final()) == 1


@pytest.mark.parametrize(
    "line,cell,match",
    [
        ("--temperature 3", "hi", "temperature"),
        ("-t -0.5", "hi", "temperature"),
        ("--max-tokens -1", "hi", "max-tokens"),
        ("--max-tokens 0", "hi", "max-tokens"),
        ("--top-p 0", "hi", "top-p"),
        ("--top-p 1.5", "hi", "top-p"),
        ("--frobnicate", "hi", "unknown option --frobnicate"),
        ("", "   \n  ", "empty"),
        ("-o not-a-name", "hi", "variable name"),
    ],
)
def test_usage_errors_send_nothing(ip, api, line, cell, match):
    with pytest.raises(UsageError, match=match) as info:
        run(ip, line, cell)
    assert "\n" not in str(info.value)
    assert api.requests == []
    assert ip.rec.calls == []


@pytest.mark.parametrize(
    "line", ["--api-key {k}", "--api-key={k}", "--key {k}", "-k {k}", "-k{k}", "--token {k}"]
)
def test_key_as_option_refused_never_echoed(ip, api, canary, line):
    result = ip.run_cell(f"%%glm {line.format(k=canary)}\nhi")
    assert not result.success and isinstance(result.error_in_exec, UsageError)
    message = str(result.error_in_exec)
    assert "ZHIPUAI_API_KEY" in message and "%glm login" in message
    assert canary not in message
    assert api.requests == []


def test_unknown_option_value_not_echoed(ip, api, canary):
    with pytest.raises(UsageError) as info:
        run(ip, f"--apikey2 {canary}", "hi")
    assert canary not in str(info.value) and api.requests == []


def test_dry_run_shows_request_sends_nothing(ip, api, canary):
    ip.user_ns["topic"] = "owls"
    run(ip, "--dry-run -m glm-4-air -t 0.5 --json", "About {topic}")
    assert api.requests == []
    shown = ip.rec.calls[-1]["data"]
    assert canary not in json.dumps(shown)
    body = json.loads(shown["text/plain"].split("\n", 1)[1])
    assert body == {
        "model": "glm-4-air",
        "messages": [{"role": "user", "content": "About owls"}],
        "temperature": 0.5,
        "response_format": {"type": "json_object"},
        "stream": True,
    }
    assert "nothing sent" in shown["text/plain"] and "key set" in shown["text/plain"]


def test_json_mode_binds_parsed_object(ip, api):
    run(ip, "--json -o obj", "Give me a record")
    assert bodies(api)[-1]["response_format"] == {"type": "json_object"}
    reply = ip.user_ns["_glm"]
    assert isinstance(ip.user_ns["obj"], (dict, list)) and ip.user_ns["obj"] == reply.parsed
    assert json.loads(reply.text) == reply.parsed


def test_thinking_model_reasoning_in_details(ip, api):
    run(ip, "-m glm-z1-flash", "Why is the sky blue?")
    reply = ip.user_ns["_glm"]
    assert reply.reasoning and reply.text and "<think>" not in reply.text
    html = ip.rec.calls[-1]["data"]["text/html"]
    assert "<details>" in html and "Thinking" in html


def test_length_finish_note(ip, api):
    run(ip, "", "Write a lot [[fault:length]]")
    assert ip.user_ns["_glm"].finish_reason == "length"
    assert "token limit" in ip.rec.calls[-1]["data"]["text/plain"]


# -- conversations ----------------------------------------------------------------------------
def test_conversation_history_and_rerun_replacement(ip, api):
    ip.parent_header = {"metadata": {"cellId": "cell-A"}}
    run(ip, "-c trip -s 'You plan trips.'", "Plan Paris")
    ip.parent_header = {"metadata": {"cellId": "cell-B"}}
    run(ip, "-c trip", "And Rome?")
    second = bodies(api)[-1]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[1]["content"] == "Plan Paris" and second[-1]["content"] == "And Rome?"
    # Re-run cell B twice: its turn is replaced, not piled up.
    run(ip, "-c trip", "And Rome, in winter?")
    run(ip, "-c trip", "And Rome, in winter?")
    conv = conversations.get("trip")
    assert [t.user for t in conv.turns] == ["Plan Paris", "And Rome, in winter?"]
    assert [m["content"] for m in bodies(api)[-1]["messages"]][1:2] == ["Plan Paris"]
    assert len(bodies(api)[-1]["messages"]) == 4
    # Re-run cell A: history before it is empty (system only); B stays after it.
    ip.parent_header = {"metadata": {"cellId": "cell-A"}}
    run(ip, "-c trip", "Plan Lyon")
    assert [m["role"] for m in bodies(api)[-1]["messages"]] == ["system", "user"]
    assert [t.user for t in conv.turns] == ["Plan Lyon", "And Rome, in winter?"]
    # No cell id: append.
    ip.parent_header = {}
    run(ip, "-c trip", "Thanks")
    run(ip, "-c trip", "Thanks")
    assert len(conv) == 4
    # Without -c each cell is a single turn.
    run(ip, "", "Standalone")
    assert [m["role"] for m in bodies(api)[-1]["messages"]] == ["user"]


def test_cell_id_from_run_cell_info(ip, api):
    ip.run_cell("%%glm -c x\nfirst", cell_id="c1")
    ip.run_cell("%%glm -c x\nfirst again", cell_id="c1")
    assert [t.user for t in conversations.get("x").turns] == ["first again"]


def test_history_and_reset(ip, api):
    run(ip, "-c notes", "Say <b>hi</b>")
    ip.rec.calls.clear()
    ip.run_line_magic("glm", "history notes")
    shown = ip.rec.calls[-1]["data"]
    assert "Say <b>hi</b>" in shown["text/plain"] and "<b>hi</b>" not in shown["text/html"]
    ip.run_line_magic("glm", "reset notes")
    assert len(conversations.get("notes")) == 0
    run(ip, "-c a", "x")
    run(ip, "-c b", "y")
    ip.run_line_magic("glm", "reset")
    assert conversations.names() == []
    with pytest.raises(UsageError, match="no conversation"):
        ip.run_line_magic("glm", "history nope")


# -- interpolation ------------------------------------------------------------------------------
def test_interpolation_in_cells(ip, api, monkeypatch):
    monkeypatch.setenv("ZM_PROBE_SECRET", "do-not-send")
    ip.user_ns.update({"city": "Oslo", "n": 3})
    cell = 'Trip to {city} for {n} days. {os.environ["ZM_PROBE_SECRET"]} {"k": {"v": 1}} {missing} {{city}}'
    run(ip, "", cell)
    sent = bodies(api)[-1]["messages"][-1]["content"]
    assert sent == 'Trip to Oslo for 3 days. {os.environ["ZM_PROBE_SECRET"]} {"k": {"v": 1}} {missing} {city}'


# -- untrusted output ---------------------------------------------------------------------------
def test_hostile_answer_is_inert(ip, api):
    run(ip, "", "Be hostile [[fault:hostile]]")
    assert "<script>" in ip.user_ns["_glm"].text  # the server really sent it
    for call in ip.rec.calls:
        html = call["data"]["text/html"].lower()
        for bad in ("<script", "onerror=", "onload=", "<img", "<svg", "javascript:"):
            assert bad not in html, bad
        assert re.findall(r'href="([^"]*)"', html) == [] or all(
            h.startswith(("http://", "https://", "mailto:")) for h in re.findall(r'href="([^"]*)"', html)
        )
    assert "https://example.com/bare-url" in ip.rec.calls[-1]["data"]["text/html"]


def test_answer_that_is_a_url_or_path_is_text(ip, api, monkeypatch, tmp_path):
    import IPython.display as ipd

    def boom(*a, **k):
        raise AssertionError("Markdown/HTML constructors must not be used on model text")

    monkeypatch.setattr(ipd, "Markdown", boom)
    monkeypatch.setattr(ipd, "HTML", boom)
    run(ip, "", "hi")  # passes only if neither constructor is used


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fault,name",
    [
        ("auth", "AuthenticationError"),
        ("bad_param", "BadRequestError"),
        ("balance", "QuotaError"),
        ("filter", "ContentFilterError"),
    ],
)
def test_api_error_is_one_or_two_lines_and_fails_the_cell(ip, api, canary, fault, name):
    with capture_output(display=False) as cap:
        result = ip.run_cell(f"%%glm\nhello [[fault:{fault}]]")
    assert not result.success
    assert type(result.error_in_exec).__name__ == name
    lines = [ln for ln in cap.stdout.splitlines() + cap.stderr.splitlines() if ln.strip()]
    assert 1 <= len(lines) <= 2, lines
    assert lines[0].startswith(name)
    assert "Traceback" not in cap.stdout and 'File "' not in cap.stdout
    assert canary not in cap.stdout + cap.stderr + ip.rec.all_text()
    assert ip.user_ns["_glm"].error is result.error_in_exec
    assert "no answer" in ip.rec.calls[-1]["data"]["text/plain"]  # status line replaced


def test_stream_failure_keeps_partial(ip, api):
    with capture_output(display=False):
        result = ip.run_cell("%%glm\nhello [[chunks:30]] [[fault:drop]]")
    assert not result.success
    reply = ip.user_ns["_glm"]
    assert reply.text and reply.error is not None
    final = ip.rec.calls[-1]["data"]["text/plain"]
    assert final.startswith(reply.text) and "partial" in final


def test_rate_limit_is_retried_transparently(ip, api):
    run(ip, "", "hello [[fault:rate_limit:0.1]]")
    assert ip.user_ns["_glm"].finish_reason == "stop"
    assert len(bodies(api)) == 2


def test_missing_key_with_base_url_sends_nothing(ip, server, monkeypatch):
    monkeypatch.setenv("ZHIPUAI_BASE_URL", server.base_url)
    with capture_output(display=False) as cap:
        result = ip.run_cell("%%glm\nhello")
    assert not result.success
    text = cap.stdout + cap.stderr
    assert "ZHIPUAI_API_KEY" in text and "%glm login" in text
    assert len([ln for ln in text.splitlines() if ln.strip()]) == 1
    assert server.requests == []


def test_no_key_uses_builtin_server_and_says_so_once(ip, monkeypatch):
    monkeypatch.setenv("ZHIPU_MAGIC_LOCAL_RATE", "2000")
    run(ip, "", "hello [[chunks:5]]")
    first = ip.rec.calls[-1]["data"]["text/plain"]
    run(ip, "", "again [[chunks:5]]")
    second = ip.rec.calls[-1]["data"]["text/plain"]
    assert "local server" in first and "ZHIPUAI_API_KEY" in first
    assert "ZHIPUAI_API_KEY" not in second
    assert first.rstrip().endswith("local server") and second.rstrip().endswith("local server")
    assert ip.user_ns["_glm"].local


# -- interrupts ---------------------------------------------------------------------------------
def test_interrupt_in_display_path(ip, monkeypatch, canary):
    from zhipu_magic.server import LocalServer

    with LocalServer(port=0, token_rate=300) as srv:
        monkeypatch.setenv("ZHIPUAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("ZHIPUAI_API_KEY", canary)
        ip.rec.interrupt_on_update = 2
        with pytest.raises(KeyboardInterrupt):
            run(ip, "", "long one [[chunks:3000]]")
        assert srv.wait_disconnect(5)
    reply = ip.user_ns["_glm"]
    assert reply.interrupted and reply.text and len(reply.text) < 3000 * 3
    final = ip.rec.calls[-1]["data"]
    assert final["text/plain"].startswith(reply.text)
    assert "interrupted" in final["text/plain"].lower() and "interrupted" in final["text/html"].lower()
    assert len(ip.rec.final()) == 1


def test_interrupt_shows_one_line_not_a_traceback(ip, monkeypatch, canary, capsys):
    """The partial answer stays, the cell still fails with KeyboardInterrupt (Run All stops), and
    what IPython prints is one line, not the frames through requests, urllib3 and socket."""
    from zhipu_magic.server import LocalServer

    with LocalServer(port=0, token_rate=300) as srv:
        monkeypatch.setenv("ZHIPUAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("ZHIPUAI_API_KEY", canary)
        ip.rec.interrupt_on_update = 2
        result = ip.run_cell("%%glm\nlong one [[chunks:3000]]")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    shown = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert len(shown) == 1 and shown[0].startswith("KeyboardInterrupt: stopped;") and "_glm" in shown[0]
    assert ip.user_ns["_glm"].interrupted and ip.user_ns["_glm"].text


def test_interrupt_while_read_is_blocked(ip, api):
    main = threading.main_thread().ident

    def fire():
        time.sleep(0.6)
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=fire, daemon=True).start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run(ip, "", "wait [[chunks:20]] [[fault:stall:20]]")
    assert time.monotonic() - t0 < 5
    assert api.wait_disconnect(5)
    reply = ip.user_ns["_glm"]
    assert reply.interrupted
    assert "interrupted" in ip.rec.calls[-1]["data"]["text/plain"].lower()


# -- async tasks --------------------------------------------------------------------------------
def test_async_submit_then_result(ip, api):
    run(ip, "--async", "Summarise owls")
    assert bodies(api)[-1].get("stream") in (None, False)
    assert api.requests[-1].path.endswith("async/chat/completions")
    shown = ip.rec.calls[-1]["data"]["text/plain"]
    task_id = re.search(r"%glm result (\S+)", shown).group(1)
    assert ip.user_ns["_glm"].task_id == task_id
    for _ in range(5):
        ip.run_line_magic("glm", f"result {task_id}")
        if ip.user_ns["_glm"].text:
            break
    reply = ip.user_ns["_glm"]
    assert reply.text and reply.task_id == task_id
    assert ip.rec.calls[-1]["data"] == render.reply_bundle(reply, final=True)


def test_async_task_fail(ip, api):
    run(ip, "--async", "Doomed [[fault:task_fail]]")
    task_id = re.search(r"%glm result (\S+)", ip.rec.calls[-1]["data"]["text/plain"]).group(1)
    from zhipu_magic.api.errors import GLMError

    with pytest.raises(GLMError):
        for _ in range(5):
            ip.run_line_magic("glm", f"result {task_id}")


# -- other subcommands --------------------------------------------------------------------------
def test_models_and_usage(ip, api):
    ip.run_line_magic("glm", "usage")
    assert "No requests" in ip.rec.calls[-1]["data"]["text/plain"]
    run(ip, "", "hi")
    run(ip, "-m glm-4-air", "hi")
    ip.run_line_magic("glm", "usage")
    text = ip.rec.calls[-1]["data"]["text/plain"]
    assert "glm-4-flash" in text and "glm-4-air" in text
    ip.run_line_magic("glm", "models")
    text = ip.rec.calls[-1]["data"]["text/plain"]
    assert "glm-4-flash" in text and "thinking" in text


def test_login_and_no_stdin(ip, server, monkeypatch, canary):
    import getpass

    from IPython.core.error import StdinNotImplementedError

    def no_stdin(prompt=""):
        raise StdinNotImplementedError(
            "getpass was called, but this frontend does not support input requests."
        )

    monkeypatch.setattr(getpass, "getpass", no_stdin)
    with pytest.raises(UsageError, match="no stdin") as info:
        ip.run_line_magic("glm", "login")
    assert "\n" not in str(info.value)

    monkeypatch.setattr(getpass, "getpass", lambda prompt="": canary)
    ip.run_line_magic("glm", "login")
    monkeypatch.setenv("ZHIPUAI_BASE_URL", server.base_url)
    run(ip, "", "hi")  # the session key unlocks the configured base URL
    assert ip.user_ns["_glm"].text and not ip.user_ns["_glm"].local
    ip.run_line_magic("glm", "config")
    assert "set (%glm login)" in ip.rec.calls[-1]["data"]["text/plain"]
    assert canary not in ip.rec.all_text()
    with pytest.raises(UsageError, match="ZHIPUAI_API_KEY"):
        ip.run_line_magic("glm", f"login {canary}")
    ip.run_line_magic("glm", "logout")


def test_widget_routes(ip, monkeypatch):
    import types

    fake = types.ModuleType("zhipu_magic.notebook.widgets")
    seen = []
    fake.chat_panel = lambda name, client=None: seen.append(("chat", name))
    fake.task_panel = lambda *a, **k: seen.append(("tasks",))
    monkeypatch.setitem(sys.modules, "zhipu_magic.notebook.widgets", fake)
    import zhipu_magic.notebook

    monkeypatch.setattr(zhipu_magic.notebook, "widgets", fake, raising=False)
    ip.run_line_magic("glm", "chat trip")
    ip.run_line_magic("glm", "tasks")
    assert seen == [("chat", "trip"), ("tasks",)]


def test_widgets_missing_gives_a_clear_message(ip, monkeypatch):
    monkeypatch.setitem(sys.modules, "zhipu_magic.notebook.widgets", None)  # import fails
    import zhipu_magic.notebook

    monkeypatch.delattr(zhipu_magic.notebook, "widgets", raising=False)
    with pytest.raises(UsageError, match="widget panels are not available"):
        ip.run_line_magic("glm", "tasks")


def test_terminal_streams_plain_text(ip, api, monkeypatch):

    monkeypatch.setattr(render, "is_rich_frontend", REAL_IS_RICH)  # the real detection, not "always rich"
    monkeypatch.setattr(ip, "display_pub", DisplayPublisher(shell=ip))  # what terminal IPython has
    with capture_output(display=False) as cap:
        run(ip, "", "hello [[chunks:40]]")
    reply = ip.user_ns["_glm"]
    assert reply.text and cap.stdout.startswith(reply.text)
    assert "<div" not in cap.stdout and cap.stdout.rstrip().endswith("]")
    assert ip.rec.calls == []


# -- the canary key ------------------------------------------------------------------------------
def test_canary_never_leaks(ip, api, canary):
    with capture_output(display=False) as cap:
        ip.run_cell("%%glm -c leak\nhello")
        ip.run_cell("%%glm\nhello [[fault:auth]]")
        ip.run_cell("%%glm --dry-run\nhello")
        ip.run_cell("%glm config")
        ip.run_cell("%glm history")
        ip.run_cell("%glm usage")
        ip.run_cell("%%glm\nhello [[chunks:10]] [[fault:drop]]")
        ip.run_cell("1/0")  # a forced traceback
    reply = ip.user_ns["_glm"]
    texts = [
        cap.stdout,
        cap.stderr,
        ip.rec.all_text(),
        repr(reply),
        str(reply),
        repr(reply.error),
        str(reply.error),
        json.dumps(conversations.get("leak").messages()),
        repr(ip._zhipu_magic.__dict__),
    ]
    for text in texts:
        assert canary not in text
    assert canary not in json.dumps(ip.user_ns.get("In", []))
    assert os.environ["ZHIPUAI_API_KEY"] == canary  # it was really set


def test_seconds_waited_tick_before_the_first_token(ip, api):
    """A slow first byte: the status line counts the seconds while the main thread is blocked."""
    run(ip, "", "hello [[fault:slow_first:2.5]]")
    waiting = [
        c["data"]["text/plain"]
        for c in ip.rec.calls
        if "waiting for the first token" in c["data"]["text/plain"]
    ]
    assert len(waiting) >= 3, waiting  # the initial line and at least two ticks
    seconds = [float(t.split("first token… ")[1].split(" s")[0]) for t in waiting]
    assert seconds == sorted(seconds) and seconds[-1] >= 1.5
    assert len(ip.rec.final()) == 1  # still one output, updated in place
    assert "waiting" not in ip.rec.final()[0]["text/plain"]


@pytest.mark.parametrize("line", ["", "--no-stream"])
def test_footer_says_when_the_answer_needed_a_retry(ip, api, line):
    """A rate limit that the client waited out is not silent: the footer counts the retries."""
    run(ip, line, "hello [[fault:rate_limit:0.1]]")
    assert "retried 1×" in ip.rec.final()[-1]["text/plain"]
    run(ip, line, "hello again")
    assert "retried" not in ip.rec.final()[-1]["text/plain"]


def test_glm_wait_resumes_a_task_by_id(ip, api):
    """``%glm wait ID`` finishes what an interrupted ``--wait`` (or another session) started."""
    run(ip, "--async", "Write a limerick")
    task_id = ip.user_ns["_glm"].task_id
    ip.run_line_magic("glm", f"wait {task_id} -o poem")
    assert ip.user_ns["poem"] == ip.user_ns["_glm"].text != ""
    assert f"task {task_id}" in ip.rec.final()[-1]["text/plain"]
    other = api.client().submit("from another session")  # not in this store yet
    ip.run_line_magic("glm", f"wait {other['id']}")
    assert ip.user_ns["_glm"].text
    with pytest.raises(UsageError, match="wait TASK_ID"):
        ip.run_line_magic("glm", "wait")
    from zhipu_magic.api.errors import NotFoundError
    from zhipu_magic.core.tasks.store import get_store

    with pytest.raises(NotFoundError):
        ip.run_line_magic("glm", "wait no-such-task")
    assert get_store().get("no-such-task") is None  # nothing phantom left in the task list


def test_interrupted_wait_says_how_to_resume_in_one_line(ip, canary, monkeypatch, capsys):
    from zhipu_magic.server import LocalServer

    with LocalServer(port=0, task_polls=1000) as srv:  # the task never finishes while we wait
        monkeypatch.setenv("ZHIPUAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("ZHIPUAI_API_KEY", canary)
        main = threading.main_thread().ident
        threading.Thread(target=lambda: (time.sleep(1.5), signal.pthread_kill(main, signal.SIGINT))).start()
        result = ip.run_cell("%%glm --async --wait\nWrite a limerick")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    task_id = ip.user_ns["_glm"].task_id
    shown = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    note = f"stopped waiting; task {task_id} is still running: resume with %glm wait {task_id}"
    assert shown == [f"KeyboardInterrupt: {note}"]


def test_models_filter(ip):
    ip.run_line_magic("glm", "models free thinking")
    table = ip.rec.calls[-1]["data"]["text/plain"]
    assert "glm-4.5-flash" in table and "glm-4-plus" not in table and "matching 'free thinking'" in table
    ip.run_line_magic("glm", "models video")
    assert "cogvideox-flash" in ip.rec.calls[-1]["data"]["text/plain"]
    ip.run_line_magic("glm", "models 4.6")
    assert "glm-4.6" in ip.rec.calls[-1]["data"]["text/plain"]
    with pytest.raises(UsageError, match="no model matches"):
        ip.run_line_magic("glm", "models nonsense-xyz")


def test_speed_only_where_it_was_measured(ip, api):
    """tok/s needs a stream: a sync call or a fetched task has no per-token timing to show."""
    run(ip, "--no-stream", "hello")
    assert "tok/s" not in render.footer_text(ip.user_ns["_glm"])
    run(ip, "--async", "hello again")
    task_id = ip.user_ns["_glm"].task_id
    ip.run_line_magic("glm", f"wait {task_id}")
    assert "tok/s" not in render.footer_text(ip.user_ns["_glm"])
    run(ip, "", "and a stream")
    assert "tok/s" in render.footer_text(ip.user_ns["_glm"])


def test_thinking_in_content_is_counted_as_reasoning(ip, api):
    """GLM-Z1 thinks inside <think>: the footer and %glm usage show it (estimated), not 0."""
    run(ip, "-m glm-z1-flash", "Is 91 prime?")
    reply = ip.user_ns["_glm"]
    assert reply.reasoning
    assert "reasoning, estimated)" in render.footer_text(reply)
    ip.run_line_magic("glm", "usage")
    row = [ln for ln in ip.rec.calls[-1]["data"]["text/plain"].splitlines() if ln.startswith("glm-z1")][0]
    assert int(row.split()[4]) == reply.reasoning_tokens()[0] > 0


# -- messages and sharp edges (issue 10 items 11, 12; issue 11 settings and names) -----------------
def test_undefined_names_and_big_values_are_noted(ip, api):
    ip.user_ns["big"] = list(range(20_000))
    run(ip, "", "Summarise {big} with learning rate {lr}")
    sent = bodies(api)[-1]["messages"][-1]["content"]
    assert "{lr}" in sent and len(sent) < 25_000 and "[... cut:" in sent
    shown = ip.rec.final()[-1]["text/plain"]
    assert "{lr} is not defined, so sent as typed" in shown
    size = len(str(ip.user_ns["big"]))
    assert f"{{big}} is {size:,} characters (~{(size + 3) // 4:,} tokens): sent its first 20,000" in shown
    ip.user_ns.pop("big")


def test_in_n_gives_the_text_as_typed(ip, api):
    ip.run_cell("%%glm --dry-run\necho: first", store_history=True)
    n = ip.execution_count - 1
    ip.run_cell(f"%%glm --dry-run\nWhat did I ask? {{In[{n}]}}", store_history=True)
    body = json.loads(ip.rec.calls[-1]["data"]["text/plain"].partition("\n")[2])
    assert body["messages"][-1]["content"] == "What did I ask? %%glm --dry-run\necho: first"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("glm What is 2+2?", "to ask a model, put %%glm alone on the first line"),
        ("glm modles", "did you mean %glm models?"),
        ("glm reset nosuch", "no conversation 'nosuch'"),
        ("glm config temperature=5", "temperature must be in [0, 1], got 5.0"),
        ("glm config timeout=inf", "timeout must be between"),
        ("glm config timeout=1e308", "timeout must be between"),
        ("glm config max_tokens=100000000000", "max_tokens must be between"),
    ],
)
def test_line_mistakes_say_what_to_do(ip, line, expected):
    with pytest.raises(UsageError) as info:
        ip.run_line_magic(*line.split(" ", 1))
    assert expected in str(info.value)
    assert "temperature: temperature" not in str(info.value)


def test_misspelt_option_suggests_the_right_one(ip, api):
    with pytest.raises(UsageError, match="unknown option --temprature: did you mean --temperature"):
        run(ip, "--temprature 0.2", "hi")
    assert api.requests == []


@pytest.mark.parametrize(
    "name", ["__builtins__", "In", "Out", "_", "_ih", "_i3", "_12", "class", "get_ipython"]
)
def test_output_names_that_belong_to_ipython_are_refused(ip, api, name):
    with pytest.raises(UsageError, match="-o"):
        run(ip, f"-o {name}", "hi")
    assert api.requests == []
    assert ip.run_cell("1 + 1").success  # the next cell still works


def test_unknown_model_in_config_is_noted(ip):
    ip.run_line_magic("glm", "config model=glm-9000")
    assert any("'glm-9000' is not in the model list" in c["data"]["text/plain"] for c in ip.rec.calls)
    ip.run_line_magic("glm", "config model=glm-4-flash")


def test_think_on_a_model_without_thinking_is_said(ip, api):
    run(ip, "-m glm-4-flash --think", "hi")
    assert "glm-4-flash has no thinking mode, so --think has no effect" in ip.rec.final()[-1]["text/plain"]
    run(ip, "-m glm-4.5-flash --think", "hi")
    assert "no thinking mode" not in ip.rec.final()[-1]["text/plain"]


def test_invalid_json_answer_binds_the_text_and_fails_in_one_line(ip, api, capsys):
    result = ip.run_cell("%%glm --json -o y\nA list of fruits as JSON [[fault:length]]")  # cut halfway
    assert type(result.error_in_exec).__name__ == "AnswerNotJSON"
    assert ip.user_ns["y"] == ip.user_ns["_glm"].text != ""
    shown = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert len(shown) == 1 and "not valid JSON" in shown[0] and "y holds the text" in shown[0]
