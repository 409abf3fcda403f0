"""END-TO-END streaming figure against the package's LocalServer: throughput and per-event latency.

This measures the local server as much as the client (the Python LocalServer tops out near 57k
chunks/s, so b/a here says little about the client): the client-bound comparison, every framing
against the raw baseline, is ``bench/bench_client.py``. Kept as an end-to-end figure and for the
latency probe.

Throughput (end to end): the local server (in a separate process, so it does not share our GIL)
streams 20,000 chunks as fast as it can. In one run, interleaved, we time
  (a) a raw baseline: requests + iter_content + line split + json.loads,
  (b) GLMClient.stream,
  (c) the official zhipuai SDK's stream (if installed),
and report medians and the ratios b/a and c/b (target >= 2).

Latency: the server (in process, so both sides read the same perf_counter) sends one event every
50 ms; we report p50 / p99 of (client yield time - server write time). Target p99 <= 10 ms.

    python bench/bench_stream.py [--chunks 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

from zhipu_magic import GLMClient
from zhipu_magic.server import LocalServer

KEY = "bench.key"
SERVE = (
    "import sys, time; from zhipu_magic.server import LocalServer; "
    "s = LocalServer(port=0, token_rate=0.0).start(); print(s.base_url, flush=True); "
    "sys.stdin.read()"
)


def prompt(n: int) -> str:
    return f"Count for the benchmark. [[chunks:{n}]]"


def run_raw(base_url: str, n: int) -> int:
    body = {"model": "glm-4-flash", "stream": True, "messages": [{"role": "user", "content": prompt(n)}]}
    count = 0
    with requests.post(
        f"{base_url}/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {KEY}"},
        stream=True,
        timeout=(5, 60),
    ) as resp:
        buf = b""
        for data in resp.iter_content(chunk_size=None):
            buf += data
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.startswith(b"data: "):
                    payload = line[6:]
                    if payload == b"[DONE]":
                        return count
                    json.loads(payload)
                    count += 1
    return count


def run_client(client: GLMClient, n: int) -> int:
    count = 0
    with client.stream(prompt(n), model="glm-4-flash") as stream:
        for _chunk in stream:
            count += 1
    return count


def run_sdk(sdk: object, n: int) -> int:
    count = 0
    for _chunk in sdk.chat.completions.create(  # type: ignore[attr-defined]
        model="glm-4-flash", messages=[{"role": "user", "content": prompt(n)}], stream=True
    ):
        count += 1
    return count


def timed(fn, *args) -> tuple[float, int]:
    t0 = time.perf_counter()
    count = fn(*args)
    return time.perf_counter() - t0, count


def throughput(n: int, rounds: int) -> dict:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        base_url = proc.stdout.readline().strip()
        client = GLMClient(api_key=KEY, base_url=base_url)
        try:
            from zhipuai import ZhipuAI as OfficialSDK

            sdk = OfficialSDK(api_key="bench.key", base_url=base_url)
        except ImportError:
            sdk = None
        runs: dict[str, list[float]] = {"raw": [], "client": [], "sdk": []}
        counts: dict[str, int] = {}
        run_raw(base_url, 200)  # warm up connections and imports
        run_client(client, 200)
        for _ in range(rounds):
            for name, fn, arg in (
                ("raw", run_raw, base_url),
                ("client", run_client, client),
                ("sdk", run_sdk, sdk),
            ):
                if arg is None:
                    continue
                secs, counts[name] = timed(fn, arg, n)
                runs[name].append(secs)
        client.close()
    finally:
        proc.stdin.close()
        proc.terminate()
        proc.wait(10)
    med = {k: statistics.median(v) for k, v in runs.items() if v}
    out = {"chunks": n, "rounds": rounds, "median_s": med, "counts": counts}
    out["b_over_a"] = med["client"] / med["raw"]
    if "sdk" in med:
        out["c_over_b"] = med["sdk"] / med["client"]
    return out


def latency(events: int = 200, interval: float = 0.05) -> dict:
    delays = []
    with LocalServer(port=0, token_rate=0.0) as srv, GLMClient(api_key=KEY, base_url=srv.base_url) as client:
        yields = []
        text = f"Latency probe. [[chunks:{events}]] [[interval:{interval}]]"
        with client.stream(text, model="glm-4-flash") as stream:
            for chunk in stream:
                if chunk.get("choices") and chunk["choices"][0].get("delta", {}).get("content"):
                    yields.append(time.perf_counter())
        writes = srv.last_write_times[: len(yields)]
        delays = [(y - w) * 1000 for y, w in zip(yields, writes, strict=False)]
    delays.sort()
    p = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]  # noqa: E731
    return {"events": len(delays), "interval_ms": interval * 1000, "p50_ms": p(0.50), "p99_ms": p(0.99)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tp = throughput(args.chunks, args.rounds)
    lat = latency()
    med = tp["median_s"]
    print(
        f"END TO END (LocalServer; server-bound, see bench_client.py for the client): "
        f"{tp['chunks']} chunks, median of {tp['rounds']} interleaved rounds:"
    )
    for name, label in (
        ("raw", "(a) requests + iter_content + split + json.loads"),
        ("client", "(b) GLMClient.stream"),
        ("sdk", "(c) official zhipuai SDK stream"),
    ):
        if name in med:
            print(f"  {label:52s} {med[name] * 1000:8.1f} ms  {tp['chunks'] / med[name]:9.0f} chunks/s")
    print(f"  b/a = {tp['b_over_a']:.2f}  (end to end: the server is the bottleneck)")
    if "c_over_b" in tp:
        print(f"  c/b = {tp['c_over_b']:.2f}  (target >= 2)")
    print(f"latency, one event every {lat['interval_ms']:.0f} ms, {lat['events']} events:")
    print(
        f"  write -> yield p50 = {lat['p50_ms']:.2f} ms, p99 = {lat['p99_ms']:.2f} ms  (target p99 <= 10 ms)"
    )
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "bench_stream.json").write_text(json.dumps({"throughput": tp, "latency": lat}, indent=2))


if __name__ == "__main__":
    main()
