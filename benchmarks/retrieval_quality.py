"""Retrieval quality per method (WORKLOADS.md, Retrieval), with ablations of ``fusion``.

Colonies are built as the reference's bio-rag demo builds them: documents sorted by file
name on a 5-column grid with spacing 5, one digester (max_idle 120) per four documents at
documents 0, 4, 8, …, 200 ticks (``phago.query.build_retrieval_colony``).

Query sets:

* ``sample/tuning``: the bundled sample corpus with ``sample_queries.json``, the only set the
  methods' settings were tuned on;
* ``sample/held-out``: the same colony with ``sample_queries_heldout.json``;
* ``phago-corpus``: ``--corpus`` (the shared 100-document corpus) with ``--queries``:
  ``benchmarks/queries/phago_corpus_queries.json`` (24 queries written from the documents
  before any method was run on them) by default, or ``phago_corpus_queries_fresh.json`` (24
  more, from other documents, written the same way in the thirty-sixth session).

Usage:
    python benchmarks/retrieval_quality.py --corpus ../shared/data/phago-corpus [--shards 4]

Prints one Markdown table per query set: P@5, P@10, R@5, R@10, MRR, NDCG@10 and the
reference's P@5 (divided by the number returned), then the fusion ablations and fusion's
NDCG@10 at each of ``--graph-weights``.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any, TypedDict

from phago.corpus import load_sample_corpus, load_text_directory, sample_queries
from phago.query import METHODS, build_retrieval_colony, evaluate, parse_queries
from phago.query.base import GraphSource, RetrievedConcept
from phago.query.fusion import fusion
from phago.query.metrics import aggregate, score_query

HERE = Path(__file__).resolve().parent
COLUMNS = ("p_at_5", "p_at_10", "r_at_5", "r_at_10", "mrr", "ndcg_at_10", "p_at_5_returned")
HEADER = "| method | P@5 | P@10 | R@5 | R@10 | MRR | NDCG@10 | P@5 (returned) |"


class _Weights(TypedDict, total=False):
    """The fusion weights an ablation sets (keywords of ``fusion``)."""

    seed_weight: float
    document_weight: float
    graph_weight: float


ABLATIONS: dict[str, _Weights] = {
    "fusion": {},
    "fusion − graph (seed + documents)": {"graph_weight": 0.0},
    "fusion − documents (seed + graph)": {"document_weight": 0.0},
    "fusion − seeds (documents + graph)": {"seed_weight": 0.0},
}


def table(rows: dict[str, Any]) -> str:
    lines = [HEADER, "|---|" + "---:|" * len(COLUMNS)]
    for name, scores in rows.items():
        vals = " | ".join(f"{getattr(scores, c):.3f}" for c in COLUMNS)
        lines.append(f"| {name} | {vals} |")
    return "\n".join(lines)


def ablations(source: GraphSource, queries: list[Any]) -> dict[str, Any]:
    out = {}
    for name, kw in ABLATIONS.items():
        fn = partial(fusion, **kw)
        per = []
        for q in queries:
            res: list[RetrievedConcept] = fn(source, q.query, 10)
            per.append(score_query(q.query, [r.label for r in res], q.relevant))
        out[name] = aggregate(per)
    return out


def graph_weight_sweep(
    source: GraphSource, queries: list[Any], weights: list[float]
) -> dict[float, float]:
    """NDCG@10 of fusion at each graph weight (the other weights at their defaults)."""
    out = {}
    for w in weights:
        per = [
            score_query(
                q.query, [r.label for r in fusion(source, q.query, 10, graph_weight=w)], q.relevant
            )
            for q in queries
        ]
        out[w] = aggregate(per).ndcg_at_10
    return out


def report(
    name: str, source: GraphSource, raw: object, results: dict[str, Any], weights: list[float]
) -> None:
    queries = parse_queries(raw)
    ev = evaluate(source, queries)
    g = source.graph
    digested = sum(1 for d in source.documents() if d.digested)
    print(
        f"\n### {name}: {len(queries)} queries, {g.node_count} nodes, {g.edge_count} edges, "
        f"{digested} documents digested; best by NDCG@10: {ev.best}\n"
    )
    print(table({m: r.scores for m, r in ev.methods.items()}))
    abl = ablations(source, queries)
    print("\nAblations of fusion:\n")
    print(table(abl))
    sweep = graph_weight_sweep(source, queries, weights)
    print(
        "\nFusion's NDCG@10 by graph weight: "
        + ", ".join(f"{w:g}: {v:.3f}" for w, v in sweep.items())
    )
    results[name] = {
        "graph_weight_ndcg_at_10": {str(w): v for w, v in sweep.items()},
        "methods": {m: r.scores.to_dict() for m, r in ev.methods.items()},
        "ablations": {m: s.to_dict() for m, s in abl.items()},
        "best": ev.best,
        "nodes": g.node_count,
        "edges": g.edge_count,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=None, help="the shared phago corpus directory")
    ap.add_argument("--queries", type=Path, default=HERE / "queries" / "phago_corpus_queries.json")
    ap.add_argument("--shards", type=int, default=1, help="build distributed colonies (>1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", dest="json_out", default=None, help="also write figures here")
    ap.add_argument(
        "--graph-weights",
        default="0,0.1,0.25,0.5",
        help="fusion's graph weights to compare (NDCG@10 of each, per query set)",
    )
    args = ap.parse_args(argv)
    results: dict[str, Any] = {"methods": list(METHODS), "shards": args.shards}
    build = partial(build_retrieval_colony, shards=args.shards, seed=args.seed)
    weights = [float(w) for w in args.graph_weights.split(",") if w]

    sample = build([(d.title, d.content) for d in load_sample_corpus()])
    try:
        report("sample/tuning", sample, sample_queries(), results, weights)
        report("sample/held-out", sample, sample_queries(heldout=True), results, weights)
    finally:
        getattr(sample, "close", lambda: None)()
    if args.corpus is not None:
        docs = load_text_directory(args.corpus)
        if not docs:
            print(f"no .txt documents in {args.corpus}", file=sys.stderr)
            return 1
        shared = build([(d.title, d.content) for d in docs])
        try:
            raw = json.loads(args.queries.read_text(encoding="utf-8"))
            report("phago-corpus", shared, raw, results, weights)
        finally:
            getattr(shared, "close", lambda: None)()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
