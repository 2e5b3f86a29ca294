"""Agent-memory loop: "add a note, digest it, query", with the document index built from
scratch each time against refreshed incrementally.

For each corpus size: a W3 synthetic corpus (``phago.synthetic``: Zipf vocabulary, 150-word
documents) is digested by one digester per 100 documents (``for_large_corpora``), then

* **full build**: :meth:`DocumentIndex.build` from scratch over every digested document
  (best of ``--builds``);
* ``--notes`` times per way, alternating: ingest one short note (a few words of a random
  document plus a word of its own), digest it (:func:`phago.ingest.digest_new_documents`,
  one digester), and query (``retrieve(..., method)``, a few words of the note). The
  *scratch* way empties the cached document index before the query (what every query after
  a digestion cost before the index was incremental); the *incremental* way refreshes it.
  Median milliseconds of the whole step, and of its refresh-and-query part alone.

Usage:
    python benchmarks/query_incremental.py [--sizes 1000,3000,10000] [--notes 15]
                                           [--method bm25] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from phago import Colony, ColonyConfig, Digester, Position
from phago.ingest import digest_new_documents
from phago.query import retrieve
from phago.query.index import DocumentIndex, query_index
from w3common import w3_items


def digested_colony(n: int, seed: int = 0) -> tuple[Colony, list[tuple[str, str, Any]]]:
    """W3's ``n`` documents, digested by one digester per 100 documents."""
    items = w3_items(n, seed)
    colony = Colony(ColonyConfig.for_large_corpora(), seed=seed)
    colony.ingest_documents(items)
    agents = max(1, n // 100)
    step = n // agents
    for j in range(agents):
        x, y = items[j * step][2]
        colony.spawn(Digester(Position(x + 1, y + 1), seed=j))
    colony.run_until_digested(5000)
    return colony, items


def note_step(
    colony: Colony,
    items: list[tuple[str, str, Any]],
    rng: np.random.Generator,
    k: int,
    *,
    scratch: bool,
    method: str,
) -> tuple[float, float]:
    """One "add a note, digest it, query" step: (whole ms, refresh-and-query ms)."""
    _, text, (x, y) = items[int(rng.integers(len(items)))]
    words = text.split()
    start = int(rng.integers(0, len(words) - 8))
    note = " ".join([*words[start : start + 8], f"note{k}x"])
    t0 = time.perf_counter()
    doc = colony.ingest_document(f"note {k}", note, Position(x + 0.5, y + 0.5))
    digest_new_documents(colony, [doc], digesters=1, max_ticks=500)
    t1 = time.perf_counter()
    if scratch:
        query_index(colony)._cache.docs.clear()  # as if built from scratch
    retrieve(colony, " ".join(words[start : start + 3]), 10, method)
    t2 = time.perf_counter()
    return (t2 - t0) * 1e3, (t2 - t1) * 1e3


def measure(n: int, notes: int, builds: int, method: str) -> dict[str, float]:
    """The figures of one corpus size."""
    t = time.perf_counter()
    colony, items = digested_colony(n)
    digest_s = time.perf_counter() - t
    full = []
    for _ in range(builds):
        t = time.perf_counter()
        DocumentIndex.build(colony, colony.graph)
        full.append(time.perf_counter() - t)
    rng = np.random.default_rng(n)
    retrieve(colony, "warm up", 10, method)
    note_step(colony, items, rng, -1, scratch=False, method=method)  # warm-up
    steps: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for k in range(notes):
        for scratch in (True, False):
            steps[scratch].append(
                note_step(colony, items, rng, 2 * k + scratch, scratch=scratch, method=method)
            )

    def med(scratch: bool, part: int) -> float:
        return statistics.median(s[part] for s in steps[scratch])

    di = query_index(colony).documents(colony)
    return {
        "documents": n,
        "indexed": di.n_docs,
        "digest_s": digest_s,
        "full_build_ms": min(full) * 1e3,
        "scratch_step_ms": med(True, 0),
        "incremental_step_ms": med(False, 0),
        "scratch_query_ms": med(True, 1),
        "incremental_query_ms": med(False, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="1000,3000,10000")
    ap.add_argument("--notes", type=int, default=15, help="steps per way and size")
    ap.add_argument("--builds", type=int, default=3, help="full builds timed (best kept)")
    ap.add_argument("--method", default="bm25", help="retrieval method of the query")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [measure(int(s), args.notes, args.builds, args.method) for s in args.sizes.split(",")]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"method {args.method}; medians of {args.notes} notes per way; ms")
    head = ("docs", "full build", "scratch step", "incr. step", "scratch q", "incr. q")
    print("".join(f"{h:>14}" for h in head))
    for r in rows:
        cells = (
            f"{r['documents']:,}",
            f"{r['full_build_ms']:.1f}",
            f"{r['scratch_step_ms']:.1f}",
            f"{r['incremental_step_ms']:.1f}",
            f"{r['scratch_query_ms']:.2f}",
            f"{r['incremental_query_ms']:.2f}",
        )
        print("".join(f"{c:>14}" for c in cells))
    print("step: ingest + digest + query; q: the refresh-and-query part of the step")


if __name__ == "__main__":
    main()
