"""Evolution benchmark: evolved vs static vs random colonies (REFERENCE.md §5.4–5.6).

The reference publishes an evolved/static/random comparison (nodes, edges and clustering
coefficient at tick 300) but never wires its genome or spawn policies into the colony. Here the
three colonies differ only in their spawn policy:

* ``static``: :class:`~phago.agents.spawn.NoSpawnPolicy` (dead digesters are not replaced);
* ``evolved``: :class:`~phago.agents.spawn.FitnessSpawnPolicy` (offspring of the fittest,
  mutation rate 0.2), with all four fitness terms recorded;
* ``random``: :class:`~phago.agents.spawn.RandomSpawnPolicy` (default genome mutated at 0.8,
  placed on the reference's pattern, within 10 units of the origin).

Layout: the corpus files sorted by name, document i at ``((i mod C)·S, (i div C)·S)`` with
``C = ceil(sqrt(N))`` and spacing ``S`` (default 8, sparser than W1's 5 so that foraging
matters); ``A`` founders (default 6, :class:`~phago.agents.evolving.EvolvingDigester` with the
default genome) start at documents ``j·(N div A)`` plus (1, 1); the population cap is ``A``.
Documents arrive in ``waves`` equal batches (default 3, every ``T / (waves + 1)`` ticks), so
that agents must survive (or be replaced) between batches.

Reported per policy and seed at tick ``T`` (default 300): documents digested, ticks to digest
90 % of them, graph nodes, edges, average clustering coefficient of the concept graph
(unweighted, networkx), deaths, spawns, highest generation and the population's mean genome.

Usage:
    python benchmarks/evolution.py --corpus ../shared/data/phago-corpus --seeds 3
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from phago import Colony, Position
from phago.agents.evolving import EvolvingDigester
from phago.agents.fitness_terms import FitnessRecorder
from phago.agents.genome import Genome
from phago.agents.spawn import (
    FitnessSpawnPolicy,
    NoSpawnPolicy,
    RandomSpawnPolicy,
    SpawnPolicyBase,
)
from phago.types import NodeType

POLICIES = ("static", "evolved", "random")


def load_corpus(path: Path) -> list[tuple[str, str]]:
    """The corpus's .txt files sorted by name, as (title, text)."""
    files = sorted(p for p in path.iterdir() if p.suffix == ".txt")
    if not files:
        sys.exit(f"no .txt files in {path}")
    return [(p.stem, p.read_text(encoding="utf-8")) for p in files]


def clustering(colony: Colony) -> float:
    """Average clustering coefficient of the concept subgraph (unweighted)."""
    import networkx as nx

    g = colony.to_networkx()
    concepts = [n for n, d in g.nodes(data=True) if d["node_type"] == NodeType.CONCEPT.value]
    return float(nx.average_clustering(g.subgraph(concepts)))


def make_policy(name: str, agents: int, seed: int) -> SpawnPolicyBase:
    """The spawn policy of each colony kind (population cap: the founders' number)."""
    if name == "static":
        return NoSpawnPolicy(agents, seed=seed)
    if name == "evolved":
        return FitnessSpawnPolicy(agents, 0.2, seed=seed)
    return RandomSpawnPolicy(agents, seed=seed)  # the reference's pattern, around the origin


def run_one(
    docs: list[tuple[str, str]],
    policy: str,
    seed: int,
    agents: int,
    ticks: int,
    spacing: float,
    waves: int,
) -> dict[str, Any]:
    """One colony run; returns its figures at the last tick."""
    n = len(docs)
    cols = math.ceil(math.sqrt(n))
    positions = [Position((i % cols) * spacing, (i // cols) * spacing) for i in range(n)]
    colony = Colony(seed=seed)
    FitnessRecorder().attach(colony)
    colony.spawn_policy = make_policy(policy, agents, seed)
    step = n // agents
    for j in range(agents):
        p = positions[j * step]
        colony.spawn(EvolvingDigester(Position(p.x + 1, p.y + 1), Genome()))
    order = list(range(n))
    # waves: round-robin over the sorted files so every wave mixes the topics
    batches = [order[w::waves] for w in range(waves)]
    every = max(1, ticks // (waves + 1))
    t90 = None
    t0 = time.perf_counter()
    for t in range(ticks):
        if t % every == 0 and t // every < waves:
            for i in batches[t // every]:
                colony.ingest_document(docs[i][0], docs[i][1], positions[i])
        colony.tick()
        st = colony.stats()
        if t90 is None and t // every >= waves - 1 and st.documents_digested >= 0.9 * n:
            t90 = t + 1
    wall = time.perf_counter() - t0
    st = colony.stats()
    alive = [a for a in colony.agents if isinstance(a, EvolvingDigester)]
    genome_mean = {
        name: statistics.fmean(float(getattr(a.genome, name)) for a in alive) if alive else None
        for name in Genome.parameter_names()
    }
    recs = colony.fitness.all()
    return {
        "policy": policy,
        "seed": seed,
        "digested": st.documents_digested,
        "documents": n,
        "t90": t90,
        "nodes": st.graph_nodes,
        "edges": st.graph_edges,
        "clustering": clustering(colony),
        "alive": st.agents_alive,
        "died": st.agents_died,
        "spawned": st.total_spawned - agents,
        "max_generation": colony.fitness.max_generation(),
        "mean_fitness_all": statistics.fmean(r.fitness for r in recs) if recs else 0.0,
        "strong_edges": sum(r.strong_edges for r in recs),
        "bridge_edges": sum(r.bridge_edges for r in recs),
        "genome_mean": genome_mean,
        "wall_s": wall,
    }


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean of each figure per policy."""
    out = []
    for policy in POLICIES:
        rs = [r for r in rows if r["policy"] == policy]
        if not rs:
            continue
        t90s = [r["t90"] for r in rs if r["t90"] is not None]
        out.append(
            {
                "policy": policy,
                "runs": len(rs),
                "digested": statistics.fmean(r["digested"] for r in rs),
                "documents": rs[0]["documents"],
                "t90": statistics.fmean(t90s) if len(t90s) == len(rs) else None,
                "t90_reached": len(t90s),
                "nodes": statistics.fmean(r["nodes"] for r in rs),
                "edges": statistics.fmean(r["edges"] for r in rs),
                "clustering": statistics.fmean(r["clustering"] for r in rs),
                "alive": statistics.fmean(r["alive"] for r in rs),
                "died": statistics.fmean(r["died"] for r in rs),
                "spawned": statistics.fmean(r["spawned"] for r in rs),
                "max_generation": max(r["max_generation"] for r in rs),
                "wall_s": statistics.fmean(r["wall_s"] for r in rs),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", type=Path, required=True, help="directory of .txt files")
    ap.add_argument("-A", "--agents", type=int, default=6)
    ap.add_argument("-T", "--ticks", type=int, default=300)
    ap.add_argument("--spacing", type=float, default=8.0)
    ap.add_argument("--waves", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0 .. seeds-1")
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--json", action="store_true", help="print every run as JSON lines")
    a = ap.parse_args()
    docs = load_corpus(a.corpus)
    rows = []
    for seed in range(a.seeds):
        for policy in a.policies.split(","):
            r = run_one(docs, policy, seed, a.agents, a.ticks, a.spacing, a.waves)
            rows.append(r)
            if a.json:
                print(json.dumps(r))
    cols = [
        "policy",
        "runs",
        "digested",
        "t90",
        "nodes",
        "edges",
        "clustering",
        "alive",
        "died",
        "spawned",
        "max_generation",
        "wall_s",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for s in summarise(rows):
        cells = []
        for c in cols:
            v = s[c]
            if v is None:
                cells.append(f"not reached ({s['t90_reached']}/{s['runs']})")
            elif isinstance(v, float):
                cells.append(f"{v:.3f}" if c == "clustering" else f"{v:.1f}")
            else:
                cells.append(str(v))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
