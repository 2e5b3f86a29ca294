"""The HTML view's force layout (:func:`phago.viz.force_layout`) on random graphs.

Graphs of ``n`` nodes with about four random weighted edges per node; each size laid out
``--repeat`` times with the default iteration schedule (:func:`phago.viz.layout_iterations`).
The first call of the process (Numba's start and its cached kernel) is timed apart. Up to
``EXACT_LAYOUT_NODES`` nodes the repulsion is summed over all pairs, above that over a
grid tree. ``--src`` times another copy of phago (a ``src`` folder) in a fresh process.

Usage:
    python benchmarks/viz_layout.py [--sizes 100,800,2000,4000,16000] [--repeat 3]
                                    [--src PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

import numpy as np


def random_graph(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """About ``4 n`` random edges (no self-loops) with weights in [0, 1)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, 4 * n)
    b = rng.integers(0, n, 4 * n)
    keep = a != b
    return a[keep].astype(np.int64), b[keep].astype(np.int64), rng.uniform(0, 1, int(keep.sum()))


def measure(sizes: list[int], repeat: int) -> dict[str, Any]:
    from phago.viz import force_layout

    start = time.perf_counter()
    force_layout(10, *random_graph(10))
    first = time.perf_counter() - start
    rows = []
    for n in sizes:
        g = random_graph(n)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            force_layout(n, *g)
            times.append(time.perf_counter() - start)
        rows.append({"nodes": n, "edges": len(g[0]), "best_s": min(times)})
    return {"first_call_s": first, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,800,2000,4000,16000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--src", default=None, help="PYTHONPATH of another phago to time")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    if args.src is not None:  # a fresh process importing phago from there
        cmd = [sys.executable, __file__, "--sizes", args.sizes, "--repeat", str(args.repeat)]
        env = {"PYTHONPATH": args.src, "PATH": "/usr/bin:/bin"}
        out = subprocess.run([*cmd, "--raw"], capture_output=True, text=True, env=env, check=True)
        result = json.loads(out.stdout)
    else:
        result = measure(sizes, args.repeat)
    if args.raw:
        print(json.dumps(result))
        return
    print(f"force layout, best of {args.repeat}; first call {result['first_call_s']:.3f} s")
    print(f"{'nodes':>7} {'edges':>7} {'seconds':>9}")
    for r in result["rows"]:
        print(f"{r['nodes']:>7,} {r['edges']:>7,} {r['best_s']:>9.3f}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
