"""Workload W2: the reference's ``phago-bench``, with digesters doing real work.

The reference's benchmark generated documents from 8 fixed topic keyword strings and timed
ingest, ticks and queries over 1–8 shards, but spawned no agents, so its graph stayed empty
(REFERENCE.md §7.11, §8 item 25). Here every shard gets digesters (one per two of its
documents, placed beside them), the run continues past the requested ticks until every
document is digested, and the results add documents digested, cross-shard edges and the
barrier time per tick.

Example:
    >>> r = run_benchmark(BenchConfig(shards=2, documents=8, ticks=4, queries=1))
    >>> r.documents_digested, r.nodes > 0
    (8, True)
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from phago.config import ColonyConfig, whole_number
from phago.errors import ConfigError

__all__ = [
    "BENCH_TOPICS",
    "PRESETS",
    "BenchConfig",
    "BenchResult",
    "bench_documents",
    "run_benchmark",
    "to_csv",
]

BENCH_TOPICS: tuple[tuple[str, str], ...] = (
    ("Cell Biology", "cell membrane protein transport signaling pathway organelle cytoplasm"),
    ("Molecular Biology", "DNA RNA transcription translation gene expression nucleotide sequence"),
    ("Biochemistry", "enzyme substrate reaction kinetics metabolism catalysis activation"),
    ("Genetics", "chromosome gene mutation inheritance phenotype genotype allele"),
    ("Neuroscience", "neuron synapse action potential neurotransmitter receptor axon dendrite"),
    ("Immunology", "antibody antigen immune response lymphocyte cytokine inflammation"),
    ("Microbiology", "bacteria virus pathogen infection microbiome antimicrobial resistance"),
    ("Ecology", "ecosystem biodiversity species population habitat conservation environment"),
)

SAMPLE_QUERIES: tuple[str, ...] = ("cell membrane", "protein transport", "molecular biology")


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """One benchmark configuration (the reference's defaults)."""

    shards: int = 3
    documents: int = 100
    ticks: int = 20
    queries: int = 50
    backend: str = "local"
    sample_queries: tuple[str, ...] = SAMPLE_QUERIES
    max_extra_ticks: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        whole_number(self.shards, "shards", 1)
        whole_number(self.documents, "documents", 1)
        for name in ("ticks", "queries", "max_extra_ticks", "seed"):
            whole_number(getattr(self, name), name, 0)
        if self.backend not in ("local", "ray"):
            raise ConfigError(f"unknown backend {self.backend!r}")


PRESETS: dict[str, list[BenchConfig]] = {
    "quick": [BenchConfig(shards=3, documents=50, ticks=10, queries=10)],
    "full": [BenchConfig(shards=3, documents=100, ticks=20, queries=20)],
    "compare": [BenchConfig(shards=n, documents=100, ticks=20, queries=20) for n in (1, 3, 5)],
    "scale": [BenchConfig(shards=n, documents=100, ticks=20, queries=20) for n in (1, 2, 4, 8)],
}


@dataclass(slots=True)
class BenchResult:
    """The reference's columns plus digestion, cross-shard edges and barrier time."""

    shards: int
    backend: str
    documents: int
    ticks: int
    docs_per_sec: float
    ticks_per_sec: float
    queries_per_sec: float
    nodes: int
    edges: int
    total_time_ms: float
    documents_digested: int
    cross_shard_edges: int
    barrier_ms_per_tick: float
    setup_ms: float = 0.0
    ingest_ms: float = 0.0
    tick_ms: float = 0.0
    query_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (the ``--json`` keys first)."""
        d = asdict(self)
        d.pop("extra")
        return d


def bench_documents(n: int) -> list[tuple[str, str, tuple[float, float]]]:
    """The reference's synthetic documents: 8 topics cycled, at ``(i mod 100, i // 100)``."""
    out = []
    for i in range(n):
        topic, keywords = BENCH_TOPICS[i % len(BENCH_TOPICS)]
        content = (
            f"{keywords} - variation {i} with unique content about scientific concepts "
            "and research findings"
        )
        out.append((f"{topic} Document {i}", content, (float(i % 100), float(i // 100))))
    return out


def run_benchmark(cfg: BenchConfig, ray_options: dict[str, Any] | None = None) -> BenchResult:
    """Run one configuration: setup, ingest (timed), ticks (timed), queries (timed)."""
    from phago.distributed import DistributedColony, RunnerConfig

    t0 = time.perf_counter()
    dc = DistributedColony(
        cfg.shards,
        backend=cfg.backend,
        config=ColonyConfig(),
        seed=cfg.seed,
        runner_config=RunnerConfig(
            resolve_ghosts=True, checkpoint_every=None, cross_shard_edge_lists=False
        ),
        ray_options=ray_options,
    )
    try:
        t1 = time.perf_counter()
        dc.ingest_documents(bench_documents(cfg.documents))
        per_shard = [r["documents_total"] for r in dc._call_all("report")]
        for s, n_docs in enumerate(per_shard):
            positions = dc._call(s, "document_positions")
            from phago.agents.digester import Digester
            from phago.types import Position

            agents = [
                Digester(Position(x + 0.5, y), seed=j)
                for j, (x, y) in enumerate(positions[::2] if n_docs > 1 else positions)
            ]
            dc._call(s, "spawn_many", agents)
        t2 = time.perf_counter()
        results = dc.run(cfg.ticks)  # one call: Ray shards chain its ticks
        extra = 0
        if cfg.max_extra_ticks > 0 and dc.has_undigested_work():
            more = dc.run(cfg.max_extra_ticks, stop_when_idle=True)
            results, extra = results + more, len(more)
        barrier = sum(r.barrier_ms for r in results)
        ran = len(results)
        t3 = time.perf_counter()
        n_queries = cfg.queries * len(cfg.sample_queries)
        for _ in range(cfg.queries):
            for q in cfg.sample_queries:
                dc.query(q)
        t4 = time.perf_counter()
        st = dc.stats()
    finally:
        dc.close()
    t5 = time.perf_counter()
    ingest, ticks_s, queries_s = t2 - t1, t3 - t2, t4 - t3
    return BenchResult(
        shards=cfg.shards,
        backend=cfg.backend,
        documents=cfg.documents,
        ticks=ran,
        docs_per_sec=cfg.documents / ingest if ingest > 0 else math.inf,
        ticks_per_sec=ran / ticks_s if ticks_s > 0 else 0.0,
        queries_per_sec=n_queries / queries_s if queries_s > 0 and n_queries else 0.0,
        nodes=st.graph_nodes,
        edges=st.graph_edges,
        total_time_ms=(t5 - t0) * 1000.0,
        documents_digested=st.documents_digested,
        cross_shard_edges=st.cross_shard_edges,
        barrier_ms_per_tick=barrier / ran if ran else 0.0,
        setup_ms=(t1 - t0) * 1000.0,
        ingest_ms=ingest * 1000.0,
        tick_ms=ticks_s * 1000.0,
        query_ms=queries_s * 1000.0,
        extra={"extra_ticks": extra},
    )


CSV_COLUMNS = (
    "shards",
    "documents",
    "ticks",
    "docs_per_sec",
    "ticks_per_sec",
    "queries_per_sec",
    "nodes",
    "edges",
    "total_time_ms",
    "documents_digested",
    "cross_shard_edges",
    "barrier_ms_per_tick",
    "backend",
)


def to_csv(results: list[BenchResult]) -> str:
    """The reference's CSV (header then one row per configuration), plus the new columns.

    Example:
        >>> to_csv([]).splitlines()[0].split(",")[:3]
        ['shards', 'documents', 'ticks']
    """
    lines = [",".join(CSV_COLUMNS)]
    for r in results:
        d = r.to_dict()
        lines.append(
            ",".join(f"{d[c]:.2f}" if isinstance(d[c], float) else str(d[c]) for c in CSV_COLUMNS)
        )
    return "\n".join(lines)
