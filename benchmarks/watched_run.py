"""What watching a run costs: W3 run until digested, unwatched, with ``on_progress`` (what
``phago run`` and ``phago ingest`` use for their progress bars), with a progress bar, and with
``on_tick``.

Usage:
    python benchmarks/watched_run.py [--docs 30000] [--shards 2] [--backends local,ray]
                                     [--rounds 2] [--json]

Each round builds a fresh W3 colony (the corpus and digesters of ``ray_scaling.py``) for every
way of watching, in turn, and times ``run_until_digested``. The runner takes the ticks in
calls: unwatched, of 64 ticks each; watched by ``on_progress`` or a progress bar, of one tick
at first and then twice as many while a call takes under a quarter second (up to 64); with
``on_tick``, one call a tick, so that the callback sees the cluster as of its tick. Ray
shards chain the ticks of a call without waiting for the driver between them
(docs/distributed.md, "Chained ticks"), so the number of calls matters there; the local
backend runs a call's ticks in one job of its driver thread. The figure to read is each
way's median time over the rounds against the unwatched run's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from phago.distributed import DistributedColony, DistributedTickResult
from w3common import w3_colony, w3_items, warm_up

WAYS = ("unwatched", "on_progress", "progress bar", "on_tick")


def _timed(dc: DistributedColony, way: str) -> tuple[float, int, int]:
    """Run ``dc`` until digested, watched ``way``; returns seconds, ticks and runner calls."""
    calls = 0
    run = dc.runner.run

    def counted(ticks: int, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return run(ticks, **kwargs)

    dc.runner.run = counted  # type: ignore[method-assign,assignment]
    seen: list[int] = []
    reached: Callable[[DistributedTickResult], None] = lambda r: seen.append(r.tick)  # noqa: E731
    t0 = time.perf_counter()
    if way == "unwatched":
        ticks = dc.run_until_digested(2000)
    elif way == "on_progress":
        ticks = dc.run_until_digested(2000, on_progress=reached)
    elif way == "progress bar":
        ticks = dc.run_until_digested(2000, progress=True)
    else:
        ticks = dc.run_until_digested(2000, on_tick=seen.append)
    return time.perf_counter() - t0, ticks, calls


def main() -> None:
    """Time every way of watching on every backend and print a table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=30_000)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--backends", default="local,ray")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    warm_up()
    items = w3_items(args.docs)
    rows: list[dict[str, Any]] = []
    for backend in args.backends.split(","):
        times: dict[str, list[float]] = {w: [] for w in WAYS}
        shape: dict[str, tuple[int, int, int]] = {}
        for _ in range(args.rounds):
            for way in WAYS:
                dc = w3_colony(items, args.shards, backend=backend)
                try:
                    seconds, ticks, calls = _timed(dc, way)
                    shape[way] = (ticks, calls, dc.graph.edge_count)
                finally:
                    dc.close()
                times[way].append(seconds)
        base = statistics.median(times["unwatched"])
        for way in WAYS:
            ticks, calls, edges = shape[way]
            median = statistics.median(times[way])
            rows.append(
                {
                    "backend": backend,
                    "shards": args.shards,
                    "watched": way,
                    "seconds": round(median, 2),
                    "rounds": [round(t, 2) for t in times[way]],
                    "vs_unwatched": round(median / base, 3),
                    "ticks": ticks,
                    "runner_calls": calls,
                    "edges": edges,
                }
            )
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"W3 D={args.docs}, {args.shards} shards, median of {args.rounds} rounds")
    print("| backend | watched | seconds (median) | rounds | vs unwatched | ticks | runner calls |")
    print("|---|---|---:|---|---:|---:|---:|")
    for r in rows:
        rounds = " / ".join(f"{t:.2f}" for t in r["rounds"])
        print(
            f"| {r['backend']} | {r['watched']} | {r['seconds']:.2f} | {rounds} | "
            f"{r['vs_unwatched']:.3f} | {r['ticks']} | {r['runner_calls']} |"
        )


if __name__ == "__main__":
    main()
