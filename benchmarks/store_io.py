"""Persistence benchmark: save and load time and file size of a colony store.

The colony state is built synthetically (digesting 100k documents would take far longer than
saving them): documents of about 1,800 characters of Zipf-distributed words (the size of the
phago-corpus documents), a graph shaped like ``ColonyConfig.for_large_corpora()`` output
(about 2 new concepts per document, average degree 24 under the degree cap of 30, 32
provenance rows per document), 100 digesters with 2,000-term vocabularies, live signals and
traces. Times are the median of ``--repeats`` runs; ``load`` is ``phago.store.load`` (read,
verify checksums, rebuild the colony) and ``read`` only reads and verifies.

Usage:
    python benchmarks/store_io.py --docs 10000 100000 --repeats 3 [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from phago import Colony, ColonyConfig, Digester, Position
from phago.state import AgentState, ColonyState, GraphState, SubstrateState, capture, restore
from phago.store import load, load_state, save_state


def synthetic_state(n_docs: int, seed: int = 0) -> ColonyState:
    """A consistent colony state with ``n_docs`` digested documents (see the module docstring)."""
    rng = np.random.default_rng(seed)
    vocab = [f"term{i:06d}" for i in range(max(5000, 2 * n_docs + 20000))]
    n_nodes = len(vocab)
    zipf = np.minimum(rng.zipf(1.3, size=n_docs * 165), n_nodes) - 1
    words = np.array(vocab)[zipf]
    contents = [" ".join(words[i * 165 : (i + 1) * 165]) for i in range(n_docs)]
    doc_ids = np.unique(rng.integers(1, 2**63, size=n_docs * 2, dtype=np.int64).astype(np.uint64))[
        :n_docs
    ]
    rng.shuffle(doc_ids)
    cols = 32
    doc_pos = np.stack(
        [5.0 * (np.arange(n_docs) % cols), 5.0 * (np.arange(n_docs) // cols)], axis=1
    ).astype(np.float64)
    m = 12 * n_nodes
    a = rng.integers(0, n_nodes, size=int(m * 1.2))
    b = rng.integers(0, n_nodes, size=int(m * 1.2))
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keys = np.unique((lo[lo != hi] << 32) | hi[lo != hi])[:m]
    rng.shuffle(keys)
    m = len(keys)
    prov_n = 32 * n_docs
    base = Colony(ColonyConfig.for_large_corpora(), seed=seed)
    agents = []
    for j in range(100):
        d = Digester(Position(float(j), 0.0))
        base.spawn(d)
        d.known_vocabulary = set(rng.choice(vocab, 2000, replace=False).tolist())
        d.presented = {t: int(rng.integers(1, 9)) for t in rng.choice(vocab, 500, replace=False)}
        agents.append(AgentState("digester", d.state_dict()))
    proto = capture(base)
    n_sig, n_tr = 2000, 1000
    sig: dict[str, np.ndarray] = {
        "x": rng.uniform(0, 160, n_sig),
        "y": rng.uniform(0, 160, n_sig),
        "intensity": rng.uniform(0.02, 1, n_sig),
        "kind": rng.integers(0, 3, n_sig).astype(np.int8),
        "tick": rng.integers(0, 500, n_sig),
        "owner": rng.integers(0, 2**63, n_sig).astype(np.uint64),
        "ref": np.full(n_sig, -1, dtype=np.int64),
    }
    tr = {**{k: v[:n_tr].copy() for k, v in sig.items()}, "ref": np.full(n_tr, -1, dtype=np.int64)}
    graph = GraphState(
        tentative_weight=0.1,
        reinforcement=0.1,
        cell_size=15.0,
        node_types=proto.graph.node_types,
        ids=np.unique(rng.integers(1, 2**63, size=n_nodes * 2).astype(np.uint64))[:n_nodes],
        labels=vocab,
        types=np.zeros(n_nodes, dtype=np.int8),
        access=rng.integers(1, 50, n_nodes),
        created=rng.integers(0, 500, n_nodes),
        pos=rng.uniform(0, 5.0 * n_docs / cols, size=(n_nodes, 2)),
        prov_node=rng.integers(0, n_nodes, prov_n),
        prov_doc=doc_ids[np.repeat(np.arange(n_docs), 32)],
        edge_a=(keys >> 32).astype(np.int64),
        edge_b=(keys & 0xFFFFFFFF).astype(np.int64),
        weight=rng.uniform(0.05, 1.0, m),
        co_activations=rng.integers(1, 20, m),
        edge_created=rng.integers(0, 500, m),
        edge_last=rng.integers(0, 500, m),
    )
    substrate = SubstrateState(
        tick=500,
        cell_size=10.0,
        signal_types=proto.substrate.signal_types,
        trace_types=proto.substrate.trace_types,
        doc_ids=doc_ids,
        doc_titles=[f"doc-{i}" for i in range(n_docs)],
        doc_contents=contents,
        doc_pos=doc_pos,
        doc_digested=np.ones(n_docs, dtype=np.bool_),
        signals=sig,
        traces=tr,
        trace_payloads=[],
    )
    return ColonyState(
        config=proto.config,
        seed=seed,
        rng=proto.rng,
        total_spawned=100,
        total_died=0,
        layout_next=n_docs,
        graph=graph,
        substrate=substrate,
        agents=agents,
        fitness=proto.fitness,
    )


def _median(f: Any, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def bench(n_docs: int, repeats: int) -> dict[str, Any]:
    """Save/read/load times (s) and file size (bytes) for ``n_docs`` documents."""
    state = synthetic_state(n_docs)
    restore(state)  # validate the synthetic state once
    with tempfile.TemporaryDirectory(dir=os.environ.get("PHAGO_BENCH_TMP")) as d:
        path = Path(d) / "colony.db"
        save_s, _ = _median(lambda: save_state(state, path), repeats)
        read_s, _ = _median(lambda: load_state(path), repeats)
        load_s, colony = _median(lambda: load(path), repeats)
        size = path.stat().st_size
    return {
        "documents": n_docs,
        "nodes": state.graph.node_count,
        "edges": state.graph.edge_count,
        "text_mb": round(sum(len(c) for c in state.substrate.doc_contents) / 1e6, 1),
        "save_s": round(save_s, 2),
        "read_s": round(read_s, 2),
        "load_s": round(load_s, 2),
        "size_mb": round(size / 1e6, 1),
        "loaded_documents": colony.stats().documents_total,
    }


def main() -> None:
    """Run the benchmark and print a Markdown table (or JSON)."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--docs", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    rows = [bench(n, args.repeats) for n in args.docs]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| documents | nodes | edges | text MB | save s | read s | load s | file MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['documents']:,} | {r['nodes']:,} | {r['edges']:,} | {r['text_mb']} | "
            f"{r['save_s']} | {r['read_s']} | {r['load_s']} | {r['size_mb']} |"
        )


if __name__ == "__main__":
    main()
