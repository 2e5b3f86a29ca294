"""Where a sharded run's work goes: thread CPU time per shard method, for 1 and n local shards.

Usage:
    python benchmarks/exchange_cost.py [--docs 30000] [--shards 1,2] [--json]

Runs W3 (the corpus, layout and digesters of ``shard_cost.py``) until digested on the local
backend, once per shard count, one after another, and times the methods of a shard's tick
with ``time.thread_time`` (wrapped for the run): the colony's phases (Sense, Act, Decay),
routing Act's updates out and receiving them, the ghost exchange and the degree cap across
shards (reports, the owner's ranking and orders, applying orders). Each row gives the
seconds summed over the shards and ticks and the milliseconds per call; calls nest (the
ranking is part of the orders, routing part of taking the updates), so rows do not add up.
With one shard, the cross-shard rows are empty: what n shards spend there is the exchange.

A second table counts the degree cap's messages per tick, summed over the shards: the
(node, shard) pairs owners asked for, the edges reported in answer, the degree entries
reported, the drops ordered, and the bytes of those reports and orders (their arrays'
sizes, about what they pickle to). A third gives the passes of Python's cyclic collector
during the run, by generation, with their seconds (the shards pause it for each tick).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

from phago.colony import Colony
from phago.distributed.degree_cap import CapOrder, DegreeReport, GlobalDegreeCap
from phago.distributed.shard import ShardedColony
from w3common import CollectorPasses, w3_colony, w3_items, warm_up

# (class, method, what it is): the rows, in this order
TIMED: list[tuple[type, str, str]] = [
    (ShardedColony, "_run_phase", "all phases"),
    (Colony, "sense", "colony Sense"),
    (Colony, "act", "colony Act"),
    (Colony, "decay", "colony Decay"),
    (ShardedColony, "flush_act", "Act: route the updates out"),
    (ShardedColony, "take_outbox", "Act: seal the update batches"),
    (ShardedColony, "receive_updates", "Decay: wire other shards' updates"),
    (ShardedColony, "receive_answers", "Decay: take ghosts and cap orders"),
    (ShardedColony, "_resolve_ghost_groups", "Decay: answer ghost requests"),
    (GlobalDegreeCap, "reports", "cap: degree reports"),
    (GlobalDegreeCap, "orders", "cap: ranking and orders"),
    (GlobalDegreeCap, "_rank", "cap: the ranking alone"),
    (GlobalDegreeCap, "apply_orders", "cap: apply orders"),
]


def _timed(
    method: Callable[..., Any], key: str, seconds: dict[str, float], calls: Counter[str]
) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        c0 = time.thread_time()
        try:
            return method(*args, **kwargs)
        finally:
            seconds[key] += time.thread_time() - c0
            calls[key] += 1

    return wrapper


# the degree cap's messages, counted per tick: (key, what it is)
TRAFFIC: list[tuple[str, str]] = [
    ("asks", "cap: (node, shard) pairs asked for"),
    ("edges", "cap: edges reported"),
    ("degrees", "cap: degree entries reported"),
    ("drops", "cap: drops ordered"),
    ("bytes", "cap: KiB of reports and orders"),
]


def _message_bytes(message: DegreeReport | CapOrder) -> int:
    return sum(
        getattr(message, f).nbytes for f in message.__slots__ if f not in ("source", "owner")
    )


# what each message method's messages are counted by: (traffic key, the message's field)
COUNTED = {
    "reports": [("edges", "edge_node"), ("degrees", "nodes")],
    "orders": [("asks", "ask"), ("drops", "drop")],
}


def _counted(traffic: Counter[str], name: str) -> Callable[..., Any]:
    """``GlobalDegreeCap.<name>`` wrapped to count the messages it returns."""
    method = getattr(GlobalDegreeCap, name)

    @functools.wraps(method)
    def counted(*args: Any, **kwargs: Any) -> dict[int, DegreeReport | CapOrder]:
        out: dict[int, DegreeReport | CapOrder] = method(*args, **kwargs)
        for message in out.values():
            for key, field in COUNTED[name]:
                traffic[key] += len(getattr(message, field))
            traffic["bytes"] += _message_bytes(message)
        return out

    return counted


def run(docs: int, shards: int, items: list[Any]) -> dict[str, Any]:
    """One W3 run on ``shards`` local shards with the methods timed; its figures."""
    # (a Counter of float seconds: typeshed types a Counter's counts as int)
    seconds = cast("dict[str, float]", Counter())
    calls: Counter[str] = Counter()
    traffic: Counter[str] = Counter()
    saved = [(cls, name, getattr(cls, name)) for cls, name, _ in TIMED]
    for cls, name, method in saved:
        setattr(cls, name, _timed(method, f"{cls.__name__}.{name}", seconds, calls))
    for name in COUNTED:  # outside the timing: counting is not work
        setattr(GlobalDegreeCap, name, _counted(traffic, name))
    try:
        dc = w3_colony(items, shards)
        seconds.clear()
        calls.clear()
        traffic.clear()
        passes = CollectorPasses()
        gc.callbacks.append(passes)
        try:
            t0 = time.perf_counter()
            ticks = dc.run_until_digested(5000)
            wall = time.perf_counter() - t0
        finally:
            gc.callbacks.remove(passes)
        edges = dc.stats().graph_edges
        dc.close()
    finally:
        for cls, name, method in saved:
            setattr(cls, name, method)
    rows = []
    for cls, name, what in TIMED:
        key = f"{cls.__name__}.{name}"
        n = calls[key]
        rows.append(
            {
                "what": what,
                "method": key,
                "seconds": round(seconds[key], 3),
                "calls": n,
                "ms_per_call": round(1000 * seconds[key] / n, 3) if n else 0.0,
            }
        )
    per_tick = {
        key: round(traffic[key] / max(ticks, 1) / (1024 if key == "bytes" else 1), 1)
        for key, _ in TRAFFIC
    }
    return {
        "shards": shards,
        "ticks": ticks,
        "wall_s": round(wall, 2),
        "edges": edges,
        "rows": rows,
        "cap_messages_per_tick": per_tick,
        "collector": passes.by_generation(),
    }


def main() -> None:
    """Run each shard count and print a table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=30_000)
    ap.add_argument("--shards", default="1,2")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    warm_up()
    items = w3_items(args.docs)
    results = [run(args.docs, int(n), items) for n in args.shards.split(",")]
    if args.json:
        print(json.dumps(results))
        return
    print(f"W3, D = {args.docs}, local shards; thread CPU seconds summed over shards (ms per call)")
    head = " | ".join(
        f"{r['shards']} shard{'s' if r['shards'] > 1 else ''}: {r['ticks']} ticks, "
        f"{r['wall_s']:.1f} s, {r['edges']:,} edges"
        for r in results
    )
    print(f"| work | {head} |")
    print("|---|" + "---:|" * len(results))
    for k, (_, _, what) in enumerate(TIMED):
        cells = []
        for r in results:
            row = r["rows"][k]
            cells.append(f"{row['seconds']:.2f} ({row['ms_per_call']:.2f})" if row["calls"] else "")
        print(f"| {what} | " + " | ".join(cells) + " |")
    print()
    print("Python's cyclic collector during the run: passes (seconds) by generation")
    print("| generation | " + " | ".join(f"{r['shards']} shard(s)" for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    for g in range(3):
        cells = [f"{r['collector'][g][0]} ({r['collector'][g][1]:.2f})" for r in results]
        print(f"| {('young', 'middle', 'oldest')[g]} | " + " | ".join(cells) + " |")
    print()
    print("The degree cap's messages per tick, summed over shards")
    print("| message | " + " | ".join(f"{r['shards']} shard(s)" for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    for key, what in TRAFFIC:
        cells = [f"{r['cap_messages_per_tick'][key]:,.1f}" for r in results]
        print(f"| {what} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
