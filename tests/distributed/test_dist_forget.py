"""Forgetting documents in a live sharded colony: the same result as a forget in its saved
store (save, forget_in_store, load), replayed by a rollback, refused where it must be."""

from __future__ import annotations

import gc
import threading
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from phago import Colony, ColonyConfig, Digester, Position
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony, TickPhase
from phago.distributed import shard as shard_module
from phago.distributed.degree_cap import CapOrder, DegreeReport
from phago.distributed.forget import plan_from_parts, restored_parts
from phago.distributed.shard import ShardedColony
from phago.errors import (
    ColonyBusy,
    ColonyClosed,
    DocumentError,
    PhaseOrderError,
    RpcError,
    StoreError,
)
from phago.graph import HebbianGraph
from phago.state import capture, plan_forget
from phago.store import forget_in_store, load_distributed, save_distributed

DOCS = load_sample_corpus()[:20]
POS = grid_positions(len(DOCS))
LATE = [(f"late {i}", f"membrane{i} protein gene cell", (3.0 * i, 7.0)) for i in range(6)]


def build(shards: int, config: ColonyConfig | None = None, **kwargs: Any) -> DistributedColony:
    dc = DistributedColony(shards, seed=4, config=config, **kwargs)
    dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
    dc.spawn_digesters(2, max_idle=60)
    return dc


def graph_data(g: HebbianGraph) -> list[Any]:
    """Node ids, labels, access counts, edge arrays and provenance, as plain lists."""
    n = g.node_count
    return [
        g._ids_arr[:n].tolist(),
        g.labels(),
        g.access_counts().tolist(),
        *(np.asarray(x).tolist() for x in g.edge_arrays()),
        *(np.asarray(x).tolist() for x in g.provenance_arrays()),
    ]


def shard_reports(dc: DistributedColony) -> list[dict[str, Any]]:
    rows = dc._call_all("report")
    for r in rows:
        r.pop("memory_bytes")  # (buffer capacities: how the shard grew, not what it holds)
    return rows


def held(dc: DistributedColony) -> list[Any]:
    """The messages held between ticks, as plain data."""
    h = dc.runner._held
    asks = [
        (owner, req, *(np.asarray(getattr(x, f.name)).tolist() for f in fields(x)))
        if isinstance(x, DegreeReport)
        else (owner, req, int(x))
        for owner, by in sorted(h.asks.items())
        for req, items in sorted(by.items())
        for x in items
    ]
    answers = [
        (req, "order", o.owner, o.drop.tolist(), o.ask.tolist(), o.ask_local.tolist())
        if isinstance(o, CapOrder)
        else (req, int(o.node_id), o.label, None if o.full_data is None else o.full_data.documents)
        for req, v in sorted(h.answers.items())
        for o in v
    ]
    return [asks, answers]


def shard_extras(dc: DistributedColony) -> list[Any]:
    """Per shard: ghost flags, cached ghosts and the degree cap's state."""
    out = []
    for h in dc.runner.handles:
        sh = h.target
        known, pending = sh.ghost_flags()
        cap = {k: np.asarray(v).tolist() for k, v in sh.degree_cap_state().items()}
        ghosts = [
            (int(g.node_id), g.label, None if g.full_data is None else g.full_data.documents)
            for g in sh.ghost_cache.all_nodes()
        ]
        out.append((known.tolist(), pending.tolist(), ghosts, cap))
    return out


def agent_states(dc: DistributedColony) -> list[Any]:
    return [
        [(x.agent_type, x.state) for x in capture(h.target.colony).agents]
        for h in dc.runner.handles
    ]


def cluster_data(dc: DistributedColony) -> list[Any]:
    """Everything a forget changes: the graph, each shard's report, agents, ghost flags,
    cached ghosts and degree-cap state, and the messages held between ticks."""
    return [graph_data(dc.graph), shard_reports(dc), agent_states(dc), shard_extras(dc), held(dc)]


def assert_same(a: DistributedColony, b: DistributedColony) -> None:
    assert a.current_tick == b.current_tick
    assert graph_data(a.graph) == graph_data(b.graph)
    assert shard_reports(a) == shard_reports(b)
    assert agent_states(a) == agent_states(b)


def forget_both_ways(
    dc: DistributedColony, victims: Sequence[int], tmp_path: Path
) -> tuple[DistributedColony, Any, Any]:
    """Save ``dc``, forget ``victims`` in the store and load it (the twin); then forget
    them in ``dc`` in memory. Returns the twin and both reports."""
    d = save_distributed(dc, tmp_path / "store")
    stored = forget_in_store(d, victims)
    twin = load_distributed(d)
    mine = dc.forget_documents(victims)
    return twin, stored, mine


def reinforce(dc: DistributedColony) -> None:
    """Query reinforcement of the edges of a few well-connected concepts."""
    g = dc.graph
    top = np.argsort(-g.degrees(), kind="stable")[:3].tolist()
    pairs = [(g.id_at(i), other) for i in top for other, _ in g.neighbors(g.id_at(i))]
    dc.reinforce_edges(pairs, [a for a, _ in pairs], 0.05, dc.current_tick)


@pytest.mark.parametrize("shards", [2, 3])
@pytest.mark.parametrize("reinforced", [False, True], ids=["plain", "reinforced"])
def test_forgetting_in_memory_equals_forgetting_in_the_saved_store(
    tmp_path: Path, shards: int, reinforced: bool
) -> None:
    dc = build(shards)
    twin = None
    try:
        dc.run_until_digested(300)
        if reinforced:
            reinforce(dc)
        victims = [d.id for d in dc.documents()][1:6]
        twin, stored, mine = forget_both_ways(dc, [*victims, 12345], tmp_path)
        assert mine.documents_removed == stored.documents_removed == victims
        assert mine.unknown == stored.unknown == [12345]
        assert (mine.nodes_removed, mine.edges_removed, mine.edges_weakened) == (
            stored.nodes_removed,
            stored.edges_removed,
            stored.edges_weakened,
        )
        assert mine.nodes_removed > 0 and mine.edges_removed + mine.edges_weakened > 0
        assert not set(victims) & {d.id for d in dc.documents()}
        assert_same(dc, twin)
        assert held(dc) == held(twin) and shard_extras(dc) == shard_extras(twin)
        for c in (dc, twin):  # and they go on alike, new documents and agents included
            c.ingest_documents(LATE)
            c.spawn_digesters(1, max_idle=60)
            c.run(15)
        assert dc.history[-15:] == twin.history[-15:]
        assert_same(dc, twin)
    finally:
        dc.close()
        if twin is not None:
            twin.close()


def test_agents_holding_a_forgotten_document_drop_it_as_in_the_store(tmp_path: Path) -> None:
    dc = build(2)
    twin = None
    try:
        held_docs: list[int] = []
        for _ in range(40):
            dc.run(1)
            held_docs = [
                int(a.current_document)
                for h in dc.runner.handles
                for a in h.target.colony.agents
                if getattr(a, "engulfed", None)
            ]
            if held_docs:
                break
        assert held_docs, "no agent held a document"
        twin, stored, mine = forget_both_ways(dc, held_docs, tmp_path)
        once = list(dict.fromkeys(held_docs))
        assert mine.documents_removed == stored.documents_removed == once
        holders = [
            a
            for h in dc.runner.handles
            for a in h.target.colony.agents
            if getattr(a, "current_document", None) in held_docs
        ]
        assert holders == []
        assert_same(dc, twin)
        for c in (dc, twin):
            c.run_until_digested(300)
        assert_same(dc, twin)
        assert dc.stats().documents_digested == len(DOCS) - len(set(held_docs))
    finally:
        dc.close()
        if twin is not None:
            twin.close()


def test_the_plan_from_the_shards_answers_is_the_plan_from_their_states() -> None:
    with build(3) as dc:
        dc.run(40)
        reinforce(dc)
        victims = [d.id for d in dc.documents()][::3]
        states = [capture(h.target.colony) for h in dc.runner.handles]
        whole = plan_forget(states, victims)
        shards = [h.target for h in dc.runner.handles]
        plan = plan_from_parts(
            victims,
            [s.forget_presented(victims) for s in shards],
            lambda p, c: [s.forget_needs(p, c) for s in shards],
            lambda p, since, needed: [s.forget_supported(p, since, needed) for s in shards],
        )
        assert plan.documents == whole.documents
        assert whole.supported.any() and len(whole.drop)
        for name in ("ends", "keys", "slots", "ticks", "supported", "drop"):
            assert np.array_equal(getattr(plan, name), getattr(whole, name)), name


# the degree cap's messages held between ticks, each after its own Decay of a round
DEGREES, ASKS, EDGES, DROPS = "degrees", "asks", "edges", "drops"


def in_flight(dc: DistributedColony) -> set[str]:
    h = dc.runner._held
    reports = [x for by in h.asks.values() for v in by.values() for x in v]
    reports = [r for r in reports if isinstance(r, DegreeReport)]
    orders = [x for v in h.answers.values() for x in v if isinstance(x, CapOrder)]
    there = {
        DEGREES: any(len(r.nodes) for r in reports),
        ASKS: any(len(o.ask) for o in orders),
        EDGES: any(len(r.edge_node) for r in reports),
        DROPS: any(len(o.drop) for o in orders),
    }
    return {kind for kind, yes in there.items() if yes}


@pytest.mark.parametrize("kind", [EDGES, ASKS, DROPS])
def test_the_degree_cap_in_flight_is_renumbered_as_in_the_store(tmp_path: Path, kind: str) -> None:
    dc = build(3, ColonyConfig(max_edge_degree=3))
    twin = None
    try:
        for _ in range(80):
            dc.run(1)
            if kind in in_flight(dc):
                break
        else:
            pytest.fail(f"no {kind} were ever held between ticks")
        inflight = [len(h.target.degree_cap_state()["cap_inflight"]) for h in dc.runner.handles]
        victims = [d.id for d in dc.documents()][:3]
        twin, stored, mine = forget_both_ways(dc, victims, tmp_path)
        assert mine.nodes_removed == stored.nodes_removed > 0
        assert held(dc) == held(twin) and shard_extras(dc) == shard_extras(twin)
        assert kind != DROPS or any(inflight)
        assert_same(dc, twin)
        for c in (dc, twin):
            c.run(12)
        assert dc.history[-12:] == twin.history[-12:]
        assert_same(dc, twin)
    finally:
        dc.close()
        if twin is not None:
            twin.close()


def fail_once_in_act(dc: DistributedColony, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shard 1 raises in its next Act (once)."""
    target = dc.runner.handles[1].target
    real = target.run_phase

    def fails_once(phase: object, *rest: object) -> object:
        if phase is TickPhase.ACT:
            monkeypatch.setattr(dc.runner.handles[1].target, "run_phase", real)
            raise RuntimeError("a shard fails in Act")
        return real(phase, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(target, "run_phase", fails_once)


@pytest.mark.parametrize("before", [7, 5], ids=["after-the-checkpoint", "at-the-checkpoint"])
def test_a_forget_is_replayed_after_a_rollback(
    monkeypatch: pytest.MonkeyPatch, before: int
) -> None:
    """A forget between runs is logged: a failed tick after it rolls back to the checkpoint
    before and replays it at its tick, the shards' part and the held messages' alike."""
    cap = ColonyConfig(max_edge_degree=3)
    clean, flaky = build(3, cap, checkpoint_every=5), build(3, cap, checkpoint_every=5)
    try:
        for dc in (clean, flaky):
            dc.run(before)  # (the checkpoint at 5, taken by the run to 7)
            if before == 5:
                assert dc.checkpoint() == 5  # (the forget then comes after it, at its tick)
            dc.ingest_documents(LATE[:2])  # (logged before the forget, at the same tick)
        victims = [d.id for d in clean.documents()][:4]
        for dc in (clean, flaky):
            dc.forget_documents(victims)
        kinds = [op[1] for op in flaky.runner.handles[1].target.oplog()]
        assert kinds[-2:] == ["forget", "forget_renumber"]
        assert len(flaky.runner._held_ops or []) == 1
        fail_once_in_act(flaky, monkeypatch)
        with pytest.raises(RpcError):
            flaky.tick()  # rolled back to 5, replayed to `before`, the forget again
        assert flaky.runner.recoveries[-1].restored_tick == before
        assert isinstance(flaky.runner.handles[1].target, ShardedColony)
        assert_same(flaky, clean)
        assert held(flaky) == held(clean)
        for dc in (clean, flaky):
            dc.run(9)
        assert_same(flaky, clean)
        assert flaky.history[-9:] == clean.history[-9:]
        fail_once_in_act(flaky, monkeypatch)  # a later failure, after a newer checkpoint
        with pytest.raises(RpcError):
            flaky.tick()
        assert_same(flaky, clean)
    finally:
        clean.close()
        flaky.close()


@pytest.mark.parametrize("failing", [0, 2], ids=["first-shard", "last-shard"])
def test_a_shard_that_cannot_forget_leaves_every_shard_as_it_was(
    monkeypatch: pytest.MonkeyPatch, failing: int
) -> None:
    """Every shard works its forget out before any shard changes: one whose result would
    not restore (a StoreError) leaves the whole cluster as it was, and the same forget
    then goes through as on a cluster that never failed."""
    cap = ColonyConfig(max_edge_degree=3)
    clean, flaky = build(3, cap), build(3, cap)
    try:
        for dc in (clean, flaky):
            dc.run(6)
        victims = [d.id for d in clean.documents()][:4]
        before = cluster_data(flaky)
        calls: list[int] = []

        def refuses_on_one_shard(state: Any) -> Any:
            """The check of shard ``failing``'s result fails (local shards prepare in turn)."""
            calls.append(1)
            if len(calls) == failing + 1:
                raise StoreError("colony state is inconsistent after the forget: injected")
            return restored_parts(state)

        monkeypatch.setattr(shard_module, "restored_parts", refuses_on_one_shard)
        with pytest.raises(StoreError, match="injected"):
            flaky.forget_documents(victims)
        assert gc.isenabled()  # (the rounds pause the cyclic collector; a failure ends it)
        assert len(calls) == failing + 1  # (the shards before it had prepared theirs)
        assert cluster_data(flaky) == before
        assert all(h.target._forget_ready is None for h in flaky.runner.handles)
        monkeypatch.setattr(shard_module, "restored_parts", restored_parts)
        reports = [dc.forget_documents(victims) for dc in (clean, flaky)]
        assert reports[0].to_dict() == reports[1].to_dict() and reports[0].nodes_removed > 0
        assert_same(flaky, clean)
        for dc in (clean, flaky):
            dc.run(5)
        assert_same(flaky, clean)
    finally:
        clean.close()
        flaky.close()


class CollectorPasses:
    """Counts the cyclic collector's passes while in ``gc.callbacks``."""

    def __init__(self) -> None:
        self.passes = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        self.passes += phase == "stop"


@pytest.mark.parametrize("shards", [0, 2])
def test_a_forget_runs_without_the_cyclic_collector_and_leaves_it_on(shards: int) -> None:
    """A forget copies the graph, substrate and agents' states (objects in no cycle, made
    by the hundred thousand in a large colony): with the collector on, making them started
    collections of the whole process (a fifth of a forget at W3 D = 30k:
    benchmarks/forget_cost.py). It runs with the collector paused, left on after."""
    colony: Any
    if shards:
        colony = build(shards)
    else:
        colony = Colony(ColonyConfig(), seed=4)
        for d, p in zip(DOCS, POS, strict=True):
            colony.ingest_document(d.title, d.content, p)
        for k in range(2):
            colony.spawn(Digester(POS[k]))
    passes = CollectorPasses()
    try:
        colony.run(8)
        victims = [d.id for d in colony.documents()][:5]
        gc.collect()
        gc.set_threshold(60, 10, 10)  # (a forget makes thousands of objects; its own call a few)
        gc.callbacks.append(passes)
        try:
            report = colony.forget_documents(victims)
        finally:
            gc.callbacks.remove(passes)
            gc.set_threshold(*THRESHOLDS)
        assert report.documents_removed == victims and report.edges_removed > 0
        assert passes.passes == 0 and gc.isenabled()
    finally:
        if shards:
            colony.close()


THRESHOLDS = gc.get_threshold()


def test_a_prepared_forget_is_applied_only_by_its_own_call() -> None:
    """``forget_prepare`` changes nothing; ``forget_documents`` with its token applies what
    it prepared, and works the forget out afresh for another token, other documents or
    none; ``forget_abort`` drops it, and a snapshot never carries one."""
    dc = build(2)
    try:
        dc.run(6)
        shard = dc.runner.handles[0].target
        victims = [d.id for d in dc.documents()][:3]
        plan = plan_forget([capture(h.target.colony) for h in dc.runner.handles], victims)
        before = shard_reports(dc)
        shard.forget_prepare(victims, plan, "t1")
        assert shard._forget_ready is not None and shard_reports(dc) == before
        assert ShardedColony.from_snapshot(shard.snapshot(), shard.ring)._forget_ready is None
        shard.forget_abort("another")
        assert shard._forget_ready is not None
        shard.forget_abort("t1")
        assert shard._forget_ready is None
        ready_graphs = []
        for token, ids in (("t1", victims), ("t2", victims), ("t1", victims[:2]), (None, victims)):
            twin = ShardedColony.from_snapshot(shard.snapshot(), shard.ring)
            twin.forget_prepare(victims, plan, "t1")
            prepared = twin._forget_ready
            assert prepared is not None
            twin.forget_documents(ids, plan, token)
            assert twin._forget_ready is None
            ready_graphs.append(twin.colony.graph is prepared.graph)
        assert ready_graphs == [True, False, False, False]
    finally:
        dc.close()


def test_forget_is_refused_mid_run_elsewhere_and_once_closed() -> None:
    dc = build(2)
    try:
        dc.run(3)
        victim = dc.documents()[0].id
        before = graph_data(dc.graph)
        with pytest.raises(DocumentError):
            dc.forget_documents([victim, -1])
        assert graph_data(dc.graph) == before

        def forget_mid_run(t: int) -> None:
            dc.forget_documents([victim])

        with pytest.raises(PhaseOrderError, match="between runs"):
            dc.run(2, on_tick=forget_mid_run)
        assert victim in {d.id for d in dc.documents()}  # (the run stopped; nothing forgot)
        assert dc.current_tick == 4
        started, release = threading.Event(), threading.Event()

        def slow(tick: int) -> None:
            started.set()
            release.wait(10)

        runner = threading.Thread(target=lambda: dc.run(2, on_tick=slow))
        runner.start()
        try:
            assert started.wait(10)
            with pytest.raises(ColonyBusy):
                dc.forget_documents([victim])
        finally:
            release.set()
            runner.join()
        assert dc.forget_documents([victim]).documents_removed == [victim]
        assert dc.forget_documents([victim]).unknown == [victim]  # (gone already)
    finally:
        dc.close()
    with pytest.raises(ColonyClosed):
        dc.forget_documents([victim])


def test_a_forget_reads_the_merged_graph_afresh() -> None:
    with build(2) as dc:
        dc.run_until_digested(300)
        labels = set(dc.graph.labels())
        victims = [d.id for d in dc.documents()]
        report = dc.forget_documents(victims)
        assert report.nodes_removed == len(labels) and dc.graph.node_count == 0
        assert dc.stats().documents_total == 0 and dc.stats().graph_edges == 0


def test_a_cluster_forget_report_is_marked_distributed_and_shows_no_kept_nodes(
    tmp_path: Path,
) -> None:
    """kept_nodes (old node indices, in one graph) means nothing for a whole cluster, whose
    shards renumber their own nodes: the report says it is a cluster's and its repr leaves
    kept_nodes out (it showed ``kept_nodes=0``); a colony's report keeps it."""
    docs = [("a", "alpha beta gamma", (0, 0)), ("b", "alpha beta delta", (1, 0))]
    with DistributedColony(2, seed=0) as dc:
        _keep, gone = dc.ingest_documents(docs)
        dc.spawn_digesters(1)
        dc.run_until_digested(100)
        path = save_distributed(dc, tmp_path / "c.db")
        mine = dc.forget_documents([gone])
    stored = forget_in_store(path, [gone])
    for r in (mine, stored):
        assert r.distributed and r.nodes_removed == 1 and "kept_nodes" not in repr(r)
        assert repr(r).endswith(", edges_weakened=1, distributed=True)"), repr(r)
    c = Colony(seed=0)
    c.ingest_document("a", "alpha beta gamma", Position(0, 0))
    gone = c.ingest_document("b", "alpha beta delta", Position(1, 0))
    c.spawn(Digester(Position(0, 0)))
    c.run_until_digested(50)
    local = c.forget_documents([gone])
    assert not local.distributed and len(local.kept_nodes) == 3
    assert repr(local).endswith("kept_nodes=3)")
