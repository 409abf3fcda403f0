"""``%%glm --map`` in real kernels (jupyter_client) against the local server started in this process:
the Stop button clicked while the kernel is busy running the map (the click sent as the front end
sends it, a comm message on the shell channel), and a kernel killed half way then a new kernel running
the same cell, which sends only the rows the call log does not hold (counted at the server)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from zhipu_magic.core.ledger import get_ledger

pytest.importorskip("ipykernel")
pytestmark = pytest.mark.kernel

CLICK = {"method": "custom", "content": {"event": "click"}}


@pytest.fixture
def kernels(api) -> Iterator[list]:
    """Start kernels (they inherit the fixture server's URL and the test's ZHIPU_MAGIC_HOME); all are
    shut down afterwards."""
    from jupyter_client.manager import start_new_kernel

    started: list = []

    def start():
        km, kc = start_new_kernel(kernel_name="python3")
        started.append((km, kc))
        assert kc.execute_interactive("%load_ext zhipu_magic", timeout=60)["content"]["status"] == "ok"
        return km, kc

    yield start  # type: ignore[misc]
    for km, kc in started:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)


def chats(srv) -> int:
    return sum(r.path.endswith("/chat/completions") for r in srv.requests)


def recorded() -> int:
    return get_ledger().rows("SELECT count(*) AS n FROM calls WHERE kind = 'map'", [])[0]["n"]


def run(kc, code: str) -> str:
    out: list[str] = []
    reply = kc.execute_interactive(
        code, timeout=60, output_hook=lambda m: out.append(m["content"].get("text", ""))
    )
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out)


def test_stop_clicked_while_the_kernel_is_busy_returns_the_partial_result(api, kernels):
    _km, kc = kernels()
    run(kc, "words = [f'[[fault:slow_first:0.4]] w{i}' for i in range(40)]")
    msg_id = kc.execute("%%glm --map words -o out --concurrency 2\necho: {}")
    started, button, outputs, clicked = time.monotonic(), None, {}, None
    while True:
        msg = kc.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        content, kind = msg["content"], msg["msg_type"]
        if kind == "comm_open" and "zm-map-stop" in content["data"]["state"].get("_dom_classes", []):
            button = content["comm_id"]
        elif kind in ("display_data", "update_display_data"):
            outputs[content["transient"]["display_id"]] = content["data"]
        elif kind == "status" and content["execution_state"] == "idle":
            break
        if button and clicked is None and time.monotonic() - started > 1.2:
            kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": button, "data": CLICK}))
            clicked = time.monotonic()
    assert button is not None and clicked is not None
    assert time.monotonic() - clicked < 1.5  # seen at once, not after the 40 rows (about 8 s)
    # the live widget replaced by the static progress; its reopen note emptied (nothing shown or saved)
    assert sorted(map(bool, outputs.values())) == [False, True], outputs
    (final,) = [data for data in outputs.values() if data]
    assert set(final) == {"text/html", "text/plain"}, final.keys()
    assert "stopped" in final["text/plain"] and "rows not run" in final["text/plain"]
    facts = json.loads(
        run(kc, "import json; print(json.dumps([out.stopped, out.totals['not_run'], len(out)]))")
    )
    assert facts[0] == "stopped" and facts[1] >= 20 and facts[2] == 40
    sent = chats(api)
    time.sleep(1.0)
    assert chats(api) - sent <= 2  # nothing new was sent after the stop (at most what was in flight)


def test_a_kernel_killed_half_way_then_a_new_kernel_sends_only_the_rest(api, kernels):
    rows = 40
    setup = f"words = [f'[[fault:slow_first:0.05]] k{{i}}' for i in range({rows})]"
    cell = "%%glm --map words -o out --concurrency 2\necho: {}"
    km, kc = kernels()
    run(kc, setup)
    kc.execute(cell)
    end = time.monotonic() + 30
    while recorded() < rows // 2 and time.monotonic() < end:
        time.sleep(0.01)
    km.shutdown_kernel(now=True)  # killed, not asked: the map's threads die with it
    assert not km.is_alive()
    time.sleep(0.3)
    done_before, sent_before = recorded(), chats(api)
    assert rows // 2 <= done_before < rows, done_before
    _km2, kc2 = kernels()  # a new kernel: only the call log remembers
    run(kc2, setup)
    run(kc2, cell)
    facts = json.loads(run(kc2, "import json; print(json.dumps([list(out), out.totals['from_record']]))"))
    assert facts == [[f"k{i}" for i in range(rows)], done_before]
    assert chats(api) - sent_before == rows - done_before  # only the remaining rows, counted at the server
