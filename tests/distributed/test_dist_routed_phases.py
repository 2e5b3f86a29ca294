"""The Ray actors' pipelined calls (``run_step`` and its halves ``run_sense_act``,
``run_decay_advance``), driven in-process.

A pipelined Ray tick passes its data actor to actor: Sense and Act return Act's batches as
one part per other shard, which Decay and Advance take, with last tick's Decay parts (asks
and answers); Decay returns one part per other shard for the next tick's. Here actor bodies are
driven without Ray, parts handed over by hand as the pipeline addresses them, and must end
exactly like the runner's tick.
"""

from __future__ import annotations

import gc
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from inline_tick import inline_tick

from phago import ColonyConfig, Digester, Position
from phago.agents.spawn import NoSpawnPolicy
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import ConsistentHashRing, ShardedColony, ShardId
from phago.distributed.backends.ray import (
    _SKIPPED,
    ShardActorImpl,
    StepSpec,
    _dump,
    _inbound,
    _lean_sense,
    _part,
    _refs,
    _slot,
)
from phago.distributed.messages import HeldMessages, TickOutlook, UpdateBatch
from phago.distributed.runner import all_idle
from phago.distributed.timeline import DECAY_ADVANCE, SENSE_ACT, wait_summary
from phago.errors import BarrierFailed, RoutingFailed
from phago.ids import document_id


def load(shards: list[ShardedColony], ring: ConsistentHashRing) -> None:
    docs = load_sample_corpus()
    for d, p in zip(docs, grid_positions(len(docs)), strict=True):
        shards[int(ring.get_shard(int(document_id(d.title, d.content))))].ingest_document(
            d.title, d.content, p
        )
    for s in shards:
        for j, (x, y) in enumerate(s.document_positions()[:2]):
            s.spawn(Digester(Position(x + 1, y + 1), seed=j))


def twins(
    n: int, config: ColonyConfig | None = None
) -> tuple[list[ShardedColony], list[ShardActorImpl]]:
    """``n`` plain shards and ``n`` actor bodies over one ring, loaded alike."""
    ring = ConsistentHashRing(n)
    cfg = config or ColonyConfig()
    plain = [ShardedColony(ShardId(i), cfg, ring, seed=0) for i in range(n)]
    load(plain, ring)
    actors = [ShardActorImpl(i, cfg, ring, 0, 1000) for i in range(n)]
    load([a.shard for a in actors], ring)
    return plain, actors


def routed_tick(
    actors: list[ShardActorImpl], held: list[list[Any]] | None, chained: bool = False
) -> list[list[Any]]:
    """One pipelined tick: Sense and Act in one call, Decay and Advance in another (as the
    pipeline submits them), each call's parts handed from every actor to every actor;
    returns the second calls' returns (their parts go to the next tick's second calls).
    ``chained``: submitted as the pipeline chains a tick, stopping when idle."""
    n = len(actors)
    first = []
    outs = [_refs(a.run_sense_act(None, None, True, n, chained, chained)) for a in actors]
    skipped = [out[-1] == _SKIPPED for out in outs]
    if any(skipped):
        assert all(skipped)  # every shard decides alike
        return [_refs(a.run_decay_advance(None, True, n, True)) for a in actors]
    for out in outs:
        assert len(out) == n  # Act's batches for each other shard, then both results
        both = pickle.loads(out[-1])
        assert (both.first.phase.value, both.second.phase.value) == ("Sense", "Act")
        first.append(out)
    second = []
    for i, a in enumerate(actors):
        before = _inbound(held, i) if held is not None else []
        out = _refs(
            a.run_decay_advance(None, True, n, held is not None, *_inbound(first, i), *before)
        )
        both = pickle.loads(out[-1])
        assert (both.first.phase.value, both.second.phase.value) == ("Decay", "Advance")
        second.append(out)
    return second


def state(shards: list[ShardedColony]) -> list[Any]:
    out: list[Any] = []
    for s in shards:
        og = s.owned_graph()
        ghosts = sorted((int(g.node_id), g.label) for g in s.ghost_nodes())
        out.append(
            (og.node_ids.tolist(), og.access.tolist(), og.edge_a.tolist(), og.weight.tolist())
        )
        out.append(ghosts)
    return out


def test_routed_phases_end_like_the_runner_tick() -> None:
    plain, actors = twins(3)
    held = HeldMessages()
    parts = None
    for _ in range(20):
        held = inline_tick(plain, held)
        parts = routed_tick(actors, parts)
        assert state(plain) == state([a.shard for a in actors])
        assert all(len(p) == 3 for p in parts)  # a part for each other shard, the result
        results = [pickle.loads(p[-1]).first for p in parts]  # parts and results are pickles
        assert all(r.ghost_requests == r.ghost_answers == {} for r in results)  # in the parts
    assert any(s.ghost_nodes() for s in plain)
    assert any(a.shard.colony.graph.edge_count for a in actors)
    spans = [a.call_spans() for a in actors]  # each actor noted its 40 calls, in order
    assert [[(c.tick, c.call) for c in s] for s in spans] == [
        [(t, call) for t in range(20) for call in (SENSE_ACT, DECAY_ADVANCE)]
    ] * 3
    assert all(c.start <= c.end for s in spans for c in s)
    summary = wait_summary(spans)
    assert summary.ticks == 20 and all(w.calls == 40 for w in summary.shards)


def test_usual_sense_payload_is_not_sent() -> None:
    usual = {"collect": False, "distribution": None}
    assert _lean_sense(usual) is None
    assert _lean_sense({**usual, "collect": True}) is not None
    assert _lean_sense({**usual, "distribution": object()}) is not None


def test_parts_for_unknown_shards_are_routing_errors() -> None:
    parts: list[list[int]] = [[], []]
    _part(parts, 1, "updates").append(7)
    assert parts == [[], [7]]
    with pytest.raises(RoutingFailed, match="unknown shard 2"):
        _part(parts, 2, "updates")
    with pytest.raises(RoutingFailed):
        _part(parts, -1, "ghost answers")


def test_parts_are_addressed_to_the_other_shards_in_order() -> None:
    # shard j returns its parts for the shards other than itself, in shard order
    assert [_slot(0, d) for d in (1, 2, 3)] == [0, 1, 2]
    assert [_slot(2, d) for d in (0, 1, 3)] == [0, 1, 2]
    outs = [[f"{j}->{d}" for d in range(3) if d != j] + ["result"] for j in range(3)]
    assert [_inbound(outs, d) for d in range(3)] == [
        ["1->0", "2->0"],
        ["0->1", "2->1"],
        ["0->2", "1->2"],
    ]
    assert _refs("only") == ["only"] and _refs(["a", "b"]) == _refs(("a", "b")) == ["a", "b"]


def test_one_shard_returns_the_result_alone() -> None:
    ring = ConsistentHashRing(1)
    actor = ShardActorImpl(0, ColonyConfig(), ring, 0, 1000)
    load([actor.shard], ring)
    for _ in range(3):  # one return each: the results
        both = pickle.loads(actor.run_sense_act(None, None, True, 1))
        assert (both.first.phase.value, both.second.phase.value) == ("Sense", "Act")
        assert both.second.updates == []
        both = pickle.loads(actor.run_decay_advance(None, True, 1, False))
        assert (both.first.phase.value, both.second.phase.value) == ("Decay", "Advance")


def test_a_part_addressed_to_the_sender_itself_is_a_routing_error() -> None:
    ring = ConsistentHashRing(2)
    actor = ShardActorImpl(1, ColonyConfig(), ring, 0, 1000)
    actor.shard.take_outbox = lambda: [UpdateBatch(1, 1, 0)]  # type: ignore[method-assign]
    assert gc.isenabled()
    sense_act = StepSpec(False, False, None, True, None, None, False, False, True, 2)
    with pytest.raises(RoutingFailed, match="shard-1 addressed its own Act output"):
        actor.run_step(_dump(sense_act))
    # the call failed after Sense paused the cyclic collector: the failure ended the pause
    assert gc.isenabled()


def test_a_chained_tick_decides_from_the_outlooks_sent_with_the_batches() -> None:
    # every shard decides alone whether a chained tick runs, from the outlooks the other
    # shards sent with this tick's update batches: exactly what the runner decides from
    # the Advance results, so the run stops at the same tick
    plain, actors = twins(2)
    parts = routed_tick(actors, None)
    held = inline_tick(plain, HeldMessages())
    ran = 1
    while True:
        advance = [pickle.loads(p[-1]).second for p in parts]
        outlooks = [TickOutlook(r.busy, r.wants_distribution) for r in advance]
        for a in actors:  # as Advance reports them (its results do not say steady)
            assert a._outlooks is not None
            assert [TickOutlook(o.busy, o.wants_distribution) for o in a._outlooks] == outlooks
        parts = routed_tick(actors, parts, chained=True)
        if all(p == [_SKIPPED] * 2 for p in parts):  # both calls of every shard skipped
            assert all_idle(advance)
            break
        assert not all_idle(advance)
        held = inline_tick(plain, held)
        ran += 1
        assert state(plain) == state([a.shard for a in actors])
    assert 5 < ran < 300
    assert all(not a.shard.colony.has_undigested_work() for a in actors)


def test_a_chained_tick_needs_the_outlooks_of_the_tick_before() -> None:
    ring = ConsistentHashRing(1)
    actor = ShardActorImpl(0, ColonyConfig(), ring, 0, 1000)
    with pytest.raises(BarrierFailed, match="without the tick before's outlooks"):
        actor.run_sense_act(None, None, True, 1, True, True)
    with pytest.raises(BarrierFailed, match="Decay without its Act"):
        actor.run_decay_advance(None, True, 1, False)
    actor.run_sense_act(None, None, True, 1)
    actor.run_decay_advance(None, True, 1, False)
    assert actor._outlooks == [TickOutlook(busy=False, wants_distribution=False, steady=True)]
    assert actor.run_sense_act(None, None, True, 1, True, True) == _SKIPPED  # idle: stop
    actor.run_sense_act(None, None, True, 1, False, False)
    actor.run_decay_advance(None, True, 1, False)
    assert actor.run_sense_act(None, None, True, 1, False, True) != _SKIPPED  # goes on
    actor.restore(actor.shard.snapshot(), [])  # a restored shard forgets them
    with pytest.raises(BarrierFailed):
        actor.run_sense_act(None, None, True, 1, True, True)


class Steps:
    """Drives ``run_step`` on in-process actors as :class:`RayTickPipeline` submits it: each
    call runs the due Decay and Advance, if any, then (``sense``) a tick's Sense and Act,
    and takes the other shards' Act parts of the call that ran that Sense and Act, then
    their Decay parts of the call that ran the Decay before."""

    def __init__(self, actors: list[ShardActorImpl]) -> None:
        self.actors = actors
        self.act: list[list[Any]] | None = None  # the outs of the call with a due Decay
        self.held: list[list[Any]] | None = None  # the outs of the call with the last Decay
        self.shared: list[bool] = []  # per Decay: its two inputs came from one call

    def call(self, sense: bool, chained: bool = False) -> list[Any]:
        n = len(self.actors)
        decay = self.act is not None
        held = self.held if decay else None
        if decay:
            self.shared.append(held is self.act)
        nested = decay and sense and chained  # as RayTickPipeline passes them
        outs = []
        for i, a in enumerate(self.actors):
            parts = _inbound(self.act, i, n - 1) if self.act is not None else []
            if held is not None:
                parts += _inbound(held, i)
            spec = StepSpec(
                decay, held is not None, None, sense, None, None, chained, chained, True, n, nested
            )
            out = _refs(
                a.run_step(_dump(spec), parts) if nested else a.run_step(_dump(spec), *parts)
            )
            assert len(out) == 2 * n - 1  # Decay's parts, then Act's, then the results
            outs.append(out)
        results = [pickle.loads(o[-1]) for o in outs]
        if decay:
            self.held = outs
            assert all(r.decay is not None for r in results)
        skipped = [r.sense == _SKIPPED for r in results]
        assert all(skipped) or not any(skipped)  # every shard decides alike
        self.act = outs if sense and not any(skipped) else None
        return results


def test_steps_run_ticks_as_the_runner_does_in_any_grouping() -> None:
    # one call per tick (each Decay with the next Sense and Act), a Decay on its own, a
    # Sense and Act on its own, a Decay whose last Decay's parts came from an earlier call:
    # the shards end every tick exactly as the runner's inline tick ends it
    plain, actors = twins(3)
    steps = Steps(actors)
    held = HeldMessages()
    for ticks in (8, 1, 5):
        steps.call(sense=True)  # a tick's Sense and Act alone
        for _ in range(ticks - 1):
            held = inline_tick(plain, held)
            steps.call(sense=True)  # its Decay with the next tick's Sense and Act
        held = inline_tick(plain, held)
        results = steps.call(sense=False)  # the last Decay alone
        assert all(r.sense is None for r in results)
        advance = [pickle.loads(r.decay).second for r in results]
        assert [r.tick for r in advance] == [plain[0].current_tick] * 3
        assert state(plain) == state([a.shard for a in actors])
    # the first Decay had none before it; the next 7 took both inputs from the call
    # before; the 9th (a tick alone) its Act's from one call and the Decay before's from
    # the one before that
    assert steps.shared[:9] == [False] + [True] * 7 + [False]
    assert any(s.ghost_nodes() for s in plain)
    spans = [a.call_spans() for a in actors]  # two spans a tick, whatever the grouping
    assert [[(c.tick, c.call) for c in s] for s in spans] == [
        [(t, call) for t in range(14) for call in (SENSE_ACT, DECAY_ADVANCE)]
    ] * 3


def chained_until_idle(
    plain: list[ShardedColony], actors: list[ShardActorImpl]
) -> Iterator[list[Any]]:
    """A tick's Sense and Act on ``actors``, then chained steps until they skip one (the
    runner's inline ticks on ``plain`` alongside, one a step): each step's results."""
    steps = Steps(actors)
    held = HeldMessages()
    steps.call(sense=True)
    while True:
        held = inline_tick(plain, held)
        results = steps.call(sense=True, chained=True)
        yield results
        if results[0].sense == _SKIPPED:
            assert steps.act is None
            return


def test_a_chained_step_runs_its_decay_and_skips_only_its_sense_and_act() -> None:
    plain, actors = twins(2)
    ran = 0
    for results in chained_until_idle(plain, actors):
        ran += 1
        advance = [pickle.loads(r.decay).second for r in results]  # the Decay always ran
        assert all_idle(advance) == (results[0].sense == _SKIPPED)
    assert 5 < ran < 300
    assert state(plain) == state([a.shard for a in actors])
    assert all(not a.shard.colony.has_undigested_work() for a in actors)


@pytest.mark.parametrize("config", [ColonyConfig(), ColonyConfig(max_edge_degree=3)])
def test_chained_steps_run_the_next_sense_ahead_and_end_every_tick_as_the_runner_does(
    config: ColonyConfig,
) -> None:
    # a chained call runs its Decay's substrate part, the Advance and the next Sense
    # before it takes the other shards' parts, then the rest of the Decay and the Act: the
    # shards end every tick exactly as the runner's inline tick ends it, and report the
    # same results but for timings
    plain, actors = twins(3, config)
    ran = 0
    for results in chained_until_idle(plain, actors):
        ran += 1
        decay = [pickle.loads(r.decay) for r in results]
        tick = plain[0].current_tick
        assert [(d.first.tick, d.second.tick) for d in decay] == [(tick - 1, tick)] * 3
        assert [d.second.edge_count for d in decay] == [s.colony.graph.edge_count for s in plain]
        if results[0].sense == _SKIPPED:
            continue
        sense = [pickle.loads(r.sense).first for r in results]
        assert [(r.tick, r.edge_count) for r in sense] == [
            (tick, s.colony.graph.edge_count) for s in plain
        ]
    ahead = [a.senses_ahead()[0] for a in actors]
    assert state(plain) == state([a.shard for a in actors])
    assert ran > 5 and all(ran // 2 <= k < ran for k in ahead), (ran, ahead)
    if config.max_edge_degree == 3:
        assert sum(a.shard.cap_dropped() for a in actors) > 0


def test_a_shard_that_may_want_the_distribution_runs_no_sense_ahead() -> None:
    plain, actors = twins(2)
    # a spawn policy could give shard 1 an agent that wants the distribution at any Act
    actors[1].shard.colony.spawn_policy = NoSpawnPolicy()
    plain[1].colony.spawn_policy = NoSpawnPolicy()
    assert sum(1 for _ in chained_until_idle(plain, actors)) > 5
    assert state(plain) == state([a.shard for a in actors])
    assert [a.senses_ahead()[0] for a in actors] == [0, 0]


def test_a_step_without_the_decays_inputs_is_a_barrier_failure() -> None:
    ring = ConsistentHashRing(2)
    actor = ShardActorImpl(0, ColonyConfig(), ring, 0, 1000)
    actor.run_sense_act(None, None, True, 2)
    spec = StepSpec(True, False, None, False, None, None, False, False, True, 2)
    with pytest.raises(BarrierFailed, match="without its inputs"):
        actor.run_step(_dump(spec), b"")  # a part of a half that did not run
    with pytest.raises(BarrierFailed, match="without its inputs"):
        actor.run_step(_dump(spec))
