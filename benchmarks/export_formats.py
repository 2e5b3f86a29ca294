"""Time and peak memory of each export format on a random graph table.

A :class:`phago.export.GraphTable` of ``--nodes`` nodes (random labels of 3-11 letters,
one accented) and ``--edges`` distinct random edges is written in every format of
:data:`phago.export.FORMATS` (and, with ``--networkx``, GraphML and GEXF the old way: a
networkx graph from :func:`phago.export.to_networkx` and networkx's writers). Each write
runs in its own process, so its peak RSS (``ru_maxrss``) is its own; the table itself takes
the "before" figure.

Usage:
    python benchmarks/export_formats.py [--nodes 49000] [--edges 119000] [--networkx]
                                        [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np


def random_table(n: int, m: int, seed: int = 0) -> Any:
    """A graph table of ``n`` nodes and (up to) ``m`` distinct random edges."""
    from phago.export import GraphTable

    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzé"))
    labels = ["".join(rng.choice(letters, int(k))) for k in rng.integers(3, 12, n)]
    a = rng.integers(0, n, 3 * m)
    b = rng.integers(0, n, 3 * m)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo < hi
    _, first = np.unique(lo[keep] * n + hi[keep], return_index=True)
    pick = np.sort(first)[:m]
    ea, eb = lo[keep][pick], hi[keep][pick]
    k = len(pick)
    return GraphTable(
        ids=rng.integers(0, 2**62, n, dtype=np.uint64) * np.uint64(2) + np.uint64(1),
        labels=labels,
        node_types=["concept"] * n,
        access=rng.integers(1, 50, n),
        created=rng.integers(0, 500, n),
        x=rng.normal(size=n),
        y=rng.normal(size=n),
        edge_a=ea.astype(np.int64),
        edge_b=eb.astype(np.int64),
        weight=rng.random(k),
        co_activations=rng.integers(1, 20, k),
        edge_created=rng.integers(0, 500, k),
        edge_last=rng.integers(0, 500, k),
        tick=500,
    )


def one(fmt: str, way: str, n: int, m: int, folder: str) -> dict[str, Any]:
    """Write one format (in this process) and measure it."""
    from phago.export import export_graph, to_networkx

    table = random_table(n, m)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = os.path.join(folder, f"{way}.{fmt}")
    start = time.perf_counter()
    if way == "networkx":
        import networkx as nx

        writer = nx.write_graphml if fmt == "graphml" else nx.write_gexf
        writer(to_networkx(table), out)
    else:
        export_graph(table, fmt, out)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "format": fmt,
        "way": way,
        "nodes": table.node_count,
        "edges": table.edge_count,
        "seconds": round(seconds, 3),
        "peak_mb": round(peak),
        "table_mb": round(before),
        "file_mb": round(os.path.getsize(out) / 1e6, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=49_000)
    ap.add_argument("--edges", type=int, default=119_000)
    ap.add_argument("--networkx", action="store_true", help="also the old GraphML/GEXF way")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # format way folder
    args = ap.parse_args()
    if args.one:
        fmt, way, folder = args.one
        print(json.dumps(one(fmt, way, args.nodes, args.edges, folder)))
        return
    from phago.export import FORMATS

    jobs = [(f, "phago") for f in FORMATS]
    if args.networkx:
        jobs += [("graphml", "networkx"), ("gexf", "networkx")]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for fmt, way in jobs:
            cmd = [sys.executable, __file__, "--nodes", str(args.nodes), "--edges"]
            cmd += [str(args.edges), "--one", fmt, way, folder]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.splitlines()[-1]))
    print(f"export of {rows[0]['nodes']:,} nodes and {rows[0]['edges']:,} edges")
    print(f"{'format':>8} {'way':>9} {'seconds':>8} {'peak MB':>8} {'table MB':>9} {'file MB':>8}")
    for r in rows:
        print(
            f"{r['format']:>8} {r['way']:>9} {r['seconds']:>8.3f} {r['peak_mb']:>8}"
            f" {r['table_mb']:>9} {r['file_mb']:>8}"
        )
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
