"""The first query of a colony: building the BM25 document index over every digested
document, with documents' terms counted in Python and by the Numba kernel.

For each corpus size a W3 colony (``w3common``: one digester per 100 documents, local
shards) is digested, then the document index is built from scratch (the cached one dropped)
``--builds`` times per way, alternating, and the first ``retrieve`` (the default method,
fusion) timed. *python* counts every document's terms with :func:`phago.text.tokenize`
(one Python string per token); *kernel* with ``count_ascii_terms`` (Numba; the kernel is
loaded, as in a process that digested its documents). *counting* is the term counting alone
(:meth:`phago.query.term_counts.Vocabulary.count` over the documents' texts). Best of the
builds, seconds.

Usage:
    python benchmarks/query_first_build.py [--sizes 10000,30000] [--shards 2] [--builds 3]
                                           [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import phago.query.index as qindex
from phago.query import retrieve, term_counts
from phago.query.term_counts import Vocabulary
from w3common import w3_colony, w3_items

WAYS = {"python": 1 << 62, "kernel": 0}


def first_query(dc: Any, way: str) -> float:
    """Seconds of a retrieve that builds the document index from scratch."""
    term_counts.KERNEL_MIN_BYTES = term_counts.KERNEL_MIN_BYTES_LOADED = WAYS[way]
    qindex._CACHES.pop(dc.graph, None)  # no cached index, and none to carry over
    qindex._LAST.pop(dc, None)
    start = time.perf_counter()
    retrieve(dc, "protein cell membrane", k=5)
    return time.perf_counter() - start


def counting(texts: list[str], way: str) -> float:
    start = time.perf_counter()
    Vocabulary().count(texts, kernel=way == "kernel")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,30000")
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--builds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    for n in (int(x) for x in args.sizes.split(",")):
        items = w3_items(n)
        dc = w3_colony(items, args.shards)
        dc.run_until_digested(5000)
        texts = [f"{t}\n{c}" for t, c, _ in items]
        Vocabulary().count(texts[:50], kernel=True)  # (load the kernel)
        best: dict[str, list[float]] = {w: [] for w in WAYS}
        count_best: dict[str, list[float]] = {w: [] for w in WAYS}
        for _ in range(args.builds):
            for way in WAYS:
                best[way].append(first_query(dc, way))
                count_best[way].append(counting(texts, way))
        dc.close()
        megabytes = sum(map(len, texts)) / 1e6
        for way in WAYS:
            rows.append(
                {
                    "docs": n,
                    "way": way,
                    "text_mb": round(megabytes, 1),
                    "first_query_s": round(min(best[way]), 3),
                    "counting_s": round(min(count_best[way]), 3),
                }
            )
    print(f"first query of a {args.shards}-shard W3 colony; best of {args.builds}; seconds")
    print(f"{'docs':>8} {'way':>8} {'text MB':>8} {'first query':>12} {'counting':>9}")
    for r in rows:
        print(
            f"{r['docs']:>8,} {r['way']:>8} {r['text_mb']:>8} {r['first_query_s']:>12.3f}"
            f" {r['counting_s']:>9.3f}"
        )
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
