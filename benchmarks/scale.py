"""Workload W3 (WORKLOADS.md) over growing corpora, with a fit of time and memory against D.

Usage:
    python benchmarks/scale.py [--docs 10000,100000] [--backend local] [--shards 1] [--json]

Each size generates the synthetic corpus (untimed), then times ingest → digested → wired with
``ColonyConfig.for_large_corpora()``. Prints documents/s, words/s, peak RSS, bytes per edge and
the exponents of a log-log least-squares fit of seconds and of peak RSS against D (1.0 is
linear growth).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

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
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    warm_up()
    rows = []
    for d in (int(x) for x in a.docs.split(",")):
        rows.append(run_w3(d, backend=a.backend, shards=a.shards).row())
        print(f"# D={d}: {rows[-1]['seconds']:.1f} s", file=sys.stderr)
    t_exp = fit_exponent([r["documents"] for r in rows], [r["seconds"] for r in rows])
    m_exp = fit_exponent([r["documents"] for r in rows], [r["peak_rss_mib"] for r in rows])
    if a.json:
        print(
            json.dumps({"rows": rows, "time_exponent": t_exp, "memory_exponent": m_exp}, indent=2)
        )
        return
    print("| D | seconds | ticks | docs/s | words/s | nodes | edges | peak RSS MiB | bytes/edge |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['documents']} | {r['seconds']:.1f} | {r['ticks']} | {r['docs_per_s']:.0f} | "
            f"{r['words_per_s']:.0f} | {r['nodes']} | {r['edges']} | {r['peak_rss_mib']:.0f} | "
            f"{r['bytes_per_edge']:.0f} |"
        )
    print(f"time ~ D^{t_exp:.2f}, peak memory ~ D^{m_exp:.2f}")


if __name__ == "__main__":
    main()
