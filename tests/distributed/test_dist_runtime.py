"""ShardedColony, DistributedRunner and DistributedColony (local backend)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from phago import Colony, ColonyConfig, Digester, Position
from phago.agents.base import Agent
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import (
    ConsistentHashRing,
    Coordinator,
    DistributedColony,
    DistributedRunner,
    DistributedTickResult,
    RunnerConfig,
    ShardedColony,
    ShardId,
    TickPhase,
)
from phago.distributed import colony as dist_colony
from phago.distributed.degree_cap import ROUND_TICKS
from phago.distributed.runner import DEFAULT_CHECKPOINT_COST_SHARE
from phago.distributed.shard import ShardPhaseResult
from phago.document_batch import DocumentBatch
from phago.errors import (
    ColonyBusy,
    ColonyClosed,
    ConfigError,
    DistributedError,
    DocumentError,
    EmptyDocument,
    InvalidAgent,
    InvalidPosition,
    RoutingFailed,
)
from phago.ids import document_id
from phago.types import Idle

NO_DECAY = ColonyConfig(edge_decay_rate=0.0, max_edge_degree=None)


def test_a_closed_colony_says_so_and_runs_nothing() -> None:
    import warnings

    dc = DistributedColony(2, seed=0)
    dc.ingest_document("d", "cell membrane protein", Position(0, 0))
    dc.run(2)
    with pytest.raises(ConfigError, match="ticks must be a whole number >= 0, got -1"):
        dc.run(-1)
    with pytest.raises(ConfigError, match="max_ticks must be a whole number >= 0"):
        dc.run_until_digested(-5)
    dc.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no coroutine left never awaited)
        edges_before = dc.graph.edge_count
        for call in (
            lambda: dc.run(1),
            dc.tick,
            lambda: dc.ingest_documents([("e", "gene expression", (1, 1))]),
            # changes made straight to local shards (until the 35th session they went in)
            lambda: dc.spawn(Digester(Position(0, 0))),
            lambda: dc.spawn_digesters(2),
            lambda: dc.reinforce_edges([(1, 2)], [1], 0.1, 2),
        ):
            with pytest.raises(ColonyClosed, match="this colony of 2 shards was closed"):
                call()
    assert dc.current_tick == 2 and len(dc.documents()) == 1  # (its shards can be read)
    assert dc.stats().agents_alive == 0 and dc.graph.edge_count == edges_before
    assert [row["status"] for row in dc.stats().shards] == ["Offline", "Offline"]


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_a_distributed_seed_is_checked_as_a_colony_seed_is(seed: object) -> None:
    """DistributedColony and ShardedColony take the seeds Colony takes (None is 0) and
    refuse the others with the same ConfigError."""
    ring = ConsistentHashRing(1)
    for make in (
        lambda s: Colony(seed=s),
        lambda s: DistributedColony(1, seed=s),
        lambda s: ShardedColony(ShardId(0), None, ring, seed=s),
    ):
        with pytest.raises(ConfigError, match="seed must be a whole number >= 0"):
            make(seed)
    with DistributedColony(1, seed=None) as dc:
        assert dc.seed == 0
    with DistributedColony(1, seed=np.int64(4)) as dc:  # type: ignore[arg-type]
        assert dc.seed == 4 and type(dc.seed) is int
    assert ShardedColony(ShardId(0), None, ring, seed=None).seed == 0
    assert ShardedColony(ShardId(0), None, ring, seed=2.0).seed == 2  # type: ignore[arg-type]


def test_a_config_that_is_not_a_colony_config_is_a_config_error() -> None:
    ring = ConsistentHashRing(1)
    for make in (
        lambda c: Colony(c),
        lambda c: DistributedColony(1, config=c),
        lambda c: ShardedColony(ShardId(0), c, ring),
    ):
        for bad in ({"max_edge_degree": 5}, {}, "default"):
            with pytest.raises(ConfigError, match="config must be a ColonyConfig or None"):
                make(bad)


def test_bad_arguments_to_a_distributed_colony_are_config_errors() -> None:
    for shards in ("2", 1.5, 0, None):
        with pytest.raises(ConfigError, match="num_shards must be a whole number >= 1"):
            DistributedColony(shards)  # type: ignore[arg-type]
    with DistributedColony(2, seed=0) as dc:
        dc.ingest_document("d", "cell membrane protein", Position(0, 0))
        for per_shard in (1.5, -1, "2"):
            with pytest.raises(ConfigError, match="per_shard must be a whole number >= 0"):
                dc.spawn_digesters(per_shard)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match=r"bad digester options \['bogus'\]"):
            dc.spawn_digesters(1, bogus=3)
        for shard in (1.5, -1, 2):
            with pytest.raises(ConfigError):
                dc.spawn(Digester(Position(0, 0)), shard=shard)  # type: ignore[arg-type]
        assert dc.stats().agents_alive == 0
        # one object on two shards would act twice a tick: refused as on one shard
        d = Digester(Position(0, 0))
        dc.spawn(d, shard=0)
        for shard in (0, 1):
            with pytest.raises(InvalidAgent, match=r"already in the colony \(on shard 0\)"):
                dc.spawn(d, shard=shard)
        assert dc.stats().agents_alive == 1 and dc.spawn_digesters(1.0) == 2  # type: ignore[arg-type]


def test_reference_example() -> None:
    coordinator = Coordinator(3)
    ring = ConsistentHashRing(3)
    shards = [ShardedColony(ShardId(i), ColonyConfig(), ring) for i in range(3)]
    runner = DistributedRunner(coordinator, shards, RunnerConfig())
    result = asyncio.run(runner.tick())
    assert result.tick == 1
    results = asyncio.run(runner.run(10))
    assert [r.tick for r in results] == list(range(2, 12))
    assert runner.shard_count == 3 and runner.shards == shards
    assert runner.coordinator is coordinator and runner.config == RunnerConfig()
    runner.close()


def test_ingest_checks_the_real_id() -> None:
    """Corrected: the reference checked a throw-away id and stored another (§8 item 18)."""
    ring = ConsistentHashRing(3)
    shards = [ShardedColony(ShardId(i), None, ring) for i in range(3)]
    for k in range(30):
        title, content = f"doc {k}", f"content number {k}"
        owner = int(ring.get_shard(int(document_id(title, content))))
        for s in shards:
            if int(s.shard_id) == owner:
                assert s.ingest_document(title, content, Position(0, 0)) == document_id(
                    title, content
                )
                assert s.owns_document(document_id(title, content))
            else:
                with pytest.raises(RoutingFailed):
                    s.ingest_document(title, content, Position(0, 0))
    assert sum(s.document_count for s in shards) == 30
    other = shards[0].ingest_document_direct("x", "not mine maybe", Position(0, 0))
    assert shards[0].colony.substrate.has_document(other)


def test_a_batch_with_a_document_another_shard_owns_stores_none_of_it() -> None:
    ring = ConsistentHashRing(3)
    shard = ShardedColony(ShardId(0), None, ring)
    docs = [(f"doc {k}", f"content number {k}") for k in range(40)]
    owner = [int(ring.get_shard(int(document_id(t, c)))) for t, c in docs]
    mine = [
        (t, c, (1.0, 2.0), int(document_id(t, c)))
        for (t, c), o in zip(docs, owner, strict=True)
        if o == 0
    ]
    k = owner.index(1)
    stray = (*docs[k], (0.0, 0.0), int(document_id(*docs[k])))
    with pytest.raises(RoutingFailed, match=f"{docs[k][0]!r}.*belongs to shard-1, not shard-0"):
        shard.ingest_batch(DocumentBatch.from_rows([*mine[:2], stray, *mine[2:]]))
    assert shard.document_count == 0
    assert shard.ingest_batch(DocumentBatch.from_rows(mine)) == len(mine)
    assert shard.ingest_batch(DocumentBatch.from_rows([])) == 0
    assert shard.document_count == len(mine)
    assert {d.position for d in shard.documents()} == {Position(1.0, 2.0)}


def _as_received(batch: DocumentBatch) -> DocumentBatch:
    """``batch`` as a Ray actor gets it: its arrays read-only views of one received buffer."""
    xy = np.frombuffer(batch.xy.tobytes(), dtype=np.float64).reshape(-1, 2)
    ids = np.frombuffer(batch.ids.tobytes(), dtype=np.uint64)
    return DocumentBatch(batch.titles, batch.contents, xy, ids, batch.checked_chars)


def test_a_stored_batch_is_one_op_log_entry_and_replays_after_a_rollback() -> None:
    ring = ConsistentHashRing(2)
    shard = ShardedColony(ShardId(1), None, ring)
    docs = [(f"doc {k}", f"cell gene protein {k}") for k in range(30)]
    mine = [
        (t, c, (float(k), 3.0), int(document_id(t, c)))
        for k, (t, c) in enumerate(docs)
        if int(ring.get_shard(int(document_id(t, c)))) == 1
    ]
    shard.ingest_batch(DocumentBatch.from_rows(mine[:1]))
    assert shard.oplog() == []  # no checkpoint yet: nothing to replay onto, nothing logged
    shard.trim_oplog()  # what a checkpoint does: the log starts
    before = shard.snapshot()
    received = _as_received(DocumentBatch.from_rows(mine[1:]))
    assert shard.ingest_batch(received) == len(mine) - 1
    assert shard.ingest_batch(DocumentBatch.from_rows(mine[:3])) == 0  # known: none new
    log = shard.oplog()
    assert [kind for _, kind, _ in log] == ["ingest_batch", "ingest_batch"]
    # the log keeps arrays of its own, not views of a received buffer (a Ray object)
    kept = log[0][2]
    assert not np.shares_memory(kept.xy, received.xy) and kept.xy.flags.writeable
    assert not np.shares_memory(kept.ids, received.ids) and kept.ids.flags.writeable
    back = ShardedColony.from_snapshot(before, ring)
    assert back.document_count == 1
    back.set_replay(log)
    assert back.apply_replay_ops(shard.current_tick) == 2
    assert [(d.id, d.title, d.position) for d in back.documents()] == [
        (d.id, d.title, d.position) for d in shard.documents()
    ]


def checkpointed_shard() -> tuple[ConsistentHashRing, ShardedColony, bytes]:
    """A one-shard ring, its shard logging for a rollback, and the checkpoint's snapshot."""
    ring = ConsistentHashRing(1)
    shard = ShardedColony(ShardId(0), None, ring)
    shard.trim_oplog()  # a checkpoint
    return ring, shard, shard.snapshot()


def test_spawned_agents_replay_as_spawned_also_when_they_do_not_pickle() -> None:
    ring, shard, before = checkpointed_shard()
    plain = Digester(Position(1.0, 2.0), seed=3)
    odd = Digester(Position(4.0, 5.0), seed=4)
    odd.note = lambda: "a lambda does not pickle"  # type: ignore[attr-defined]
    shard.spawn_many([plain, odd])
    plain.position = Position(9.0, 9.0)  # moved after spawning: the log kept the spawn
    log = shard.oplog()
    assert [kind for _, kind, _ in log] == ["spawn", "spawn"]
    back = ShardedColony.from_snapshot(before, ring)
    back.set_replay(log)
    assert back.apply_replay_ops(shard.current_tick) == 2
    a, b = back.colony.agents
    assert a is not plain and a.position == Position(1.0, 2.0) and a.id == plain.id
    assert b is not odd and b.position == odd.position and b.note() == odd.note()  # type: ignore[attr-defined]


def test_a_refused_spawn_is_not_logged_for_a_replay() -> None:
    ring, shard, before = checkpointed_shard()
    once = Digester(Position(1.0, 2.0), seed=3)
    shard.spawn(once)
    for bad in (once, "not an agent"):  # already there; not an agent
        with pytest.raises(InvalidAgent):
            shard.spawn(bad)  # type: ignore[arg-type]
    fresh = Digester(Position(3.0, 4.0), seed=5)
    for batch in ([fresh, once], [fresh, fresh]):  # all or none
        with pytest.raises(InvalidAgent):
            shard.spawn_many(batch)
    assert [kind for _, kind, _ in shard.oplog()] == ["spawn"]
    assert shard.colony.agents == [once]
    back = ShardedColony.from_snapshot(before, ring)
    back.set_replay(shard.oplog())
    assert back.apply_replay_ops(shard.current_tick) == 1
    assert [a.id for a in back.colony.agents] == [once.id]


def test_ingest_sends_documents_in_chunks_and_keeps_their_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dist_colony, "_INGEST_CHUNK", 3)
    docs = [(f"d{i}", f"alpha{i} beta gamma") for i in range(10)]
    with DistributedColony(3, seed=1) as dc, DistributedColony(3, seed=1) as whole:
        ids = dc.ingest_documents(docs)
        assert ids == [document_id(t, c) for t, c in docs]
        monkeypatch.setattr(dist_colony, "_INGEST_CHUNK", 100)
        assert whole.ingest_documents(docs) == ids
        placed = {d.id: d.position for d in dc.documents()}
        assert placed == {d.id: d.position for d in whole.documents()}
        # laid out in input order across the chunks: document i on grid spot i
        assert [placed[d] for d in ids] == [Position(5.0 * i, 0.0) for i in range(10)]


def test_tick_phase_runs_exactly_one_phase() -> None:
    """Corrected: the reference ran a whole local tick in Act and again in Decay (§8 item 19)."""
    shard = ShardedColony(ShardId(0), None, ConsistentHashRing(1))
    for phase in (TickPhase.SENSE, TickPhase.ACT, TickPhase.DECAY):
        assert shard.tick_phase(phase).tick == 0
    assert shard.tick_phase(TickPhase.ADVANCE).tick == 1


def _cluster(
    n: int, config: ColonyConfig | None = None, seed: int = 0, **runner: Any
) -> DistributedColony:
    dc = DistributedColony(
        n, config=config or NO_DECAY, seed=seed, runner_config=RunnerConfig(**runner)
    )
    docs = load_sample_corpus()
    dc.ingest_documents(
        [(d.title, d.content, p) for d, p in zip(docs, grid_positions(len(docs)), strict=True)]
    )
    dc.spawn_digesters(3, max_idle=60)
    return dc


def test_cross_shard_edges_reported_and_ghosts_resolved() -> None:
    with _cluster(3) as dc:
        results = dc.run(12)
        assert any(r.has_cross_shard_activity() for r in results)
        edge = next(e for r in results for e in r.cross_shard_edges)
        assert edge.from_shard != edge.to_shard and edge.from_node < edge.to_node
        act = [p for r in results for p in r.phase_results if p.phase is TickPhase.ACT]
        assert sum(len(p.cross_shard_edges) for p in act) == sum(
            len(r.cross_shard_edges) for r in results
        )
        shards = dc.runner.shards
        ghosts = [g for s in shards for g in s.ghost_cache.all_nodes()]
        assert ghosts and all(g.is_resolved for g in ghosts)
        for g in ghosts[:50]:
            owner = shards[int(g.shard_id)]
            data = owner.get_node(g.node_id)
            assert data is not None and g.label == data.label and g.full_data.id == data.id


def test_cross_shard_edge_lists_off_keeps_the_counts_and_the_graph() -> None:
    with _cluster(3) as listed, _cluster(3, cross_shard_edge_lists=False) as counted:
        a, b = listed.run(12), counted.run(12)
        assert [r.cross_shard_edge_count for r in a] == [len(r.cross_shard_edges) for r in a]
        assert [r.cross_shard_edge_count for r in b] == [r.cross_shard_edge_count for r in a]
        assert sum(r.cross_shard_edge_count for r in b) > 0
        assert all(len(r.cross_shard_edges) == 0 for r in b)
        assert [r.has_cross_shard_activity() for r in b] == [
            r.has_cross_shard_activity() for r in a
        ]
        acts = [
            cast(ShardPhaseResult, p)
            for r in b
            for p in r.phase_results
            if p.phase is TickPhase.ACT
        ]
        assert all(len(p.cross_shard_edges) == 0 for p in acts)
        assert sum(p.cross_shard_count for p in acts) == sum(len(r.cross_shard_edges) for r in a)
        assert f"cross_shard_edges={b[0].cross_shard_edge_count}," in repr(b[0])
        ga, gb = listed.graph, counted.graph
        assert sorted((n.id, n.label, n.access_count) for n in ga.nodes()) == sorted(
            (n.id, n.label, n.access_count) for n in gb.nodes()
        )
        assert sorted((a_, b_, e.weight, e.co_activations) for a_, b_, e in ga.edges()) == sorted(
            (a_, b_, e.weight, e.co_activations) for a_, b_, e in gb.edges()
        )


def test_unresolved_ghosts_when_resolution_off() -> None:
    with _cluster(3, resolve_ghosts=False) as dc:
        dc.run(12)
        ghosts = [g for s in dc.runner.shards for g in s.ghost_cache.all_nodes()]
        assert ghosts and not any(g.is_resolved for g in ghosts)


def test_the_degree_cap_holds_across_shards_with_ghost_resolution_off() -> None:
    # degree reports and cap orders travel even when no ghost is requested or answered
    with _cluster(3, ColonyConfig(max_edge_degree=2), resolve_ghosts=False) as dc:
        dc.run(20)
        for s in dc.runner.shards:
            s.colony.agents.clear()
        dc.run(2 * ROUND_TICKS)  # two rounds of the cap with nothing new wired
        assert sum(s.cap_dropped() for s in dc.runner.shards) > 0
        assert max(dc.graph.degrees().tolist()) <= 2


def test_run_calls_on_tick_after_every_tick_with_the_cluster_at_that_tick() -> None:
    with _cluster(2) as dc:
        seen: list[tuple[int, int]] = []
        results = dc.run(7, on_tick=lambda t: seen.append((t, dc.current_tick)))
        assert seen == [(t, t) for t in range(1, 8)]
        assert [r.tick for r in results] == list(range(1, 8))
        assert [h[0] for h in dc.history] == list(range(1, 8))
        assert len(dc.run(5, progress=True)) == 5 and dc.current_tick == 12


def _counting_runner_calls(dc: DistributedColony, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The tick counts of the runner calls ``dc`` makes from now on."""
    calls: list[int] = []
    run = dc.runner.run

    def counted(ticks: int, **kwargs: object) -> object:
        calls.append(ticks)
        return run(ticks, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dc.runner, "run", counted)
    return calls


def test_on_progress_sees_each_call_end_while_the_calls_grow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dist_colony, "_CALL_TARGET_S", 100.0)  # every call counts as quick
    with _cluster(2) as dc, _cluster(2) as twin:
        calls = _counting_runner_calls(dc, monkeypatch)
        seen: list[tuple[int, int, int]] = []
        results = dc.run(
            60,
            on_progress=lambda r: seen.append((r.tick, dc.current_tick, r.documents_digested())),
        )
        assert [r.tick for r in results] == list(range(1, 61))
        # the calls start at one tick and double while they are quick
        assert calls == [1, 2, 4, 8, 16, 29]
        # called once a call, with the cluster as of the call's last tick
        assert [t for t, _, _ in seen] == list(np.cumsum(calls))
        assert all(t == now for t, now, _ in seen)
        digested = [d for _, _, d in seen]
        assert digested == sorted(digested) and digested[-1] == dc.stats().documents_digested
        twin.run(60)
        assert twin.graph.edge_count == dc.graph.edge_count > 0
        np.testing.assert_array_equal(twin.graph.edge_arrays()[2], dc.graph.edge_arrays()[2])


def test_run_until_digested_reports_progress_in_documents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _cluster(2) as dc:
        calls = _counting_runner_calls(dc, monkeypatch)
        digested: list[int] = []
        ran = dc.run_until_digested(
            500, on_progress=lambda r: digested.append(r.documents_digested())
        )
        assert sum(calls) >= ran > len(calls) and not dc.has_undigested_work()
        assert digested[-1] == dc.stats().documents_total > digested[0]


@pytest.mark.parametrize(
    ("ticks", "seconds", "expected"),
    [(1, 0.0, 2), (32, 0.1, 64), (64, 0.1, 64), (8, 0.5, 8), (8, 1.5, 4), (1, 60.0, 1)],
)
def test_next_call_ticks_aims_at_half_a_second(ticks: int, seconds: float, expected: int) -> None:
    assert dist_colony._next_call_ticks(ticks, seconds, cap=64) == expected


@pytest.mark.parametrize("step", [None, 5])
def test_run_until_digested_stops_at_the_first_idle_tick(
    step: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if step is not None:  # the ticks run in calls of `step` (results are not kept)
        monkeypatch.setattr(dist_colony, "_UNKEPT_STEP", step)
    with _cluster(2) as dc, _cluster(2) as twin:
        ran = dc.run_until_digested(500)
        assert 0 < ran < 500 and dc.current_tick == ran
        assert not dc.has_undigested_work()
        steps = 0  # the twin, one tick at a time, checking after each
        while twin.has_undigested_work():
            twin.tick()
            steps += 1
        assert steps == ran
        assert dc.run_until_digested(50) == 0


def test_run_with_stop_when_idle_keeps_the_results_of_run_until_digested() -> None:
    with _cluster(2) as dc, _cluster(2) as twin:
        ran = dc.run_until_digested(500)
        results = twin.run(500, stop_when_idle=True)
        assert [r.tick for r in results] == list(range(1, ran + 1))
        assert twin.graph.edge_count == dc.graph.edge_count > 0
        assert len(twin.run(3, stop_when_idle=True)) == 1  # idle: one tick, then it stops
        assert len(twin.run(3)) == 3
        # each phase reports its wall time and its thread's CPU time on the shard
        phases = [cast(ShardPhaseResult, p) for r in results for p in r.phase_results]
        assert sum(p.compute_cpu_ms for p in phases) > 0
        assert all(0 <= p.compute_cpu_ms <= p.compute_ms + 1.0 for p in phases)


def test_stats_totals_and_per_shard() -> None:
    with _cluster(2) as dc:
        dc.run_until_digested(300)
        st = dc.stats()
        assert st.documents_digested == st.documents_total == 40
        assert len(st.shards) == 2
        assert st.graph_nodes == sum(s["graph_nodes"] for s in st.shards)
        assert st.graph_edges == dc.graph.edge_count and st.graph_nodes == dc.graph.node_count
        assert all(s["status"] == "Online" and s["memory_bytes"] > 0 for s in st.shards)
        # a shard holds its own nodes and replicas of the far ends of its edges
        held = [sh.colony.graph.node_count for sh in dc.runner.shards]
        assert [s["nodes_held"] for s in st.shards] == held
        assert all(s["nodes_held"] > s["graph_nodes"] for s in st.shards)
        g = dc.global_graph()
        assert g.number_of_edges() == st.graph_edges
        _, _, data = next(iter(g.edges(data=True)))
        assert set(data) == {"weight", "co_activations", "created_tick", "last_activated_tick"}
        same = dc.to_networkx()  # named as Colony.to_networkx
        assert sorted(same.nodes(data=True)) == sorted(g.nodes(data=True))
        assert sorted(same.edges(data=True)) == sorted(g.edges(data=True))
        assert len(dc.documents()) == 40
        health = [s.health() for s in dc.runner.shards]
        assert all(h.healthy and h.memory_usage_mb > 0 for h in health)


def test_automatic_layout_and_routing() -> None:
    with DistributedColony(3, seed=1) as dc:
        ids = dc.ingest_documents([("a", "alpha beta gamma"), ("b", "delta epsilon zeta")])
        for did in ids:
            owner = int(dc.coordinator.route_document(int(did)))
            assert any(d.id == did for d in dc.runner.shards[owner].documents())


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (("blank", "   \n"), EmptyDocument),
        (("binary", "cell\x00wall"), DocumentError),
        (("bytes", b"cell wall"), DocumentError),
        (("huge", "cell " * 30), DocumentError),
        (("nowhere", "cell wall", (float("nan"), 0.0)), InvalidPosition),
        (("surrogate", "cell \ud800 wall"), DocumentError),
        (("pair", "cell wall", (1.0, 2.0, 3.0)), InvalidPosition),
    ],
)
def test_a_bad_document_in_a_batch_stores_none_of_it(bad: tuple, error: type) -> None:  # type: ignore[type-arg]
    good = [(f"d{i}", f"alpha{i} beta gamma cell membrane") for i in range(9)]
    with DistributedColony(3, config=ColonyConfig(max_document_chars=100), seed=1) as dc:
        with pytest.raises(error, match=bad[0]):
            dc.ingest_documents([*good[:5], bad, *good[5:]])
        assert dc.documents() == []
        ids = dc.ingest_documents(good)  # nothing half-done: the batch again, without it
        assert sorted(d.id for d in dc.documents()) == sorted(ids) and len(set(ids)) == 9
        assert dc.ingest_documents(good) == ids  # sent again (a retried flush): stored once
        assert len(dc.documents()) == 9


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        DistributedColony(0)
    with pytest.raises(ConfigError):
        DistributedColony(2, backend="carrier-pigeon")
    with pytest.raises(ConfigError):
        RunnerConfig(phase_timeout_ms=0)
    with DistributedColony(1) as dc, pytest.raises(ConfigError):
        dc.ray_actor(0)


def test_duplicate_shard_ids_rejected() -> None:
    ring = ConsistentHashRing(2)
    with pytest.raises(ConfigError):
        DistributedRunner(
            Coordinator(2), [ShardedColony(0, None, ring), ShardedColony(0, None, ring)]
        )


def test_more_registered_than_running_times_out() -> None:
    ring = ConsistentHashRing(2)
    runner = DistributedRunner(
        Coordinator(3),
        [ShardedColony(i, None, ring) for i in range(2)],
        RunnerConfig(phase_timeout_ms=200),
    )
    with pytest.raises(DistributedError):
        asyncio.run(runner.tick())
    runner.close()


def test_spawn_digesters_places_agents_on_each_shard() -> None:
    with _cluster(2) as dc:
        assert [s.colony.alive_count for s in dc.runner.shards] == [3, 3]
        assert all(isinstance(a, Digester) for s in dc.runner.shards for a in s.colony.agents)


def test_sentinels_on_a_shard_see_the_global_distribution() -> None:
    from phago.agents.distribution import AggregatedDistribution, LocalDistribution
    from phago.agents.sentinel import Sentinel

    with _cluster(3, config=ColonyConfig()) as dc:
        sentinel = Sentinel(Position(20, 20))
        dc.spawn(sentinel, shard=1)
        dc.run(30)
        live = next(a for a in dc.runner.shards[1].colony.agents if isinstance(a, Sentinel))
        assert isinstance(live.provider, AggregatedDistribution)
        got = live.provider.distribution(dc.runner.shards[1].colony.graph, dc.current_tick)
        assert got.total > 0 and got.edge_n > 0
        local_only = LocalDistribution.measure(dc.runner.shards[1].colony.graph)
        assert got.total != local_only.total  # not just the shard's own view
        assert len(got.counts) > len(local_only.counts) // 2
        with pytest.raises(ConfigError):
            dc.spawn(Sentinel(Position(0, 0)), shard=7)


def test_global_distribution_equals_merged_graph_measure() -> None:
    from phago.agents.distribution import GraphDistribution, LocalDistribution

    with _cluster(4, config=ColonyConfig()) as dc:
        dc.run(25)
        parts = dc._call_all("owned_distribution")
        merged = GraphDistribution.merge(parts)
        want = LocalDistribution.measure(dc.graph)
        assert merged.counts == want.counts
        assert merged.edge_n == want.edge_n
        assert merged.edge_sum == pytest.approx(want.edge_sum)


def test_an_unreachable_cluster_address_fails_fast_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket
    import time

    from ray._private import services

    from phago.distributed.backends.ray import check_reachable

    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))  # no cluster file: "auto" left to Ray
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    # ("auto" takes a Ray running on this machine, another test run's, over the file)
    monkeypatch.setattr(services, "find_gcs_addresses", lambda: [])

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        check_reachable(f"127.0.0.1:{port}")  # something listens: left to Ray
        check_reachable(f"ray://127.0.0.1:{port}")
    for address in (None, "auto", "local", "ray://head-node", "head-node"):
        check_reachable(address)  # no port: left to Ray
    started = time.perf_counter()
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}", f"[::1]:{port}"):
        with pytest.raises(DistributedError, match="no Ray cluster at"):
            check_reachable(address, timeout_s=2.0)
    assert time.perf_counter() - started < 6.5
    # "auto" where the cluster file of a cluster stopped uncleanly names a dead address:
    # probed there (Ray retried it for good, more than eight minutes in an audit)
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{port}")
    started = time.perf_counter()
    with pytest.raises(
        DistributedError, match=r"that 'auto' finds in Ray's cluster file.*ray stop"
    ):
        check_reachable("auto", timeout_s=2.0)
    assert time.perf_counter() - started < 3.0


def test_local_default_checkpoints_are_spaced_by_cost_and_give_the_same_graph() -> None:
    docs = load_sample_corpus()
    rows = [(d.title, d.content, p) for d, p in zip(docs, grid_positions(len(docs)), strict=True)]
    spaced = DistributedColony(2, seed=3)
    every = DistributedColony(2, seed=3, checkpoint_every=1)
    given = DistributedColony(2, seed=3, runner_config=RunnerConfig(checkpoint_every=7))
    try:
        assert spaced.runner._config.checkpoint_cost_share == DEFAULT_CHECKPOINT_COST_SHARE
        assert spaced.runner._config.checkpoint_every == 50
        assert every.runner._config.checkpoint_cost_share is None  # asked for: exact
        assert given.runner._config.checkpoint_cost_share is None
        for dc in (spaced, every):
            dc.ingest_documents(rows)
            dc.spawn_digesters(2)
            dc.run(12)
        edges = [
            sorted(
                (min(a, b), max(a, b), e.weight, e.co_activations) for a, b, e in dc.graph.edges()
            )
            for dc in (spaced, every)
        ]
        assert edges[0] == edges[1] and edges[0]
        assert every.runner._checkpoint is not None and every.runner._checkpoint.tick == 11
    finally:
        for dc in (spaced, every, given):
            dc.close()


def test_a_colony_works_where_an_event_loop_already_runs() -> None:
    # a Jupyter cell or a coroutine: the calling thread runs an event loop, in which the
    # colony's own cannot run; it runs in a helper thread while the caller waits (before,
    # every call raised "Cannot run the event loop while another loop is running")
    from distributed_signature import graph_signature

    with _cluster(3, config=ColonyConfig()) as outside:
        outside.run(10)
        want = graph_signature(outside), outside.query("cell membrane", 5)

    async def inside() -> tuple[object, object, int]:
        with _cluster(3, config=ColonyConfig()) as dc:
            dc.run(6)
            ran = await asyncio.to_thread(dc.run, 4)  # from a worker thread: no loop there
            return graph_signature(dc), dc.query("cell membrane", 5), len(ran)

    sig, hits, ran = asyncio.run(inside())
    assert (sig, hits) == want and ran == 4


def _ctrl_c_after(seconds: float) -> threading.Timer:
    """Send this process SIGINT (what Ctrl-C sends) after ``seconds``."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.parametrize("in_a_loop", [False, True])
def test_ctrl_c_stops_a_run_at_the_next_tick_boundary(in_a_loop: bool) -> None:
    # Ctrl-C in the middle of a long run (in a script, or in a notebook, where an event
    # loop runs): the tick under way completes, the run stops there and KeyboardInterrupt
    # is raised; no checkpoint is needed, nothing is rolled back, and the next run goes on
    # from there as if the run had been asked for that many ticks (before, the next call
    # ran the rest of the interrupted run)
    from distributed_signature import graph_signature

    dc = _cluster(3, config=ColonyConfig(), checkpoint_every=None)
    dc.run(2)
    early = graph_signature(dc)  # (the merged graph, cached)
    seen: list[int] = []
    timers: list[threading.Timer] = []

    def progress(r: DistributedTickResult) -> None:
        seen.append(r.tick)
        if not timers:  # Ctrl-C once the run is under way (a timer started before the run
            # could fire before its first tick on a loaded machine, and the run stop at 2)
            timers.append(_ctrl_c_after(0.2))

    try:
        with pytest.raises(KeyboardInterrupt):
            if in_a_loop:  # as a notebook's kernel runs a cell: SIGINT's handler untouched

                async def run_long() -> None:
                    dc.run(100_000, on_progress=progress)

                loop = asyncio.new_event_loop()
                try:
                    loop.run_until_complete(run_long())
                finally:
                    loop.close()
            else:
                dc.run(100_000, on_progress=progress)
    finally:
        for timer in timers:
            timer.cancel()
    try:
        at = dc.current_tick
        assert 2 < at < 100_000 and dc.runner.recoveries == []
        # the ticks the stopped call completed are accounted for: the history, the
        # progress seen, and the merged graph read afresh (before, the graph cached at
        # tick 2 was still returned)
        assert [h[0] for h in dc.history] == list(range(1, at + 1)) and seen[-1] == at
        _goes_on_as_a_clean_run(dc, early, checkpoint_every=None)
    finally:
        dc.close()


def _goes_on_as_a_clean_run(
    dc: DistributedColony, early: object, **runner: Any
) -> list[DistributedTickResult]:
    """Check that ``dc``, stopped at its current tick, has the graph of a clean run of as
    many ticks (read afresh: not ``early``, the signature cached before), and that three
    more ticks keep it so; returns those ticks' results."""
    from distributed_signature import graph_signature

    at = dc.current_tick
    with _cluster(3, config=ColonyConfig(), **runner) as clean:
        clean.run(at)
        assert graph_signature(dc) == graph_signature(clean) != early
        results = dc.run(3)
        assert [r.tick for r in results] == [at + 1, at + 2, at + 3]
        clean.run(3)
        assert graph_signature(dc) == graph_signature(clean)
    return results


def _run_cancelled_in(
    monkeypatch: pytest.MonkeyPatch,
    dc: DistributedColony,
    shard_index: int,
    phase: TickPhase,
    tick: int,
) -> None:
    """Run ``dc`` and cancel the run (what a second Ctrl-C does) from inside ``phase`` of
    ``tick`` on one shard, once: the cancel lands while the tick is under way, between its
    phases on the other shards. The run must raise ``CancelledError``."""
    shard = dc.runner.shards[shard_index]
    plain = ShardedColony.tick_phase
    fired: list[int] = []

    def cancelling(self: ShardedColony, p: TickPhase) -> object:
        if self is shard and p is phase and self.current_tick == tick - 1 and not fired:
            fired.append(1)
            dc._loop.call_soon_threadsafe(dc._interrupt, 2)
            time.sleep(0.2)  # (the loop takes the cancel while this tick is under way)
        return plain(self, p)

    monkeypatch.setattr(ShardedColony, "tick_phase", cancelling)
    try:
        with pytest.raises(asyncio.CancelledError):
            dc.run(100_000)
    finally:
        monkeypatch.undo()
    assert fired == [1]


def test_a_run_cancelled_mid_tick_is_rolled_back_to_its_last_completed_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # what a second Ctrl-C does: the run is cancelled between two phases of a tick; the
    # runner stops the driver at a phase boundary, rolls back to the checkpoint and
    # replays the completed ticks; the next tick's result reports it
    from distributed_signature import graph_signature

    dc = _cluster(3, config=ColonyConfig(), checkpoint_every=5)
    dc.run(2)
    early = graph_signature(dc)  # (the merged graph, cached)
    _run_cancelled_in(monkeypatch, dc, 1, TickPhase.DECAY, 13)
    try:
        at = dc.current_tick
        assert at == 12
        [recovery] = dc.runner.recoveries
        assert (recovery.restored_tick, recovery.replayed_ticks) == (12, 2)  # from 10
        assert "interrupted in tick 13" in recovery.error
        results = _goes_on_as_a_clean_run(dc, early, checkpoint_every=5)
        assert results[0].recovered is recovery
    finally:
        dc.close()


def test_a_run_cancelled_mid_tick_without_checkpoints_leaves_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dc = _cluster(2, config=ColonyConfig(), checkpoint_every=None)
    _run_cancelled_in(monkeypatch, dc, 0, TickPhase.ACT, 4)
    try:
        with pytest.raises(DistributedError, match=r"interrupted in tick 4 and no checkpoint"):
            dc.run(1)
    finally:
        dc.close()


class _SlowAgent(Agent):
    """An agent that takes 20 ms a tick: runs long enough to be stopped from a thread."""

    agent_type = "slow-test"

    def sense(self, view: object) -> Idle:
        time.sleep(0.02)
        return Idle()


def _slow_cluster() -> DistributedColony:
    dc = DistributedColony(2, seed=0)
    dc.ingest_documents([(d.title, d.content) for d in load_sample_corpus()[:10]])
    dc.spawn_digesters(1)
    dc.spawn(_SlowAgent(Position(0, 0)), shard=0)
    return dc


def test_a_run_is_stopped_or_closed_from_another_thread_at_a_tick_boundary() -> None:
    # (request_stop() from another thread was ignored, and close() crashed both threads)
    for how in ("request_stop", "close"):
        dc = _slow_cluster()
        got: list[object] = []
        worker = threading.Thread(target=lambda dc=dc, got=got: got.append(dc.run(2000)))
        worker.start()
        time.sleep(0.5)
        with pytest.raises(ColonyBusy, match="another call on this colony is under way"):
            dc.stats()  # the run holds the colony: another thread is told so, at once
        getattr(dc, how)()
        worker.join(timeout=60)
        assert not worker.is_alive() and len(got) == 1
        ran = got[0]
        assert isinstance(ran, list) and 0 < len(ran) < 2000
        if how == "close":
            with pytest.raises(ColonyClosed):
                dc.run(1)
            assert dc.current_tick == len(ran)
        else:
            assert dc.current_tick == len(ran)
            assert len(dc.run(2)) == 2 and dc.current_tick == len(ran) + 2
            dc.close()
