"""Workload W3 (WORKLOADS.md): the shared harness of scale.py and ray_scaling.py."""

from __future__ import annotations

import argparse
import gc
import resource
import time
from dataclasses import asdict, dataclass
from typing import Any, cast

from phago import Colony, ColonyConfig, ColonyStats, Digester, Position
from phago.distributed import DistributedColony, DistributedStats, RunnerConfig
from phago.distributed.timeline import CallSpan, WaitSummary, replayed_span, wait_summary
from phago.synthetic import synthetic_corpus, w1_layout

WORDS_PER_DOC = 150


@dataclass
class W3Result:
    """Figures of one W3 run."""

    documents: int
    backend: str
    shards: int
    seconds: float
    ingest_seconds: float
    ticks: int
    digested: int
    docs_per_s: float
    words_per_s: float
    nodes: int
    edges: int
    cross_shard_edges: int
    peak_rss_mib: float
    peak_rss_per_shard_mib: float
    graph_bytes: int
    bytes_per_edge: float
    barrier_ms_per_tick: float
    # the shards' own work in the ticks (their phases' compute time), slowest shard and
    # summed over shards; one colony: the ticks' wall time for both
    work_slowest_s: float = 0.0
    work_summed_s: float = 0.0
    # pipelined Ray shards (phago.distributed.timeline), averaged over shards: seconds
    # between an actor's calls (before Sense and Act; before Decay and Advance) and the
    # mean hop (ms) from a Decay's last input to its start; None where not pipelined
    wait_before_sense_s: float | None = None
    wait_before_decay_s: float | None = None
    hop_ms: float | None = None
    # the ticks replayed from the same calls (phago.distributed.timeline.replayed_span,
    # with the mean hop): in the runner's order, and with one tick of slack between the
    # shards (each Decay taking the other shards' parts of the tick before)
    replayed_s: float | None = None
    replayed_slack_s: float | None = None
    # Ray: the driver process's CPU (all its threads, Ray's included) per tick while the
    # ticks ran; on a machine with as many cores as shards it is taken from the shards
    driver_cpu_ms_per_tick: float | None = None
    # Ray: the calls that ran their next Sense ahead of the other shards' parts, summed over
    # shards, and the seconds they then still waited for those parts, averaged over shards
    # (ShardActorImpl.senses_ahead)
    senses_ahead: int | None = None
    parts_wait_s: float | None = None

    def row(self) -> dict[str, Any]:
        """As a dict."""
        return asdict(self)


def w3_arguments(
    doc: str | None, docs: int = 10_000, shards: str = "1,2,4"
) -> argparse.ArgumentParser:
    """A W3 benchmark's argument parser (its docstring as help) with ``--docs`` and
    ``--shards`` (a comma-separated list)."""
    ap = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--docs", type=int, default=docs)
    ap.add_argument("--shards", default=shards)
    return ap


class CollectorPasses:
    """Python's cyclic collector's passes and their seconds, by generation, while this
    object is in ``gc.callbacks``."""

    def __init__(self) -> None:
        self._passes = [[0, 0.0] for _ in range(3)]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            row = self._passes[info["generation"]]
            row[0] += 1
            row[1] += time.perf_counter() - self._started

    def by_generation(self) -> list[tuple[int, float]]:
        """``(passes, seconds)`` for generations 0, 1 and 2."""
        return [(int(n), round(float(t), 3)) for n, t in self._passes]

    @property
    def passes(self) -> int:
        """Passes of every generation."""
        return sum(int(n) for n, _ in self._passes)

    @property
    def seconds(self) -> float:
        """Their seconds."""
        return sum(float(t) for _, t in self._passes)


def rss_mib() -> float:
    """Peak resident memory of this process, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def graph_bytes(colony: Colony) -> int:
    """Bytes held for edges: edge columns (with spare capacity) and the edge hash table."""
    return colony.graph.edge_memory_bytes()


def w3_items(documents: int, seed: int = 0) -> list[tuple[str, str, tuple[float, float]]]:
    """W3's documents (generated from ``seed``) with their W1 grid positions."""
    docs = synthetic_corpus(documents, seed=seed)
    return [(t, c, p) for (t, c), p in zip(docs, w1_layout(documents), strict=True)]


def w3_colony(
    items: list[tuple[str, str, tuple[float, float]]],
    shards: int,
    *,
    backend: str = "local",
    config: ColonyConfig | None = None,
    seed: int = 0,
    ray_options: dict[str, Any] | None = None,
    ray_fan_out: str = "auto",
) -> DistributedColony:
    """A distributed colony holding ``items`` with one digester per 100 documents (split
    over the shards), as every W3 benchmark runs it: no checkpoints, cross-shard edges
    counted rather than listed."""
    dc = DistributedColony(
        shards,
        backend=backend,
        config=config or ColonyConfig.for_large_corpora(),
        seed=seed,
        runner_config=RunnerConfig(checkpoint_every=None, cross_shard_edge_lists=False),
        ray_options=ray_options,
        ray_fan_out=ray_fan_out,
    )
    dc.ingest_documents(items)
    dc.spawn_digesters(max(1, len(items) // 100 // shards))
    return dc


def warm_up() -> None:
    """Compile or load the Numba kernels before timing.

    A small W3 run (3,000 documents, about a second) takes every path the timed runs take:
    hungry digesters, edge compaction, table rebuilds. Right after a kernel module changes,
    its kernels are compiled again, and without this their compilation (seconds) would land
    inside the first timed run.
    """
    c = Colony(ColonyConfig.for_large_corpora(), seed=0)
    c.ingest_document("w", "alpha beta gamma delta alpha beta", Position(0, 0))
    c.spawn(Digester(Position(0, 0)))
    c.run(8)
    c.graph.prune_to_max_degree(1)
    run_w3(3000)


def run_w3(
    documents: int,
    *,
    backend: str = "local",
    shards: int = 1,
    seed: int = 0,
    config: ColonyConfig | None = None,
    max_ticks: int = 2000,
    ray_options: dict[str, Any] | None = None,
    ray_fan_out: str = "auto",
) -> W3Result:
    """Generate the corpus (untimed), then time ingest → digested → wired."""
    cfg = config or ColonyConfig.for_large_corpora()
    items = w3_items(documents, seed)
    agents = max(1, documents // 100)
    gc.collect()
    if backend == "local" and shards == 1:
        t0 = time.perf_counter()
        colony = Colony(cfg, seed=seed)
        colony.ingest_documents(items)
        step = documents // agents
        for j in range(agents):
            x, y = items[j * step][2]
            colony.spawn(Digester(Position(x + 1, y + 1), seed=j))
        t_ingest = time.perf_counter() - t0
        t1 = time.perf_counter()
        ticks = colony.run_until_digested(max_ticks)
        elapsed = time.perf_counter() - t0
        work = time.perf_counter() - t1
        st: ColonyStats | DistributedStats = colony.stats()
        gb = graph_bytes(colony)
        rss = rss_mib()
        return W3Result(
            documents,
            backend,
            1,
            elapsed,
            t_ingest,
            ticks,
            st.documents_digested,
            st.documents_digested / elapsed,
            st.documents_digested * WORDS_PER_DOC / elapsed,
            st.graph_nodes,
            st.graph_edges,
            0,
            rss,
            rss,
            gb,
            gb / max(st.graph_edges, 1),
            0.0,
            work,
            work,
        )
    t0 = time.perf_counter()
    dc = w3_colony(
        items,
        shards,
        backend=backend,
        config=cfg,
        seed=seed,
        ray_options=ray_options,
        ray_fan_out=ray_fan_out,
    )
    try:
        t_ingest = time.perf_counter() - t0
        # one call for the whole run (Ray shards chain its ticks), stopping once idle
        cpu0 = time.process_time()
        results = dc.run(max_ticks, stop_when_idle=True)
        driver_cpu = time.process_time() - cpu0
        ticks = len(results)
        barrier = sum(r.barrier_ms for r in results)
        work_ms = [0.0] * shards
        for r in results:
            for p in r.phase_results:
                work_ms[int(p.shard_id)] += getattr(p, "compute_ms", 0.0)
        elapsed = time.perf_counter() - t0
        st = dc.stats()
        mem = [s["edge_bytes"] for s in st.shards]
        rss_rows = dc._call_all("rss_mib") if backend == "ray" else [rss_mib()]
        spans = dc._call_all("call_spans") if backend == "ray" else None
        ahead = _senses_ahead(dc) if backend == "ray" else None
        waits = wait_summary(spans) if spans is not None else None
    finally:
        dc.close()
    gb = int(sum(mem))
    return W3Result(
        documents,
        backend,
        shards,
        elapsed,
        t_ingest,
        ticks,
        st.documents_digested,
        st.documents_digested / elapsed,
        st.documents_digested * WORDS_PER_DOC / elapsed,
        st.graph_nodes,
        st.graph_edges,
        st.cross_shard_edges,
        rss_mib() + (sum(rss_rows) if backend == "ray" else 0.0),
        max(rss_rows),
        gb,
        gb / max(st.graph_edges, 1),
        barrier / max(ticks, 1),
        max(work_ms) / 1000.0,
        sum(work_ms) / 1000.0,
        *_waits(waits),
        *_replays(spans, waits),
        driver_cpu * 1000.0 / max(ticks, 1) if backend == "ray" else None,
        sum(a[0] for a in ahead) if ahead else None,
        sum(a[1] for a in ahead) / len(ahead) if ahead else None,
    )


def _senses_ahead(dc: DistributedColony) -> list[tuple[int, float]] | None:
    """Each Ray actor's calls that ran their Sense ahead and its wait for parts then (None
    where the actors have no such count: a revision before the forty-fifth session's, as an
    A/B of revisions runs)."""
    try:
        return cast(list[tuple[int, float]], dc._call_all("senses_ahead"))
    except Exception:
        return None


def _replays(
    spans: list[list[CallSpan]] | None, summary: WaitSummary | None
) -> tuple[float | None, float | None]:
    """W3Result's replayed spans, in the runner's order and with one tick of slack."""
    if spans is None or summary is None or not summary.ticks:
        return None, None
    hop = summary.mean_hop_ms / 1000.0
    return replayed_span(spans, 0, hop), replayed_span(spans, 1, hop)


def _waits(summary: WaitSummary | None) -> tuple[float | None, float | None, float | None]:
    """W3Result's wait fields from a pipelined run's summary (Nones without one)."""
    if summary is None or not summary.ticks:
        return None, None, None
    n = len(summary.shards)
    return (
        sum(s.before_sense_s for s in summary.shards) / n,
        sum(s.before_decay_s for s in summary.shards) / n,
        summary.mean_hop_ms,
    )
