"""``map`` benchmark: prompts over 10,000 rows against the local server answering each request after a
fixed delay (``[[fault:slow_first:S]]``), in one run:

- speed: ``map`` at concurrency 16 vs sequential (concurrency 1, timed over ``--sequential-rows``
  rows and scaled per row); target <= 1/12 of the sequential time;
- memory: the tracemalloc peak of the concurrent run per row (answers included);
- progress: display updates per second (target <= 10);
- rate limits: a server refusing (429/1302) above 8 requests in flight: failed rows (target 0) and
  where the concurrency settled (target near 8);
- resume: the same call again: requests sent (target 0) and rows from the call log;
- Batch API: ``--batch-rows`` rows (default 20,000) as one batch job through the local server (upload,
  create, poll, output file joined back by ``custom_id``): time, rows/s, every row in its place, and
  the same call again sends nothing.

    python bench/bench_map.py [--rows 10000] [--delay 0.05] [--sequential-rows 400] [--batch-rows 20000]
    python bench/bench_map.py --only batch      # just the Batch API part
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc

os.environ.setdefault("ZHIPU_MAGIC_HOME", tempfile.mkdtemp(prefix="bench_map_"))

from zhipu_magic import GLMClient  # noqa: E402
from zhipu_magic.core.mapping import map_rows  # noqa: E402
from zhipu_magic.server import LocalServer  # noqa: E402
from zhipu_magic.server import handler as server_handler  # noqa: E402
from zhipu_magic.server.chat import completions  # noqa: E402
from zhipu_magic.server.checks import Fail  # noqa: E402


def chats(srv: LocalServer) -> int:
    return sum(r.path.endswith("/chat/completions") for r in srv.requests)


def own_process_server() -> tuple[subprocess.Popen[str], str]:
    """The local server in its own process (in this one it would share the GIL with the client)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "zhipu_magic.server", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, progress: object) -> None:
        self.calls += 1


def crowded_routes(limit: int) -> None:
    """Chat refuses above ``limit`` requests in flight (a real 429 with retry-after-ms)."""
    gate, state = threading.Lock(), {"in": 0}

    def chat(h, req):  # type: ignore[no-untyped-def]
        with gate:
            if state["in"] >= limit:
                raise Fail(429, "1302", "Too many concurrent requests", headers={"retry-after-ms": "50"})
            state["in"] += 1
        try:
            completions(h, req)
        finally:
            with gate:
                state["in"] -= 1

    server_handler.ROUTES = tuple(
        r._replace(fn=chat) if r.pattern == "chat/completions" else r for r in server_handler.ROUTES
    )


def bench_batch(rows: int) -> None:
    """``rows`` rows through the Batch API of a local server in its own process: one job, joined back."""
    values = [f"batch row {i}" for i in range(rows)]
    proc, base_url = own_process_server()
    try:
        client = GLMClient("bench.key", base_url, max_retries=0)
        t = time.perf_counter()
        out = map_rows("echo: {}", values, client=client, batch=True, batch_poll=0.5)
        took = time.perf_counter() - t
        aligned = list(out) == values
        t = time.perf_counter()
        again = map_rows("echo: {}", values, client=client, batch=True, batch_poll=0.5)
        again_took = time.perf_counter() - t
    finally:
        proc.terminate()
        proc.wait(10)
    print(
        f"batch: {rows:,} rows in one Batch API job through the local server: {took:.1f} s = "
        f"{rows / took:,.0f} rows/s; {out.totals['done']:,} done, {out.totals['failed']} failed, "
        f"every row in its place: {aligned}"
    )
    sent = again.totals["rows"] - again.totals["from_record"]
    old = again.totals["from_record"]
    print(f"batch again: {old:,} rows from the call log, {sent} sent, {again_took:.1f} s")
    if not aligned or out.totals["done"] != rows or sent:
        raise SystemExit("batch: the job did not join back correctly")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--delay", type=float, default=0.05)
    ap.add_argument("--sequential-rows", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--batch-rows", type=int, default=20_000)
    ap.add_argument("--only", choices=("direct", "batch"), help="run one part only")
    args = ap.parse_args()
    if args.only != "direct":
        bench_batch(args.batch_rows)
    if args.only == "batch":
        return
    template = f"echo: {{}} [[fault:slow_first:{args.delay}]]"
    rows = [f"row {i}" for i in range(args.rows)]
    proc, base_url = own_process_server()
    try:
        client = GLMClient("bench.key", base_url, max_retries=0)
        t = time.perf_counter()
        map_rows(template, [f"seq {i}" for i in range(args.sequential_rows)], client=client, concurrency=1)
        per_row_seq = (time.perf_counter() - t) / args.sequential_rows
        progress = Counter()
        t = time.perf_counter()
        out = map_rows(template, rows, client=client, concurrency=args.concurrency, progress=progress)
        took = time.perf_counter() - t
        t = time.perf_counter()
        again = map_rows(template, rows, client=client, concurrency=args.concurrency)
        resume_took = time.perf_counter() - t
        tracemalloc.start()  # memory in its own run: tracing slows Python several times
        fresh = [f"mem {i}" for i in range(min(args.rows, 2000))]
        map_rows(template, fresh, client=client, concurrency=args.concurrency)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        proc.terminate()
        proc.wait(10)
    seq_total = per_row_seq * args.rows
    print(f"{args.rows:,} rows, server delay {args.delay * 1000:.0f} ms, Python {sys.version.split()[0]}")
    print(f"sequential: {per_row_seq * 1000:.1f} ms/row -> {seq_total:.1f} s for all rows (scaled)")
    print(
        f"concurrency {args.concurrency}: {took:.1f} s = 1/{seq_total / took:.1f} of sequential "
        f"(target <= 1/12); {out.totals['done']:,} done, {out.totals['failed']} failed"
    )
    print(f"memory: tracemalloc peak {peak / 1e6:.1f} MB = {peak / len(fresh) / 1024:.2f} KB per row")
    rate = progress.calls / took
    print(f"progress: {progress.calls} reports in {took:.1f} s = {rate:.1f}/s (target <= 10)")
    sent = again.totals["rows"] - again.totals["from_record"]
    print(f"resume: {again.totals['from_record']:,} rows from the call log, {sent} sent, {resume_took:.1f} s")
    crowded_routes(8)
    with LocalServer(port=0) as srv:
        client = srv.client(max_retries=0)
        n = min(args.rows, 2000)
        t = time.perf_counter()
        limited = map_rows(template, [f"rl {i}" for i in range(n)], client=client, concurrency=32)
        print(
            f"rate limit above 8 in flight, ceiling 32, {n:,} rows: {limited.totals['failed']} failed, "
            f"concurrency settled at {limited.concurrency:.1f}, {limited.totals['retries']} retries, "
            f"{time.perf_counter() - t:.1f} s"
        )


if __name__ == "__main__":
    main()
