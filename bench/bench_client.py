"""Client-bound streaming benchmark: GLMClient.stream and ZhipuAI vs a raw baseline, every framing.

The server (``bench/sse_server.py``, its own process) writes a pre-rendered SSE body as fast as the
socket takes it, so the client is the bottleneck: the baseline's chunks/s is printed to show it.
For each framing (one HTTP chunk per event, 64 KiB chunks, no framing until EOF, CRLF line ends)
the contenders run in interleaved rounds in one process; we report medians and each contender's
ratio to the raw baseline (requests + ``iter_content(None)`` + split + ``json.loads``) of the same
run. Targets: ``GLMClient.stream`` <= 1.1x raw in every framing (aim 1.05), ``ZhipuAI`` <= 1.2x.

Memory (``--memory-chunks``, default 200,000): the tracemalloc peak while streaming that many
4-character ASCII chunks (an 800,000-character answer) through ``GLMClient.stream``, reading
``.text`` at the end, as a multiple of the answer's size (target <= ~3x).

    python bench/bench_client.py [--chunks 20000] [--rounds 7] [--memory-chunks 200000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import requests

from zhipu_magic import GLMClient, ZhipuAI

HERE = Path(__file__).resolve().parent
FRAMINGS = ("event", "64k", "eof", "crlf")
LABELS = {
    "event": "one HTTP chunk per event",
    "64k": "64 KiB HTTP chunks",
    "eof": "no framing, ends at EOF",
    "crlf": "64 KiB chunks, CRLF",
}
KEY = "bench.key"


class SSEServer:
    """``bench/sse_server.py`` in a child process; ``url(framing)`` is a base URL."""

    def __init__(self, chunks: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "sse_server.py"), str(chunks)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.proc.stdout.readline())  # type: ignore[union-attr]

    def url(self, framing: str) -> str:
        return f"http://127.0.0.1:{self.port}/{framing}/api/paas/v4"

    def __enter__(self) -> SSEServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.terminate()
        self.proc.wait(10)


def run_raw(session: requests.Session, base_url: str) -> int:
    """The floor: requests + iter_content(None) + split + json.loads, nothing else."""
    body = {"model": "glm-4-flash", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    count = 0
    with session.post(f"{base_url}/chat/completions", json=body, stream=True, timeout=(5, 60)) as resp:
        buf = b""
        for data in resp.iter_content(chunk_size=None):
            buf += data
            *lines, buf = buf.replace(b"\r\n", b"\n").split(b"\n") if b"\r" in buf else buf.split(b"\n")
            for line in lines:
                if line.startswith(b"data: "):
                    payload = line[6:]
                    if payload == b"[DONE]":
                        return count
                    json.loads(payload)
                    count += 1
    return count


def run_client(client: GLMClient) -> int:
    count = 0
    with client.stream("hi") as stream:
        for _chunk in stream:
            count += 1
    return count


def run_compat(sdk: ZhipuAI) -> int:
    count = 0
    for _chunk in sdk.chat.completions.create(model="glm-4-flash", messages="hi", stream=True):
        count += 1
    return count


def throughput(server: SSEServer, framing: str, rounds: int) -> dict:
    url = server.url(framing)
    session = requests.Session()
    client = GLMClient(api_key=KEY, base_url=url)
    sdk = ZhipuAI(api_key=KEY, base_url=url)
    contenders: dict[str, Callable[[], int]] = {
        "raw": lambda: run_raw(session, url),
        "client": lambda: run_client(client),
        "compat": lambda: run_compat(sdk),
    }
    for fn in contenders.values():  # warm up: connections, imports
        fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    counts: dict[str, int] = {}
    for _ in range(rounds):
        for name, fn in contenders.items():
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            counts[name] = fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    session.close()
    client.close()
    sdk.close()
    med = {name: statistics.median(v) for name, v in times.items()}
    med_cpu = {name: statistics.median(v) for name, v in cpu.items()}
    return {
        "framing": framing,
        "median_s": med,
        "median_cpu_s": med_cpu,
        "client_over_raw_cpu": med_cpu["client"] / med_cpu["raw"],
        "compat_over_raw_cpu": med_cpu["compat"] / med_cpu["raw"],
        "counts": counts,
        "raw_chunks_per_s": counts["raw"] / med["raw"],
        "client_over_raw": med["client"] / med["raw"],
        "compat_over_raw": med["compat"] / med["raw"],
    }


def memory(chunks: int) -> dict:
    """tracemalloc peak while a ``chunks``-chunk answer streams through GLMClient.stream."""
    with SSEServer(chunks) as server:
        client = GLMClient(api_key=KEY, base_url=server.url("ascii"))
        run_client(client)  # warm up outside the measurement
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        with client.stream("hi") as stream:
            for _chunk in stream:
                pass
            text = stream.text
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        client.close()
    size = sys.getsizeof(text)
    return {
        "chunks": chunks,
        "answer_chars": len(text),
        "answer_bytes": size,
        "peak_bytes": peak,
        "multiple": peak / size,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--memory-chunks", type=int, default=200_000)
    ap.add_argument("--framings", default=",".join(FRAMINGS))
    args = ap.parse_args(argv)
    rows = []
    with SSEServer(args.chunks) as server:
        for framing in args.framings.split(","):
            rows.append(throughput(server, framing, args.rounds))
    print(f"client-bound stream, {args.chunks} chunks, median of {args.rounds} interleaved rounds:")
    print(f"  {'':26s} {'':21s} {'wall-clock ratio':>21s} {'CPU-time ratio':>21s}")
    head = f"{'framing':26s} {'raw chunks/s':>12s} {'raw ms':>8s}"
    print(f"  {head} {'client':>10s} {'compat':>10s} {'client':>10s} {'compat':>10s}")
    for r in rows:
        print(
            f"  {LABELS[r['framing']]:26s} {r['raw_chunks_per_s']:12,.0f} {r['median_s']['raw'] * 1000:8.1f}"
            f" {r['client_over_raw']:10.2f} {r['compat_over_raw']:10.2f}"
            f" {r['client_over_raw_cpu']:10.2f} {r['compat_over_raw_cpu']:10.2f}"
        )
    print("  ratios to raw; targets: client <= 1.1 (aim 1.05), compat <= 1.2")
    print("  (CPU time of this process: the client's own work, steadier than wall time on a busy machine)")
    mem = memory(args.memory_chunks) if args.memory_chunks else None
    if mem:
        print(
            f"memory, {mem['chunks']:,} chunks ({mem['answer_chars']:,} chars,"
            f" {mem['answer_bytes']:,} bytes):"
            f" peak {mem['peak_bytes']:,} bytes = {mem['multiple']:.1f}x the answer (target <= ~3x)"
        )
    ok = all(r["client_over_raw"] <= 1.1 and r["compat_over_raw"] <= 1.2 for r in rows)
    ok = ok and (mem is None or mem["multiple"] <= 3.5)
    result = {
        "throughput": rows,
        "memory": mem,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_client.json").write_text(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
