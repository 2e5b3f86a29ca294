"""Query latency per retrieval method on a graph of over a million edges, local and sharded.

The graph: a synthetic corpus generated from a seed (W3-style: a Zipf(1.1) vocabulary split
over 8 topics, documents of 150 words), digested by real digesters (one per 100 documents)
with every keyword wired to those within a 10-word window, edge decay and the degree cap
off, so the graph keeps over a million edges (2,000 documents give ~42k nodes and ~1.24M
edges). The same corpus is then digested by a ``DistributedColony`` with ``--shards`` shards
(local backend) and queried through its merged global graph.

Queries: ``--queries`` texts, each 1–4 words drawn from one random document (seeded), so
their terms co-occur like real questions. Every method runs once on every query before
timing (that first pass builds the cached indexes; its cost is reported as "index build"),
then each query is timed ``--repeat`` times.

Usage:
    python benchmarks/query_latency.py --docs 2000 --shards 4 --queries 300

Prints one table per colony (p50, p99, mean, max in milliseconds per method) and, with
``--json``, the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from typing import Any

import numpy as np

from phago import Colony, ColonyConfig, Digester, Position
from phago.query import METHODS, retrieve
from phago.query.base import GraphSource
from phago.query.index import DEFAULT_FANOUT, query_index


def synthetic_corpus(
    n_docs: int, vocab: int = 200_000, topics: int = 8, words: int = 150, seed: int = 0
) -> list[tuple[str, str]]:
    """``n_docs`` documents of ``words`` Zipf(1.1) words; 70 % from the document's topic."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, vocab // topics + 1, dtype=np.float64)
    p = ranks**-1.1
    p /= p.sum()
    docs = []
    for d in range(n_docs):
        local = rng.choice(len(ranks), size=words, p=p)
        shared = rng.random(words) < 0.3
        ids = np.where(shared, local, local * topics + d % topics)
        docs.append((f"doc{d:06d}", " ".join(f"w{i}x" for i in ids.tolist())))
    return docs


def bench_config() -> ColonyConfig:
    """Every keyword, 10-word wiring window, no edge decay, no degree cap."""
    return ColonyConfig(edge_decay_rate=0.0, max_edge_degree=None, wiring_window=10)


def positions(n: int) -> list[Position]:
    cols = math.ceil(math.sqrt(n))
    return [Position((i % cols) * 5.0, (i // cols) * 5.0) for i in range(n)]


def build_local(docs: list[tuple[str, str]], seed: int) -> Colony:
    """Digest ``docs`` with one digester per 100 documents."""
    colony = Colony(bench_config(), seed=seed)
    pos = positions(len(docs))
    for (title, text), p in zip(docs, pos, strict=True):
        colony.ingest_document(title, text, p)
    for j in range(0, len(docs), 100):
        colony.spawn(Digester(Position(pos[j].x + 1, pos[j].y + 1), seed=j))
    colony.run_until_digested(5000)
    return colony


def build_distributed(docs: list[tuple[str, str]], shards: int, seed: int) -> Any:
    """The same corpus on a ``DistributedColony`` (local backend)."""
    from phago.distributed import DistributedColony

    dc = DistributedColony(num_shards=shards, config=bench_config(), seed=seed)
    dc.ingest_documents([(t, c, p) for (t, c), p in zip(docs, positions(len(docs)), strict=True)])
    dc.spawn_digesters(max(1, math.ceil(len(docs) / 100 / shards)))
    dc.run_until_digested(5000)
    return dc


def make_queries(docs: list[tuple[str, str]], n: int, seed: int) -> list[str]:
    """``n`` queries of 1–4 words taken from random documents."""
    rng = np.random.default_rng(seed + 1)
    out = []
    for _ in range(n):
        words = docs[int(rng.integers(len(docs)))][1].split()
        k = int(rng.integers(1, 5))
        start = int(rng.integers(0, len(words) - k))
        out.append("what about " + " ".join(words[start : start + k]) + "?")
    return out


def percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))]


def time_methods(
    source: GraphSource, queries: list[str], methods: list[str], repeat: int
) -> dict[str, dict[str, float]]:
    """Warm every method (index build timed), then time each query ``repeat`` times."""
    t0 = time.perf_counter()
    qi = query_index(source)
    qi.labels()
    t1 = time.perf_counter()
    qi.adjacency().pruned(DEFAULT_FANOUT)
    t2 = time.perf_counter()
    qi.documents(source)
    t3 = time.perf_counter()
    builds = {"labels_s": t1 - t0, "adjacency_s": t2 - t1, "documents_s": t3 - t2}
    # the first query after the graph changes pays these (cached until the next change)
    print(
        "  index build: labels {labels_s:.2f}s, adjacency {adjacency_s:.2f}s, "
        "documents {documents_s:.2f}s".format(**builds)
    )
    out: dict[str, dict[str, float]] = {"index_build": builds}
    for m in methods:
        for q in queries:  # warm-up pass (also JIT, first-touch of caches)
            retrieve(source, q, 10, m)
        times = []
        lengths = []
        for _ in range(repeat):
            for q in queries:
                s = time.perf_counter()
                res = retrieve(source, q, 10, m)
                times.append((time.perf_counter() - s) * 1000.0)
                lengths.append(len(res))
        out[m] = {
            "p50_ms": percentile(times, 50),
            "p99_ms": percentile(times, 99),
            "mean_ms": statistics.fmean(times),
            "max_ms": max(times),
            "mean_results": statistics.fmean(lengths),
        }
    return out


def print_table(title: str, figures: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"  {'method':<11}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'max ms':>9}{'results':>9}")
    for m, f in figures.items():
        if m == "index_build":
            continue
        print(
            f"  {m:<11}{f['p50_ms']:>9.3f}{f['p99_ms']:>9.3f}{f['mean_ms']:>9.3f}"
            f"{f['max_ms']:>9.2f}{f['mean_results']:>9.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--docs", type=int, default=2000, help="synthetic documents (default 2000)")
    ap.add_argument("--shards", type=int, default=4, help="shards of the distributed run (0: skip)")
    ap.add_argument("--queries", type=int, default=300, help="distinct queries (default 300)")
    ap.add_argument("--repeat", type=int, default=1, help="timed passes over the queries")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", dest="json_out", default=None, help="also write figures here")
    args = ap.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    docs = synthetic_corpus(args.docs, seed=args.seed)
    queries = make_queries(docs, args.queries, args.seed)
    report: dict[str, Any] = {"docs": args.docs, "queries": len(queries), "repeat": args.repeat}

    t = time.perf_counter()
    colony = build_local(docs, args.seed)
    g = colony.graph
    deg = g.degrees()
    print(
        f"local colony: {g.node_count} nodes, {g.edge_count} edges, max degree {int(deg.max())}, "
        f"{colony.stats().documents_digested}/{len(docs)} digested, built in "
        f"{time.perf_counter() - t:.1f}s"
    )
    if g.edge_count < 1_000_000:
        print("warning: fewer than 1,000,000 edges; raise --docs", file=sys.stderr)
    report["local"] = {"nodes": g.node_count, "edges": g.edge_count}
    report["local"]["methods"] = local = time_methods(colony, queries, methods, args.repeat)
    print_table("local (one colony)", local)
    del colony

    if args.shards > 0:
        t = time.perf_counter()
        dc = build_distributed(docs, args.shards, args.seed)
        try:
            mg = dc.graph
            print(
                f"\ndistributed colony: {args.shards} shards, {mg.node_count} nodes, "
                f"{mg.edge_count} edges (merged), built in {time.perf_counter() - t:.1f}s"
            )
            report["distributed"] = {
                "shards": args.shards,
                "nodes": mg.node_count,
                "edges": mg.edge_count,
                "methods": time_methods(dc, queries, methods, args.repeat),
            }
            print_table(f"distributed ({args.shards} shards)", report["distributed"]["methods"])
        finally:
            dc.close()
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
