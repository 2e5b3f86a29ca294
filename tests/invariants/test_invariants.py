"""DESIGN.md §3 invariants I1–I6 across shard counts (local backend)."""

from __future__ import annotations

import asyncio
import time
from itertools import combinations
from typing import Any

import pytest

from phago import Colony, ColonyConfig, Digester, Position
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import (
    Coordinator,
    DistributedColony,
    DistributedRunner,
    RunnerConfig,
    ShardedColony,
    ShardId,
    TickPhase,
    merge_owned_graphs,
)
from phago.errors import PhaseTimeout, RpcError
from phago.graph import HebbianGraph
from phago.ids import document_id
from phago.text import extract_keywords

PURE = ColonyConfig(edge_decay_rate=0.0, max_edge_degree=None)
CAP3 = ColonyConfig(max_edge_degree=3)  # the degree cap across shards acts every few ticks
# a graph as plain data: its nodes and its edges, sorted
Signature = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]
DOCS = load_sample_corpus()
POS = grid_positions(len(DOCS))


def edge_signature(g: HebbianGraph) -> dict[tuple[str, str], tuple[float, int]]:
    lab = g.label_at
    return {
        tuple(sorted((lab(g.index_of(a)), lab(g.index_of(b))))): (e.weight, e.co_activations)  # type: ignore[misc]
        for a, b, e in g.edges()
    }


def full_signature(g: HebbianGraph) -> Signature:
    nodes = sorted((n.id, n.label, n.access_count, n.created_tick, n.documents) for n in g.nodes())
    edges = sorted(
        (min(a, b), max(a, b), e.weight, e.co_activations, e.created_tick, e.last_activated_tick)
        for a, b, e in g.edges()
    )
    return nodes, edges


def single_colony_graph() -> HebbianGraph:
    c = Colony(PURE, seed=0)
    for d, p in zip(DOCS, POS, strict=True):
        c.ingest_document(d.title, d.content, p)
    for j in range(8):
        c.spawn(Digester(Position(POS[j * 5].x + 1, POS[j * 5].y + 1), seed=j, max_idle=60))
    assert c.run_until_digested(500) < 500
    return c.graph


def distributed_graph(
    n: int, seed: int = 0, config: ColonyConfig = PURE
) -> tuple[HebbianGraph, DistributedColony]:
    dc = DistributedColony(n, config=config, seed=seed)
    dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
    dc.spawn_digesters(max(1, 8 // n), max_idle=60)
    assert dc.run_until_digested(500) < 500
    return dc.graph, dc


@pytest.fixture(scope="module")
def single() -> HebbianGraph:
    return single_colony_graph()


@pytest.mark.parametrize("shards", [1, 2, 3, 4, 8])
def test_i2_shard_count_invariance_and_i3_exactly_once(shards: int, single: HebbianGraph) -> None:
    """I2: same labels, edges, weights and co-activations as one colony; I3: each co-occurrence
    counted once (total co-activations = sum over documents of C(k, 2))."""
    g, dc = distributed_graph(shards)
    try:
        assert sorted(g.labels()) == sorted(single.labels())
        assert edge_signature(g) == edge_signature(single)
        _a, _b, _w, co, _, _ = g.edge_arrays()
        expected = sum(len(list(combinations(extract_keywords(d.content), 2))) for d in DOCS)
        assert int(co.sum()) == expected
        assert dc.stats().documents_digested == 40
    finally:
        dc.close()


@pytest.mark.parametrize("shards", [1, 2, 3, 4, 8])
def test_i1_reproducible_across_runs(shards: int) -> None:
    cfg = ColonyConfig()  # decay and degree cap on
    g1, d1 = distributed_graph(shards, seed=9, config=cfg)
    g2, d2 = distributed_graph(shards, seed=9, config=cfg)
    d1.close()
    d2.close()
    assert full_signature(g1) == full_signature(g2)


@pytest.mark.parametrize("shards", [1, 2, 3, 4, 8])
def test_i5_tick_agreement_every_tick(shards: int) -> None:
    with DistributedColony(shards, seed=2) as dc:
        dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
        dc.spawn_digesters(2)
        for _ in range(15):
            r = dc.tick()
            assert r.tick == dc.current_tick
            assert all(s.current_tick == dc.current_tick for s in dc.runner.shards)
            adv = [p for p in r.phase_results if p.phase is TickPhase.ADVANCE]
            assert len(adv) == shards and all(p.tick == r.tick for p in adv)
            assert len(r.phase_results) == 4 * shards  # each phase exactly once per shard


class SlowShard(ShardedColony):
    """A shard that hangs (or fails) in Act at one tick while armed."""

    armed = True
    mode = "hang"
    at_tick = 5

    def tick_phase(self, phase: TickPhase):  # type: ignore[no-untyped-def]
        if self.armed and phase is TickPhase.ACT and self.current_tick == self.at_tick:
            if self.mode == "hang":
                time.sleep(5.0)
            else:
                raise RuntimeError("boom")
        return super().tick_phase(phase)


def build_runner(
    slow: bool,
    mode: str = "hang",
    n: int = 3,
    at: int | None = None,
    parallelism: int = 8,
    config: ColonyConfig | None = None,
    timeout_ms: int = 1000,
) -> DistributedRunner:
    """A runner over ``n`` loaded shards; with ``slow``, shard ``at`` (default ``n // 2``) is
    a :class:`SlowShard` (the driver thread runs shard 0's phase itself, the pool the rest).

    The phase timeout is far below the 5 s hang, and far above a healthy phase of these
    small shards even with eight of them taking turns on two slow cores (300 ms was not:
    one healthy Advance missed it on a slow machine)."""
    coordinator = Coordinator(n)
    ring = coordinator.ring
    slow_at = n // 2 if at is None else at
    shards: list[ShardedColony] = []
    for i in range(n):
        cls = SlowShard if (slow and i == slow_at) else ShardedColony
        s = cls(ShardId(i), config or ColonyConfig(), ring, seed=4)
        if isinstance(s, SlowShard):
            s.mode = mode
        shards.append(s)
    for d, p in zip(DOCS[:30], POS[:30], strict=True):
        owner = int(ring.get_shard(int(document_id(d.title, d.content))))
        shards[owner].ingest_document(d.title, d.content, p)
    for s in shards:
        for j, (x, y) in enumerate(s.document_positions()[:2]):
            s.spawn(Digester(Position(x + 1, y + 1), seed=j))
    return DistributedRunner(
        coordinator,
        shards,
        RunnerConfig(phase_timeout_ms=timeout_ms, checkpoint_every=3, max_parallelism=parallelism),
    )


@pytest.fixture(scope="module")
def warm_kernels() -> None:
    """Digest once before the phase timeouts apply, in one colony and in a capped sharded
    one: the first digestion in a process loads compiled kernels (and imports), the first
    tick of capped shards the degree cap's, which alone can take longer than a timeout."""
    colony = Colony(ColonyConfig(), seed=4)
    for d, p in zip(DOCS[:30], POS[:30], strict=True):
        colony.ingest_document(d.title, d.content, p)
    for j, p in enumerate(POS[:2]):
        colony.spawn(Digester(Position(p.x + 1, p.y + 1), seed=j))
    colony.run(12)
    runner = build_runner(False, n=3, config=CAP3, timeout_ms=60_000)
    asyncio.run(runner.run(8))
    runner.close()


def late_ingest(runner: DistributedRunner) -> None:
    d, p = DOCS[35], POS[35]
    owner = int(runner.coordinator.ring.get_shard(int(document_id(d.title, d.content))))
    runner.shards[owner].ingest_document(d.title, d.content, p)


def global_signature(runner: DistributedRunner) -> Signature:
    return full_signature(merge_owned_graphs([s.owned_graph() for s in runner.shards]))


@pytest.mark.parametrize("config", [None, CAP3], ids=["default", "cap3"])
@pytest.mark.parametrize(
    ("mode", "n", "at", "parallelism"),
    [
        ("hang", 1, None, 8),
        ("hang", 3, None, 8),
        ("raise", 2, None, 8),
        ("raise", 4, None, 8),
        ("hang", 8, None, 8),
        ("hang", 3, 0, 8),  # hangs in the driver thread: the event loop's watchdog fires
        ("raise", 3, 0, 8),
        ("hang", 4, 2, 1),  # one phase at a time: the driver runs every shard itself
        ("hang", 4, 3, 2),  # one pool worker for three shards
    ],
)
def test_i6_failed_tick_is_never_half_applied(
    mode: str,
    n: int,
    at: int | None,
    parallelism: int,
    config: ColonyConfig | None,
    warm_kernels: None,
) -> None:
    failing = build_runner(True, mode, n, at, parallelism, config)
    clean = build_runner(False, n=n, parallelism=parallelism, config=config, timeout_ms=60_000)
    asyncio.run(failing.run(4)), asyncio.run(clean.run(4))
    late_ingest(failing)  # logged after the checkpoint at tick 3
    late_ingest(clean)
    asyncio.run(failing.run(1)), asyncio.run(clean.run(1))
    assert failing.coordinator.current_tick == 5
    start = time.monotonic()
    with pytest.raises(PhaseTimeout if mode == "hang" else RpcError):
        asyncio.run(failing.tick())
    elapsed = time.monotonic() - start
    assert elapsed < 3.5  # the 1 s timeout plus rollback and replay, not the 5 s hang
    assert failing.coordinator.current_tick == 5
    assert all(s.current_tick == 5 for s in failing.shards)
    assert global_signature(failing) == global_signature(clean)
    assert failing.recoveries and failing.recoveries[-1].restored_tick == 5
    for s in failing.shards:
        if isinstance(s, SlowShard):
            s.armed = False
    asyncio.run(failing.run(10)), asyncio.run(clean.run(10))
    assert global_signature(failing) == global_signature(clean)
    failing.close()
    clean.close()


@pytest.mark.parametrize("shards", [1, 2, 3, 4, 8])
def test_i4_distributed_query_equals_single_colony_on_merged_graph(shards: int) -> None:
    """The scatter-gather hybrid query ranks exactly like phago.query.hybrid on the merged graph,
    and every query function accepts the distributed colony itself."""
    from phago.corpus import sample_queries
    from phago.query import retrieve
    from phago.query.base import StaticSource
    from phago.query.hybrid import hybrid

    with DistributedColony(shards, seed=1) as dc:
        dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
        dc.spawn_digesters(max(1, 8 // shards), max_idle=60)
        dc.run(35)
        single = StaticSource(dc.graph, dc.documents(), current_tick=dc.current_tick)
        queries = [str(q["query"]) for q in sample_queries()] + ["cell cell river", "the of and"]
        for q in queries:
            got = [(r.label, round(r.score, 9), r.node_id) for r in dc.query(q)]
            want = [(r.label, round(r.score, 9), r.node_id) for r in hybrid(single, q)]
            assert got == want, q
        for method in ("tfidf", "bm25", "graph", "hybrid", "best"):
            q = queries[0]
            assert retrieve(dc, q, method=method) == retrieve(single, q, method=method)
