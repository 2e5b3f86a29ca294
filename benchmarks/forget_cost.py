"""What forgetting documents in a running sharded colony costs: W3 on local shards.

Usage:
    python benchmarks/forget_cost.py [--docs 30000] [--shards 4] [--forget 300]
                                     [--rounds 2] [--json]

Builds W3 (the corpus, layout and digesters of ``ray_scaling.py``) on ``--shards`` local
shards and runs it until digested (untimed), then forgets the first ``--forget`` documents
with ``DistributedColony.forget_documents`` and times it: the three planning rounds, every
shard working out and checking its part, then applying it (docs/distributed.md,
"Forgetting documents in a running colony"). Each round builds the colony afresh; the table
gives every round's seconds and the concepts removed.
"""

from __future__ import annotations

import argparse
import json
import time

from phago import ColonyConfig
from w3common import w3_colony, w3_items


def forget_once(docs: int, shards: int, forget: int) -> dict[str, float | int]:
    """One round: build and digest W3, then time the forget of its first ``forget``
    documents."""
    dc = w3_colony(w3_items(docs, 42), shards, config=ColonyConfig.for_large_corpora(), seed=42)
    try:
        dc.run(1_000_000, stop_when_idle=True)
        victims = [d.id for d in dc.documents()][:forget]
        t0 = time.perf_counter()
        report = dc.forget_documents(victims)
        seconds = time.perf_counter() - t0
    finally:
        dc.close()
    return {
        "documents": docs,
        "shards": shards,
        "forgotten": len(report.documents_removed),
        "nodes_removed": report.nodes_removed,
        "seconds": seconds,
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
    print(f"W3, D = {args.docs}, {args.shards} local shards, forgetting {args.forget} documents")
    print("| round | forgotten | concepts removed | seconds |")
    print("|---:|---:|---:|---:|")
    for k, r in enumerate(rows, 1):
        print(f"| {k} | {r['forgotten']} | {r['nodes_removed']} | {r['seconds']:.2f} |")


if __name__ == "__main__":
    main()
