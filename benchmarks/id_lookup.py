"""What a graph's id lookups cost on each path, and what starting Numba for them costs.

Usage:
    python benchmarks/id_lookup.py [--nodes 10000] [--lookups 1000000] [--rounds 3]

``HebbianGraph.indices_of_ids`` answers from the id dictionary (a few ids, Numba not
loaded), from the graph's ids sorted and searched in NumPy (many ids, Numba not loaded),
or from the id table's kernel (Numba loaded, or very many ids). Each path is timed on the
same graph and lookups (best of ``--rounds``), and, in a fresh interpreter, the first
kernel lookup: Numba's start with its cached kernels, which a command answering one query
would pay (what the sorted path saves a distributed store's query).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np

import phago.graph as graph_mod
from phago.graph import HebbianGraph

FIRST_KERNEL = """
import time, numpy as np
from phago.graph import HebbianGraph
import phago._kernels as K
g = HebbianGraph(); g.present([f"t{{i}}" for i in range({nodes})])
q = np.array([g.id_at(i % {nodes}) for i in range(1000)], dtype=np.uint64)
t = time.perf_counter()  # (the kernel's path, as a lookup of 8 million ids or more takes it)
g._sync_id_table(); K.id_table_find(g._id_keys, g._id_vals, q)
print(time.perf_counter() - t)
"""


def best(run: object, rounds: int) -> float:
    """The least seconds of ``rounds`` calls of ``run``."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    g = HebbianGraph()
    g.present([f"t{i}" for i in range(args.nodes)])
    ids = np.array([g.id_at(i) for i in range(g.node_count)], dtype=np.uint64)
    picks = np.random.default_rng(0).integers(0, args.nodes, args.lookups)
    q = ids[picks]
    find = g._index.get
    dictionary = best(
        lambda: np.fromiter((find(x, -1) for x in q.tolist()), dtype=np.int64, count=len(q)),
        args.rounds,
    )
    sorted_search = best(lambda: graph_mod._positions_among(ids, q), args.rounds)
    assert (graph_mod._positions_among(ids, q) == picks).all()
    done = subprocess.run(
        [sys.executable, "-c", FIRST_KERNEL.format(nodes=args.nodes)],
        capture_output=True,
        text=True,
        check=True,
    )
    first_kernel = float(done.stdout.split()[-1])
    g._sync_id_table()
    kernel = best(lambda: g.indices_of_ids(q), args.rounds)  # (Numba loaded here now)
    print(f"{args.lookups:,} lookups among {args.nodes:,} nodes, seconds (best of {args.rounds})")
    print("| path | s |")
    print("|---|---:|")
    print(f"| id dictionary | {dictionary:.3f} |")
    print(f"| sorted ids searched (NumPy) | {sorted_search:.3f} |")
    print(f"| id table kernel, Numba loaded | {kernel:.3f} |")
    print(f"| Numba's start and a first kernel lookup (fresh interpreter) | {first_kernel:.3f} |")


if __name__ == "__main__":
    main()
