"""Magics benchmark: what the %%glm path adds on top of ``GLMClient.stream`` for a long stream.

A client-bound server (``bench/sse_server.py`` in its own process, pre-rendered bodies written as
fast as the socket takes them; ``--local`` uses the package's LocalServer instead, an end-to-end
figure) streams N content chunks. In one run we time, interleaved and repeated:
  - baseline: iterating ``GLMClient.stream(...)`` alone,
  - magic: ``%%glm`` in an in-process InteractiveShell whose display publisher only counts
    (``Reply.add_chunk`` per chunk, throttled renders, the final exact render),
and report medians. Targets: magic <= 1.3x baseline; display calls <= 10 per streamed second + 2.
Memory (``--memory-chunks``, default 200,000 4-character chunks): the tracemalloc peak of one
``%%glm`` cell, final render included, as a multiple of the answer's size (target <= ~10x).

    python bench/bench_magics.py [--chunks 20000] [--rounds 3] [--memory-chunks 200000] [--local]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pathlib
import platform
import statistics
import sys
import time
import tracemalloc
from contextlib import ExitStack
from typing import Any

from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

from zhipu_magic import GLMClient
from zhipu_magic.server import LocalServer


class CountingPublisher(DisplayPublisher):
    """Counts display calls (first display + in-place updates); keeps only the last bundle."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.displays = 0
        self.updates = 0
        self.last: dict[str, str] = {}

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):  # noqa: ANN001
        if update:
            self.updates += 1
        else:
            self.displays += 1
        self.last = data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--memory-chunks", type=int, default=200_000)
    ap.add_argument("--local", action="store_true", help="the package's LocalServer (end to end)")
    args = ap.parse_args(argv)
    prompt = f"Benchmark the magics [[chunks:{args.chunks}]]"

    ip = InteractiveShell.instance()
    pub = CountingPublisher(shell=ip)
    ip.display_pub = pub
    with ExitStack() as stack:
        if args.local:
            base_url = stack.enter_context(LocalServer(port=0, token_rate=0.0)).base_url
        else:
            sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
            from bench_client import SSEServer

            base_url = stack.enter_context(SSEServer(args.chunks)).url("ascii")
        client = stack.enter_context(GLMClient(api_key="bench.key", base_url=base_url))
        os.environ["ZHIPUAI_BASE_URL"] = base_url
        os.environ["ZHIPUAI_API_KEY"] = "bench.key"
        ip.run_line_magic("load_ext", "zhipu_magic")

        def baseline() -> float:
            t0 = time.perf_counter()
            with client.stream(prompt) as stream:
                for _ in stream:
                    pass
            return time.perf_counter() - t0

        def magic() -> tuple[float, int, int]:
            pub.displays = pub.updates = 0
            t0 = time.perf_counter()
            ip.run_cell_magic("glm", "", prompt)
            return time.perf_counter() - t0, pub.displays, pub.updates

        baseline()  # warm up: connection pool, imports, markdown-it
        magic()
        base_times, magic_runs = [], []
        for _ in range(args.rounds):
            base_times.append(baseline())
            magic_runs.append(magic())
        reply = ip.user_ns["_glm"]
        assert reply.chunks >= args.chunks and reply.finish_reason == "stop", reply
        assert pub.last["text/plain"].startswith(reply.text)
    memory = measure_memory(ip, args.memory_chunks) if args.memory_chunks and not args.local else None

    base = statistics.median(base_times)
    server = "LocalServer (end to end)" if args.local else "pre-rendered server in its own process"
    mag = statistics.median(r[0] for r in magic_runs)
    worst_calls_over_limit = max((d + u) - (10 * t + 2) for t, d, u in magic_runs)
    calls = [d + u for _, d, u in magic_runs]
    ratio = mag / base
    result = {
        "chunks": args.chunks,
        "rounds": args.rounds,
        "answer_chars": len(reply.text),
        "baseline_s": base_times,
        "magic_s": [r[0] for r in magic_runs],
        "display_calls": calls,
        "baseline_median_s": base,
        "magic_median_s": mag,
        "ratio": ratio,
        "ratio_target": 1.3,
        "display_calls_target": "<= 10 per streamed second + 2",
        "display_calls_ok": worst_calls_over_limit <= 0,
        "ratio_ok": ratio <= 1.3,
        "server": server,
        "memory": memory,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }

    rows = [
        ("GLMClient.stream alone (median)", f"{base:.3f} s"),
        ("%%glm path (median)", f"{mag:.3f} s"),
        ("ratio (target <= 1.3)", f"{ratio:.2f}x {'ok' if result['ratio_ok'] else 'OVER'}"),
        ("display calls per run", ", ".join(map(str, calls))),
        ("limit per run (10/s + 2)", ", ".join(f"{10 * t + 2:.0f}" for t, _, _ in magic_runs)),
        ("answer size", f"{len(reply.text)} chars in {reply.chunks} chunks"),
    ]
    width = max(len(k) for k, _ in rows)
    if memory:
        rows.append(("memory through %%glm", f"peak {memory['multiple']:.1f}x the answer (target <= ~10x)"))
    print(f"bench_magics: {args.chunks} chunks, {args.rounds} rounds, {server}")
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")

    out_dir = pathlib.Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"bench_magics-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"  written to {out}")
    return 0 if (result["ratio_ok"] and result["display_calls_ok"]) else 1


def measure_memory(ip: InteractiveShell, chunks: int) -> dict[str, Any]:
    """tracemalloc peak of one %%glm cell streaming ``chunks`` 4-character chunks, final render
    included, against the answer's size."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    from bench_client import SSEServer

    with SSEServer(chunks) as server:
        os.environ["ZHIPUAI_BASE_URL"] = server.url("ascii")
        ip.run_cell_magic("glm", "", "warm up")
        ip.user_ns.pop("_glm", None)
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        ip.run_cell_magic("glm", "", "memory")
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    text = ip.user_ns["_glm"].text
    size = sys.getsizeof(text)
    return {
        "chunks": chunks,
        "answer_chars": len(text),
        "answer_bytes": size,
        "peak_bytes": peak,
        "multiple": peak / size,
    }


if __name__ == "__main__":
    raise SystemExit(main())
