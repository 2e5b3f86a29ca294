"""What forgetting documents in a running sharded colony costs: W3 on local shards.

Usage:
    python benchmarks/forget_cost.py [--docs 30000] [--shards 4] [--forget 300]
                                     [--rounds 2] [--json]

Builds W3 (the corpus, layout and digesters of ``ray_scaling.py``) on ``--shards`` local
shards and runs it until digested (untimed), then forgets the first ``--forget`` documents
with ``DistributedColony.forget_documents`` and times it: the three planning rounds, every
shard working out and checking its part, then applying it (docs/distributed.md,
"Forgetting documents in a running colony"). ``--shards 0``: one :class:`~phago.Colony`
holding the same documents and digesters, forgetting with ``Colony.forget_documents``.
Each round builds the colony afresh; the table gives every round's seconds, the concepts
removed, the process's CPU seconds (local shards run in this process), and the passes of
Python's cyclic garbage collector during the forget (with the seconds they took).
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from typing import Any

from phago import Colony, ColonyConfig, Digester, Position
from w3common import CollectorPasses, w3_colony, w3_items


def _one_colony(docs: int) -> Any:
    """W3 in one plain colony, as ``w3_colony`` lays it out for one shard."""
    colony = Colony(ColonyConfig.for_large_corpora(), seed=42)
    items = w3_items(docs, 42)
    for title, content, (x, y) in items:
        colony.ingest_document(title, content, Position(x, y))
    for k in range(max(1, len(items) // 100)):
        colony.spawn(Digester(Position(*items[k * 100][2])))
    return colony


def forget_once(docs: int, shards: int, forget: int) -> dict[str, float | int]:
    """One round: build and digest W3, then time the forget of its first ``forget``
    documents (``shards`` 0: one plain colony)."""
    if shards:
        colony: Any = w3_colony(
            w3_items(docs, 42), shards, config=ColonyConfig.for_large_corpora(), seed=42
        )
    else:
        colony = _one_colony(docs)
    passes = CollectorPasses()
    try:
        if shards:
            colony.run(1_000_000, stop_when_idle=True)
        else:
            colony.run_until_digested(1_000_000)
        victims = [d.id for d in colony.documents()][:forget]
        gc.callbacks.append(passes)
        t0, c0 = time.perf_counter(), time.process_time()
        report = colony.forget_documents(victims)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        if passes in gc.callbacks:
            gc.callbacks.remove(passes)
        if shards:
            colony.close()
    return {
        "documents": docs,
        "shards": shards,
        "forgotten": len(report.documents_removed),
        "nodes_removed": report.nodes_removed,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "collector_passes": passes.passes,
        "collector_seconds": round(passes.seconds, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=30_000)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--forget", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [forget_once(args.docs, args.shards, args.forget) for _ in range(args.rounds)]
    if args.json:
        print(json.dumps(rows))
        return
    where = f"{args.shards} local shards" if args.shards else "one colony"
    print(f"W3, D = {args.docs}, {where}, forgetting {args.forget} documents")
    print("| round | forgotten | concepts removed | seconds | CPU s | collector passes (s) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for k, r in enumerate(rows, 1):
        print(
            f"| {k} | {r['forgotten']} | {r['nodes_removed']} | {r['seconds']:.2f} "
            f"| {r['cpu_seconds']:.2f} "
            f"| {r['collector_passes']} ({r['collector_seconds']:.2f}) |"
        )


if __name__ == "__main__":
    main()
