"""Refresh benchmark: how long one Refresh of N pending async tasks takes, concurrent vs sequential.

The local server answers each ``GET async-result/{id}`` after ``poll_delay`` seconds (default 0.2 s,
served concurrently), and keeps every task PROCESSING so each round polls all of them. In one run
we measure, interleaved:
  - one round-trip: a single ``client.result`` call (the unit the target is expressed in),
  - ``polling.refresh``: what the panel's Refresh button does (every pending task at once),
  - a sequential loop over the same tasks (what a naive Refresh would do),
and report medians. Target: the concurrent refresh takes no more than about two round-trips.

    python bench/bench_refresh.py [--tasks 50] [--poll-delay 0.2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from zhipu_magic import GLMClient
from zhipu_magic.core.tasks.polling import poll_task, refresh
from zhipu_magic.core.tasks.store import TaskStore
from zhipu_magic.server import LocalServer


def timed(fn) -> float:  # noqa: ANN001 - tiny helper
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=50)
    ap.add_argument("--poll-delay", type=float, default=0.2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)

    with (
        LocalServer(port=0, task_polls=10**9, poll_delay=args.poll_delay) as srv,
        GLMClient(api_key="bench.key", base_url=srv.base_url) as client,
        tempfile.TemporaryDirectory() as home,
    ):
        store = TaskStore(home)
        ids = []
        for i in range(args.tasks):
            resp = client.submit(f"task {i}")
            ids.append(
                store.record_submission(resp, kind="chat", model="glm-4-flash", prompt=f"task {i}")["id"]
            )

        rtt, conc, seq = [], [], []
        for _ in range(args.rounds):
            rtt.append(timed(lambda: client.result(ids[0])))
            conc.append(timed(lambda: refresh(store, client)))
            seq.append(timed(lambda: [poll_task(store, client, t) for t in ids]))
        assert len(store.pending()) == args.tasks, "tasks were meant to stay pending"

    r, c, s = (statistics.median(x) for x in (rtt, conc, seq))
    print(f"{args.tasks} pending tasks, poll delay {args.poll_delay:.2f} s, {args.rounds} rounds (medians)")
    print(f"  one round-trip           {r:7.3f} s")
    print(f"  Refresh (concurrent)     {c:7.3f} s  = {c / r:4.2f} round-trips")
    print(f"  sequential loop          {s:7.3f} s  = {s / r:5.1f} round-trips  ({s / c:.0f}x slower)")
    verdict = "OK" if c <= 2.2 * r else "SLOW"
    print(f"  target: Refresh <= ~2 round-trips: {verdict}")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    raise SystemExit(main())
