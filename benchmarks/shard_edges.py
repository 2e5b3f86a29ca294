"""How many edges a sharded W3 colony holds while it digests, against one colony.

Usage:
    python benchmarks/shard_edges.py [--docs 10000] [--shards 1,2,4] [--every 50] [--ticks 600]
                                     [--cap 30]

Runs W3 (``ColonyConfig.for_large_corpora()``, one digester per 100 documents, local
backend) and every ``--every`` ticks prints, per shard count: documents digested, edges in
the global graph, nodes over the degree cap and the largest degree. Shards cap the edges
they store at once and the cap across shards trims a node four to seven ticks after it
grows, so a node that gains edges every tick (a frequent word) can hold up to
``shards × cap`` edges; these edges are what the shards' Decay, degree reports and ranking
then work through.
``--cap 0`` turns the cap off (``max_edge_degree=None``).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from phago import ColonyConfig
from w3common import w3_arguments, w3_colony, w3_items


def main() -> None:
    ap = w3_arguments(__doc__)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--ticks", type=int, default=600)
    ap.add_argument("--cap", type=int, default=30)
    a = ap.parse_args()
    cap = a.cap or None
    config = ColonyConfig.for_large_corpora().replace(max_edge_degree=cap)
    items = w3_items(a.docs)
    print(f"W3, D = {a.docs}, degree cap {cap}, local backend")
    print("| shards | tick | digested | edges | nodes over the cap | largest degree |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in a.shards.split(",")):
        dc = w3_colony(items, n, config=config)
        try:
            for _ in range(0, a.ticks, a.every):
                dc.run(a.every)
                degree: Counter[int] = Counter()
                edges = 0
                for x, y, _e in dc.graph.edges():
                    degree[x] += 1
                    degree[y] += 1
                    edges += 1
                over = sum(1 for d in degree.values() if cap is not None and d > cap)
                top = max(degree.values(), default=0)
                digested = dc.stats().documents_digested
                print(f"| {n} | {dc.current_tick} | {digested} | {edges} | {over} | {top} |")
        finally:
            dc.close()


if __name__ == "__main__":
    main()
