"""Workload W1 (WORKLOADS.md): single-colony throughput on a corpus directory.

Usage:
    python benchmarks/colony_throughput.py --corpus ../shared/data/phago-corpus -R 10 -A 50 -T 300

Prints one table row: ticks/s, documents digested, documents/s, words/s, nodes, edges,
agents alive/died and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
from pathlib import Path

from phago import Colony, ColonyConfig, Digester, Position


def load_corpus(path: Path, repeats: int) -> list[tuple[str, str]]:
    """The corpus files sorted by name, repeated; copy r > 0 gets title suffix ``_r{r}``."""
    files = sorted(p for p in path.iterdir() if p.suffix == ".txt")
    if not files:
        sys.exit(f"no .txt files in {path}")
    base = [(p.stem, p.read_text(encoding="utf-8")) for p in files]
    docs = []
    for r in range(repeats):
        for title, text in base:
            docs.append((title if r == 0 else f"{title}_r{r}", text))
    return docs


def warm_up() -> None:
    """Compile (or load from cache) the Numba kernels so the timing excludes JIT time."""
    c = Colony(seed=0)
    c.ingest_document("w", "alpha beta gamma delta alpha beta", Position(0, 0))
    c.spawn(Digester(Position(0, 0)))
    c.run(8)
    c.graph.prune_to_max_degree(1)


def run(
    corpus: Path, repeats: int, agents: int, ticks: int, large: bool = False
) -> dict[str, float]:
    """Run W1 once and return its figures."""
    warm_up()
    docs = load_corpus(corpus, repeats)
    n = len(docs)
    cols = math.ceil(math.sqrt(n))
    config = ColonyConfig.for_large_corpora() if large else ColonyConfig()
    colony = Colony(config, seed=0)
    positions = []
    for i, (title, text) in enumerate(docs):
        p = Position((i % cols) * 5.0, (i // cols) * 5.0)
        positions.append(p)
        colony.ingest_document(title, text, p)
    step = n // agents
    for j in range(agents):
        p = positions[j * step]
        colony.spawn(Digester(Position(p.x + 1, p.y + 1), seed=j))
    words_total = sum(len(t.split()) for _, t in docs)
    t0 = time.perf_counter()
    colony.run(ticks)
    wall = time.perf_counter() - t0
    st = colony.stats()
    digested_words = sum(len(d.content.split()) for d in colony.documents() if d.digested)
    return {
        "documents": n,
        "agents": agents,
        "ticks": ticks,
        "wall_s": wall,
        "ticks_per_s": ticks / wall,
        "digested": st.documents_digested,
        "digested_pct": 100.0 * st.documents_digested / n,
        "docs_per_s": st.documents_digested / wall,
        "words_per_s": digested_words / wall,
        "words_total": words_total,
        "nodes": st.graph_nodes,
        "edges": st.graph_edges,
        "alive": st.agents_alive,
        "died": st.agents_died,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", type=Path, required=True, help="directory of .txt files")
    ap.add_argument("-R", "--repeats", type=int, default=1)
    ap.add_argument("-A", "--agents", type=int, default=10)
    ap.add_argument("-T", "--ticks", type=int, default=200)
    ap.add_argument("--large", action="store_true", help="use ColonyConfig.for_large_corpora()")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    r = run(a.corpus, a.repeats, a.agents, a.ticks, a.large)
    if a.json:
        print(json.dumps(r))
        return
    cols = [
        "documents",
        "agents",
        "ticks",
        "wall_s",
        "ticks_per_s",
        "digested",
        "digested_pct",
        "docs_per_s",
        "words_per_s",
        "nodes",
        "edges",
        "alive",
        "died",
        "peak_rss_mib",
    ]
    print(" | ".join(cols))
    print(" | ".join(f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in cols))


if __name__ == "__main__":
    main()
