"""Cost of :meth:`phago.graph.HebbianGraph.from_arrays`: node by node against in bulk.

``from_arrays`` builds a graph from columns; a ``DistributedColony`` calls it (through
``merge_owned_graphs``) to build its merged global graph after every change. It used to
create the nodes one ``_new_node`` call at a time; it now creates them all at once. This
script times both on the same synthetic columns: ``n`` nodes with distinct labels (one in
twenty an insight, and a few labels shared by a concept and an insight, as in a colony),
placed on the positions of a grid of documents (many nodes per spatial cell), ``4 n``
random edges and ``3 n`` provenance rows. "nodes" is the node part alone (no edges, no
provenance), "all" the whole call.

With ``--colony``, it also times the end effect: ``dc.graph`` of a 2-shard
``DistributedColony`` (local backend, default ``ColonyConfig``) that has digested
``--docs`` documents of :func:`phago.synthetic.synthetic_corpus` (``--words`` words each
from a ``--vocab``-word vocabulary) or, with ``--corpus sample``, of the sample corpus
repeated, rebuilt after one more document is ingested, with ``from_arrays`` node by
node (patched in) and in bulk.

Usage:
    python benchmarks/graph_from_arrays.py --nodes 3500 50000 500000 --repeats 5 --colony

Times are the median of ``--repeats`` runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from phago.errors import GraphError
from phago.graph import _TYPE_CODE, HebbianGraph
from phago.ids import node_id
from phago.types import NodeType


def per_node_from_arrays(
    *,
    node_ids: Sequence[int] | npt.NDArray[np.uint64],
    labels: Sequence[str],
    node_types: Sequence[str],
    access: Sequence[int] | npt.NDArray[np.int64],
    created: Sequence[int] | npt.NDArray[np.int64],
    positions: npt.NDArray[np.float64] | None,
    edge_a: Sequence[int] | npt.NDArray[np.uint64],
    edge_b: Sequence[int] | npt.NDArray[np.uint64],
    weight: Sequence[float] | npt.NDArray[np.float64],
    co_activations: Sequence[int] | npt.NDArray[np.int64],
    created_tick: Sequence[int] | npt.NDArray[np.int64],
    last_activated_tick: Sequence[int] | npt.NDArray[np.int64],
    prov_nodes: Sequence[int] | npt.NDArray[np.uint64] | None = None,
    prov_docs: Sequence[int] | npt.NDArray[np.uint64] | None = None,
    tentative_weight: float = 0.1,
    reinforcement: float = 0.1,
) -> HebbianGraph:
    """``from_arrays`` as it was: one ``_new_node`` call per node (the "before")."""
    g = HebbianGraph(tentative_weight, reinforcement)
    n = len(labels)
    pos = np.zeros((n, 2)) if positions is None else np.asarray(positions, dtype=np.float64)
    acc = np.asarray(access, dtype=np.int64)
    ct = np.asarray(created, dtype=np.int64)
    g._reserve_nodes(n)
    for i in range(n):
        nid = int(node_ids[i])
        if nid in g._index:
            raise GraphError(f"duplicate node id {nid}")
        code = _TYPE_CODE[NodeType(node_types[i])]
        g._new_node(
            nid,  # type: ignore[arg-type]
            labels[i],
            code,
            float(pos[i, 0]),
            float(pos[i, 1]),
            int(ct[i]),
            int(acc[i]),
        )
    w = np.asarray(weight, dtype=np.float64)
    if len(w):
        if not ((w > 0.0) & (w <= 1.0)).all():
            raise GraphError("edge weights must be in (0, 1]")
        a = g._indices_of_known(edge_a, len(w), "edge endpoint")
        b = g._indices_of_known(edge_b, len(w), "edge endpoint")
        if (a == b).any():
            raise GraphError("self-loops are not allowed")
        before = g._m
        g.wire_pairs(a, b, 0)
        if g._m - before != len(w):
            raise GraphError("duplicate edges")
        sl = slice(before, g._m)
        g._w[sl] = w
        g._co[sl] = np.asarray(co_activations, dtype=np.int32)
        g._ct[sl] = np.asarray(created_tick, dtype=np.int32)
        g._lt[sl] = np.asarray(last_activated_tick, dtype=np.int32)
    if prov_nodes is not None and prov_docs is not None and len(prov_nodes):
        idx = g._indices_of_known(prov_nodes, len(prov_nodes), "provenance node")
        g._append_provenance(idx, np.asarray(prov_docs, dtype=np.uint64))
    return g


def columns(n: int, seed: int = 0, edges: bool = True) -> dict[str, Any]:
    """Synthetic ``from_arrays`` columns of ``n`` nodes (see the module docstring)."""
    rng = np.random.default_rng(seed)
    labels = [f"w{i:07d}x" for i in range(n)]
    insight = rng.random(n) < 0.05
    shared = np.flatnonzero(insight)[::4]  # an insight that shares a concept's label
    for i in shared.tolist():
        labels[i] = labels[i - 1] if i else labels[i]
    types = np.where(insight, NodeType.INSIGHT.value, NodeType.CONCEPT.value).tolist()
    ids = np.array([node_id(t, lab) for t, lab in zip(types, labels, strict=True)], np.uint64)
    keep = np.sort(np.unique(ids, return_index=True)[1])
    ids, labels, types = ids[keep], [labels[i] for i in keep], [types[i] for i in keep]
    n = len(ids)
    order = np.argsort(ids, kind="stable")  # merge_owned_graphs orders nodes by id
    ids, labels, types = ids[order], [labels[i] for i in order], [types[i] for i in order]
    docs = max(1, n // 20)
    cols = int(np.ceil(np.sqrt(docs)))
    doc = rng.integers(0, docs, size=n)
    pos = np.stack([5.0 * (doc % cols), 5.0 * (doc // cols)], axis=1).astype(np.float64)
    m = 4 * n if edges and n > 1 else 0
    a = rng.integers(0, max(n, 1), size=int(m * 1.1) + 1)
    b = rng.integers(0, max(n, 1), size=int(m * 1.1) + 1)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keys = np.unique((lo[lo != hi] << 32) | hi[lo != hi])[:m]
    ea, eb = keys >> 32, keys & 0xFFFFFFFF
    m = len(keys)
    p = 3 * n if edges else 0
    n_or_1 = max(n, 1)
    return {
        "node_ids": ids,
        "labels": labels,
        "node_types": types,
        "access": rng.integers(1, 50, size=n),
        "created": rng.integers(0, 1000, size=n),
        "positions": pos,
        "edge_a": ids[ea],
        "edge_b": ids[eb],
        "weight": rng.uniform(0.1, 1.0, size=m),
        "co_activations": rng.integers(1, 10, size=m),
        "created_tick": rng.integers(0, 100, size=m),
        "last_activated_tick": rng.integers(100, 200, size=m),
        "prov_nodes": ids[rng.integers(0, n_or_1, size=p)],
        "prov_docs": rng.integers(1, 2**63, size=p).astype(np.uint64),
    }


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times)


def bench_columns(sizes: Sequence[int], repeats: int) -> list[dict[str, Any]]:
    """Node-only and whole-call times of both implementations, per size."""
    rows = []
    for n in sizes:
        reps = max(1, repeats if n <= 100_000 else min(repeats, 3))
        row: dict[str, Any] = {"nodes": n}
        for part, edges in (("nodes", False), ("all", True)):
            cols = columns(n, edges=edges)
            row[f"{part}_before_ms"] = median_ms(partial(per_node_from_arrays, **cols), reps)
            row[f"{part}_after_ms"] = median_ms(partial(HebbianGraph.from_arrays, **cols), reps)
        rows.append(row)
    return rows


def bench_colony(n_docs: int, repeats: int, corpus: str, vocab: int, words: int) -> dict[str, Any]:
    """``dc.graph`` after one more document, node by node and in bulk."""
    from phago import ColonyConfig
    from phago.corpus import load_sample_corpus
    from phago.distributed import DistributedColony
    from phago.synthetic import synthetic_corpus, w1_layout

    total = n_docs + 2 * repeats + 4
    if corpus == "sample":  # the sample corpus over and over, each copy titled apart
        sample = load_sample_corpus()
        picked = (sample[k % len(sample)] for k in range(total))
        docs = [(f"{d.title} #{k}", d.content) for k, d in enumerate(picked)]
    else:
        docs = synthetic_corpus(total, vocab=vocab, words_per_doc=words)
    pos = w1_layout(len(docs))
    cfg = ColonyConfig()
    out: dict[str, Any] = {"documents": n_docs, "corpus": corpus}
    with DistributedColony(num_shards=2, config=cfg, seed=0) as dc:
        dc.ingest_documents([(t, c, p) for (t, c), p in zip(docs[:n_docs], pos, strict=False)])
        dc.spawn_digesters(4)
        dc.run_until_digested(5000)
        g = dc.graph
        out["graph_nodes"], out["graph_edges"] = g.node_count, g.edge_count
        spare = iter(range(n_docs, len(docs)))
        bulk = HebbianGraph.__dict__["from_arrays"]  # the classmethod itself

        def changed_graph() -> object:
            k = next(spare)
            dc.ingest_document(docs[k][0], docs[k][1], pos[k])  # the cached graph is stale
            t0 = time.perf_counter()
            _ = dc.graph
            return time.perf_counter() - t0

        for name, impl in (("before", staticmethod(per_node_from_arrays)), ("after", bulk)):
            HebbianGraph.from_arrays = impl  # type: ignore[method-assign]
            try:
                changed_graph()  # warm
                times = [float(changed_graph()) for _ in range(repeats)]  # type: ignore[arg-type]
            finally:
                HebbianGraph.from_arrays = bulk  # type: ignore[method-assign]
            out[f"dc_graph_{name}_ms"] = 1000.0 * statistics.median(times)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Print the tables (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--nodes", type=int, nargs="+", default=[3500, 50_000, 500_000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--colony", action="store_true", help="also time dc.graph on a colony")
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--corpus", choices=["synthetic", "sample"], default="synthetic")
    ap.add_argument("--vocab", type=int, default=20_000, help="synthetic vocabulary size")
    ap.add_argument("--words", type=int, default=60, help="words per synthetic document")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = bench_columns(args.nodes, args.repeats)
    colony = (
        bench_colony(args.docs, args.repeats, args.corpus, args.vocab, args.words)
        if args.colony
        else None
    )
    if args.json:
        print(json.dumps({"from_arrays": rows, "colony": colony}, indent=2))
        return
    print(
        f"{'nodes':>9} | {'nodes only: before':>18} {'after':>9} | {'all: before':>12} {'after':>9}"
    )
    for r in rows:
        print(
            f"{r['nodes']:>9,} | {r['nodes_before_ms']:>15.1f} ms {r['nodes_after_ms']:>6.1f} ms"
            f" | {r['all_before_ms']:>9.1f} ms {r['all_after_ms']:>6.1f} ms"
        )
    if colony is not None:
        print(
            f"\ndc.graph after a change, 2 shards, "
            f"{colony['documents']:,} {colony['corpus']} documents "
            f"({colony['graph_nodes']:,} nodes, {colony['graph_edges']:,} edges): "
            f"before {colony['dc_graph_before_ms']:.1f} ms, "
            f"after {colony['dc_graph_after_ms']:.1f} ms"
        )


if __name__ == "__main__":
    main()
