"""Workload W2: the reference's ``phago-bench``, with digesters doing real work.

The reference's benchmark generated documents from 8 fixed topic keyword strings and timed
ingest, ticks and queries over 1–8 shards, but spawned no agents, so its graph stayed empty
(REFERENCE.md §7.11, §8 item 25). Here every shard gets digesters (one per two of its
documents, placed beside them), the run continues past the requested ticks until every
document is digested, and the results add documents digested, cross-shard edges and the
barrier time per tick.

As the reference's, a configuration times its ingest (the documents routed and stored: its
``docs/s``), its ticks and its queries apart; the digesters are spawned after the ingest is
timed (``spawn_ms``). What a series of configurations shares is started once, before the
first, by :func:`bench_session` and left out of every configuration's figures: on Ray,
starting (or joining) the cluster; on either backend, one small warm-up run (Numba's
kernels loaded). Each result's ``startup_ms`` says how long that took.

Example:
    >>> r = run_benchmark(BenchConfig(shards=2, documents=8, ticks=4, queries=1))
    >>> r.documents_digested, r.nodes > 0
    (8, True)
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from phago.config import ColonyConfig, whole_number
from phago.errors import ConfigError

__all__ = [
    "BENCH_TOPICS",
    "PRESETS",
    "WARM_UP",
    "BenchConfig",
    "BenchProgress",
    "BenchResult",
    "bench_documents",
    "bench_session",
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
    """Creating the colony and its shards (on Ray, starting the shard actors)."""
    ingest_ms: float = 0.0
    """Ingesting the documents, alone (``docs_per_sec`` is documents over it)."""
    tick_ms: float = 0.0
    query_ms: float = 0.0
    spawn_ms: float = 0.0
    """Spawning the digesters (after the timed ingest, in ``total_time_ms``)."""
    startup_ms: float = 0.0
    """The start-up before the series' first configuration, in no configuration's figures
    (:func:`bench_session`: starting or joining Ray, a warm-up run); 0 when run alone."""
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


BenchProgress = Callable[[str, int, int], None]
"""What :func:`run_benchmark` tells of its progress: the phase (``"ingesting"``,
``"digesting"``, ``"querying"``), how much of it is done and of how much (documents
digested of the documents, query rounds of the rounds)."""

WARM_UP = BenchConfig(shards=1, documents=4, ticks=8, queries=1)
"""The untimed run :func:`bench_session` makes before a series (with its backend)."""


def run_benchmark(
    cfg: BenchConfig,
    ray_options: dict[str, Any] | None = None,
    on_progress: BenchProgress | None = None,
) -> BenchResult:
    """Run one configuration: setup, ingest (timed), spawn, ticks (timed), queries (timed).

    Args:
        cfg: the configuration.
        ray_options: options of the Ray shard actors (``backend="ray"``).
        on_progress: called between the phases and the query rounds (see
            :data:`BenchProgress`); the ticks run in one call either way (watched, they would
            run in shorter calls, which costs Ray shards their chained ticks), so the timings
            are the same with and without it.

    Example:
        >>> seen = []
        >>> r = run_benchmark(BenchConfig(shards=1, documents=6, ticks=3, queries=2),
        ...                   on_progress=lambda *p: seen.append(p))
        >>> seen[0], seen[-1]
        (('ingesting', 0, 6), ('querying', 2, 2))
        >>> r.ingest_ms > 0 and r.spawn_ms > 0 and r.startup_ms == 0
        True
    """
    from phago.agents.digester import Digester
    from phago.distributed import DistributedColony, RunnerConfig
    from phago.types import Position

    docs = bench_documents(cfg.documents)  # (made before the clock starts, as are agents)

    def say(phase: str, done: int, total: int) -> None:
        if on_progress is not None:
            on_progress(phase, done, total)

    say("ingesting", 0, cfg.documents)
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
        dc.ingest_documents(docs)
        t2 = time.perf_counter()  # (the reference times the ingest alone)
        say("digesting", 0, cfg.documents)
        per_shard = [r["documents_total"] for r in dc._call_all("report")]
        for s, n_docs in enumerate(per_shard):
            positions = dc._call(s, "document_positions")
            agents = [
                Digester(Position(x + 0.5, y), seed=j)
                for j, (x, y) in enumerate(positions[::2] if n_docs > 1 else positions)
            ]
            dc._call(s, "spawn_many", agents)
        t2s = time.perf_counter()
        results = dc.run(cfg.ticks)  # one call, unwatched: Ray chains ticks
        extra = 0
        if cfg.max_extra_ticks > 0 and dc.has_undigested_work():
            more = dc.run(cfg.max_extra_ticks, stop_when_idle=True)
            results, extra = results + more, len(more)
        barrier = sum(r.barrier_ms for r in results)
        ran = len(results)
        t3 = time.perf_counter()
        if results:
            say("digesting", results[-1].documents_digested(), cfg.documents)
        say("querying", 0, cfg.queries)
        n_queries = cfg.queries * len(cfg.sample_queries)
        shown = t3
        for done in range(1, cfg.queries + 1):
            for q in cfg.sample_queries:
                dc.query(q)
            if on_progress is not None:  # (a tenth of a second apart: rounds are short)
                now = time.perf_counter()
                if now - shown >= 0.1 or done == cfg.queries:
                    shown = now
                    on_progress("querying", done, cfg.queries)
        t4 = time.perf_counter()
        st = dc.stats()
    finally:
        dc.close()
    t5 = time.perf_counter()
    ingest, ticks_s, queries_s = t2 - t1, t3 - t2s, t4 - t3
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
        spawn_ms=(t2s - t2) * 1000.0,
        extra={"extra_ticks": extra},
    )


@contextlib.contextmanager
def bench_session(
    backend: str = "local", max_shards: int = 1, ray_options: dict[str, Any] | None = None
) -> Iterator[float]:
    """Make ready, once, what a series of configurations on ``backend`` shares, and yield
    the seconds it took (each result's ``startup_ms``), which no configuration's figures
    then include.

    On Ray: join the cluster that ``RAY_ADDRESS`` names, or else start a local Ray that
    declares a CPU for each shard of the largest configuration (``max_shards``; at least
    one per core), which is shut down when the block ends. A Ray already connected in this
    process is used as it is. On either backend it then runs :data:`WARM_UP`, untimed.

    Raises:
        DistributedError: Ray is not installed, or could not start or join the cluster.

    Example:
        >>> with bench_session("local") as startup_s:
        ...     r = run_benchmark(BenchConfig(shards=1, documents=4, ticks=2, queries=1))
        >>> startup_s > 0 and r.documents_digested == 4
        True
    """
    whole_number(max_shards, "max_shards", 1)
    began = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if backend == "ray":
            stack.enter_context(_ray_cluster(max_shards, ray_options))
        warm_up = BenchConfig(
            WARM_UP.shards, WARM_UP.documents, WARM_UP.ticks, WARM_UP.queries, backend
        )
        run_benchmark(warm_up, ray_options)
        yield time.perf_counter() - began


@contextlib.contextmanager
def _ray_cluster(max_shards: int, ray_options: dict[str, Any] | None) -> Iterator[None]:
    """Ray connected for the block (see :func:`bench_session`): the colonies created in it
    find Ray running and leave it running when they close."""
    from phago.errors import DistributedError

    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is a declared extra
        raise DistributedError("the ray backend needs Ray: pip install 'phago[ray]'") from exc
    from phago.distributed.backends.ray import (
        check_reachable,
        init_ray,
        local_ray_options,
        usable_cores,
    )

    if ray.is_initialized():
        yield
        return
    joining = os.environ.get("RAY_ADDRESS", "")
    if joining not in ("", "local"):  # (as a colony would: Ray joins it)
        check_reachable(None)  # (None: the error says the address came from RAY_ADDRESS)
        init_ray(ray, joining, include_dashboard=False, log_to_driver=False)
    else:
        per_shard = float((ray_options or {}).get("num_cpus", 1))
        cpus = max(usable_cores(), math.ceil(max_shards * per_shard))
        init_ray(ray, "local", **{**local_ray_options(cpus), "address": "local"})
    try:
        yield
    finally:
        ray.shutdown()


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
