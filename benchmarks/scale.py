"""Workload W3 (WORKLOADS.md) over growing corpora, with a fit of time and memory against D.

Usage:
    python benchmarks/scale.py [--docs 10000,100000] [--backend local] [--shards 1]
                               [--repeat 1] [--json]

Each size generates the synthetic corpus (untimed), then times ingest → digested → wired with
``ColonyConfig.for_large_corpora()``. With ``--backend ray`` Ray is started once, before the
runs (with as many CPUs as shards, at least the cores), so no run's time includes it; peak
RSS then sums the driver and the shard actors. Prints documents/s, words/s, peak RSS, bytes
per edge and the exponents of a log-log least-squares fit of seconds and of peak RSS
against D (1.0 is linear growth), overall and between consecutive sizes. With
``--repeat N`` every size runs N times, in N rounds over all sizes (so a slow spell of the
machine touches every size), and each size's row is its median run: on a machine whose
speed drifts by 1.5x, one run per size can move the fitted exponent by more than 0.1. Peak
RSS is the process's peak after a size's first run (list sizes in increasing order for a
meaningful memory fit).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from w3common import run_w3, warm_up


def fit_exponent(xs: list[float], ys: list[float]) -> float:
    """Slope of log(y) against log(x) (least squares); nan with fewer than two points."""
    if len(xs) < 2:
        return math.nan
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    num = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True))
    den = sum((a - mx) ** 2 for a in lx)
    return num / den


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--docs", default="10000,100000")
    ap.add_argument("--backend", default="local", choices=["local", "ray"])
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs per size (median kept)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    warm_up()
    if a.backend == "ray":  # once, so that no run's time includes starting Ray
        import os

        import ray
        from phago.distributed.backends.ray import local_ray_options

        ray.init(**local_ray_options(max(os.cpu_count() or 1, a.shards)))
    sizes = [int(x) for x in a.docs.split(",")]
    runs: dict[int, list[dict[str, Any]]] = {d: [] for d in sizes}
    for k in range(max(1, a.repeat)):
        for d in sizes:
            runs[d].append(run_w3(d, backend=a.backend, shards=a.shards).row())
            print(f"# round {k + 1}, D={d}: {runs[d][-1]['seconds']:.1f} s", file=sys.stderr)
    rows = []
    for d in sizes:  # the median run, with the first round's peak memory (ru_maxrss only grows)
        row = dict(sorted(runs[d], key=lambda r: r["seconds"])[(len(runs[d]) - 1) // 2])
        row["peak_rss_mib"] = runs[d][0]["peak_rss_mib"]
        rows.append(row)
    steps = [
        fit_exponent([p["documents"], q["documents"]], [p["seconds"], q["seconds"]])
        for p, q in pairwise(rows)
    ]
    t_exp = fit_exponent([r["documents"] for r in rows], [r["seconds"] for r in rows])
    m_exp = fit_exponent([r["documents"] for r in rows], [r["peak_rss_mib"] for r in rows])
    if a.json:
        out = {
            "rows": rows,
            "runs_seconds": {d: [r["seconds"] for r in runs[d]] for d in sizes},
            "time_exponent": t_exp,
            "time_exponent_steps": steps,
            "memory_exponent": m_exp,
        }
        print(json.dumps(out, indent=2))
        return
    print("| D | seconds | ticks | docs/s | words/s | nodes | edges | peak RSS MiB | bytes/edge |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['documents']} | {r['seconds']:.1f} | {r['ticks']} | {r['docs_per_s']:.0f} | "
            f"{r['words_per_s']:.0f} | {r['nodes']} | {r['edges']} | {r['peak_rss_mib']:.0f} | "
            f"{r['bytes_per_edge']:.0f} |"
        )
    if a.repeat > 1:
        for d in sizes:
            print(f"D={d}: runs " + ", ".join(f"{r['seconds']:.1f}" for r in runs[d]) + " s")
    if len(sizes) > 1:
        print(f"time ~ D^{t_exp:.2f}, peak memory ~ D^{m_exp:.2f}")
    else:
        print("(one size: give two or more to --docs for a fit against D)")
    if steps:
        pairs = zip(pairwise(sizes), steps, strict=True)
        print("time exponent by step: " + ", ".join(f"{p}→{q}: {e:.2f}" for (p, q), e in pairs))


if __name__ == "__main__":
    main()
