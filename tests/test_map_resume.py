"""Resume after a crash: a process running ``map`` is killed (SIGKILL) half way; the same call in
another process sends only the rows the call log does not hold, counted at the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from zhipu_magic.core.ledger import get_ledger

CHILD = """
import sys
from zhipu_magic import GLMClient
from zhipu_magic.core.mapping import map_rows
rows = [f"[[fault:slow_first:0.05]] k{i}" for i in range(60)]
out = map_rows("echo: {}", rows, client=GLMClient("child.key", sys.argv[1]), concurrency=int(sys.argv[2]))
assert list(out) == [f"k{i}" for i in range(60)], out
print("from_record", out.totals["from_record"], flush=True)
"""


def recorded() -> int:
    return get_ledger().rows("SELECT count(*) AS n FROM calls WHERE kind = 'map'", [])[0]["n"]


def chats(srv) -> int:
    return sum(r.path.endswith("/chat/completions") for r in srv.requests)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_run_resumes_with_only_the_missing_rows(server, make):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, server.base_url, "2"],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        end = time.monotonic() + 30
        while recorded() < 25 and time.monotonic() < end:
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    done_before = recorded()
    assert 25 <= done_before < 60, done_before  # killed half way
    sent_before = chats(server)
    again = subprocess.run(  # a new process, as after a kernel restart
        [sys.executable, "-c", CHILD, server.base_url, "4"], env=dict(os.environ), capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == ["from_record", str(done_before)]
    assert chats(server) - sent_before == 60 - done_before  # only the missing rows, counted at the server
