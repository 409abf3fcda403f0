"""The magics in a real kernel, executed with nbclient: what the saved notebook holds."""

from __future__ import annotations

import json

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

pytestmark = pytest.mark.kernel


def execute(cells: list[str], tmp_path, *, allow_errors: bool = False):
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [new_code_cell(src) for src in cells]
    client = nbclient.NotebookClient(
        nb, timeout=90, kernel_name="python3", allow_errors=allow_errors,
        resources={"metadata": {"path": str(tmp_path)}},
    )  # fmt: skip
    client.execute()
    return nb


def test_one_output_per_streamed_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("ZHIPU_MAGIC_LOCAL_RATE", "2000")  # no key: the built-in server, fast
    nb = execute(
        [
            "%load_ext zhipu_magic",
            "%%glm\nTell me about kernels [[chunks:300]]",
            "first = _glm.text\n%load_ext zhipu_magic",
            "%%glm -o second\nAnd about notebooks [[chunks:150]]",
            "import json\nprint(json.dumps([first, second, _glm.local]))",
        ],
        tmp_path,
    )
    first, second, local = json.loads(nb.cells[4].outputs[0]["text"])
    assert local is True and first and second
    for index, text in ((1, first), (3, second)):
        outputs = nb.cells[index].outputs
        assert len(outputs) == 1, outputs  # one output per answer, not one per token
        data = outputs[0]["data"]
        assert outputs[0]["output_type"] == "display_data"
        assert set(data) == {"text/html", "text/plain"}
        assert data["text/plain"].startswith(text) or text in data["text/plain"]
        assert data["text/plain"].rstrip().endswith("local server")
    assert "ZHIPUAI_API_KEY" in nb.cells[1].outputs[0]["data"]["text/plain"]  # said once...
    assert "ZHIPUAI_API_KEY" not in nb.cells[3].outputs[0]["data"]["text/plain"]  # ...only once


def test_canary_key_nowhere_in_saved_notebook(tmp_path, monkeypatch, server, canary):
    monkeypatch.setenv("ZHIPUAI_API_KEY", canary)
    monkeypatch.setenv("ZHIPUAI_BASE_URL", server.base_url)
    nb = execute(
        [
            "%load_ext zhipu_magic",
            "%%glm -c k\nHello [[chunks:20]]",
            "%%glm\nHello [[fault:auth]]",
            "%%glm --dry-run\nHello",
            "%glm config",
            "%glm history",
            "%%glm\nHi [[chunks:10]] [[fault:drop]]",
            "print(repr(_glm), _glm.error)",
        ],
        tmp_path,
        allow_errors=True,
    )
    saved = nbformat.writes(nb)
    assert canary not in saved
    assert "AuthenticationError" in saved  # the failure is in the notebook, one line
    errors = [o for c in nb.cells for o in c.outputs if o["output_type"] == "error"]
    assert errors and all(len(o["traceback"]) <= 2 for o in errors)
    assert any(r.path.endswith("chat/completions") for r in server.requests)


def test_login_without_stdin(tmp_path):
    nb = execute(["%load_ext zhipu_magic", "%glm login"], tmp_path, allow_errors=True)
    outputs = nb.cells[1].outputs
    text = json.dumps(outputs)
    assert "no stdin" in text and "ZHIPUAI_API_KEY" in text
    lines = [ln for o in outputs for ln in (o.get("text") or "\n".join(o.get("traceback", []))).splitlines()]
    assert len([ln for ln in lines if ln.strip()]) == 1, lines


def test_kernel_interrupt_mid_stream(monkeypatch, canary):
    """The front end's Interrupt (SIGINT to the kernel) mid-answer: the server sees the socket close,
    the output keeps the partial answer marked interrupted, ``_glm`` has it, and the cell fails."""
    import time

    from jupyter_client.manager import start_new_kernel

    from zhipu_magic.server import LocalServer

    with LocalServer(port=0, token_rate=40) as srv:
        monkeypatch.setenv("ZHIPUAI_API_KEY", canary)
        monkeypatch.setenv("ZHIPUAI_BASE_URL", srv.base_url)
        km, kc = start_new_kernel(kernel_name="python3")
        try:
            kc.execute_interactive("%load_ext zhipu_magic", timeout=60)
            msg_id = kc.execute("%%glm\nA long story [[chunks:400]]")
            updates, reply = [], None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and reply is None:
                msg = kc.get_iopub_msg(timeout=30)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] in ("display_data", "update_display_data"):
                    updates.append(msg["content"]["data"])
                    if len(updates) == 5:
                        km.interrupt_kernel()
                elif msg["msg_type"] == "error":
                    reply = msg["content"]
            assert reply is not None and reply["ename"] == "KeyboardInterrupt"
            assert len(reply["traceback"]) == 1, reply["traceback"]  # one line, no library frames
            assert "partial answer above" in reply["traceback"][0]
            assert srv.wait_disconnect(10)  # the connection was closed, generation stopped
            final = updates[-1]["text/plain"]
            assert "interrupted" in final
            while kc.get_shell_msg(timeout=30)["parent_header"].get("msg_id") != msg_id:
                pass  # the failed cell's reply; then the kernel takes new requests again
            out: list[str] = []
            check = kc.execute_interactive(
                "print(len(_glm.text), _glm.interrupted)",
                timeout=30,
                output_hook=lambda m: out.append(m["content"].get("text", "")),
            )
            assert check["content"]["status"] == "ok"
            length, interrupted = "".join(out).split()
            assert int(length) > 0 and interrupted == "True"
            assert canary not in json.dumps(updates)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
