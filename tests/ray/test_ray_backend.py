"""The Ray backend: identical results to local, recovery from a killed actor, timeouts."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pytest

from distributed_signature import graph_signature as signature
from phago import ColonyConfig, Digester, Position
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony, RunnerConfig, TickPhase
from phago.distributed import colony as dist_colony
from phago.distributed.backends.ray import (
    INLINE_OBJECT_BYTES,
    CompiledPhaseFanOut,
    RayShardHandle,
    RayTickPipeline,
    local_ray_options,
)
from phago.errors import (
    ConfigError,
    DistributedError,
    InvalidAgent,
    PhaseTimeout,
    RpcError,
    ShardNotPlaced,
)
from phago.ids import document_id

ray = pytest.importorskip("ray", reason="the ray extra is part of `make setup`")
pytestmark = pytest.mark.ray

DOCS = load_sample_corpus()
POS = grid_positions(len(DOCS))
SMALL = {"num_cpus": 0.25}
CAP3 = ColonyConfig(max_edge_degree=3)  # the degree cap across shards acts every few ticks
# documents ingested between runs (some go to every shard of three)
LATE = [(f"late {i}", f"membrane{i} protein gene cell", (3.0 * i, 7.0)) for i in range(12)]


@pytest.fixture(scope="session", autouse=True)
def local_ray() -> Iterator[None]:
    """One local Ray with 2 CPUs for the whole test session."""
    if not ray.is_initialized():
        ray.init(**local_ray_options(2))
    yield
    ray.shutdown()


def build(backend: str, shards: int, **kwargs: object) -> DistributedColony:
    if backend == "ray":
        kwargs.setdefault("ray_options", SMALL)
    dc = DistributedColony(shards, backend=backend, seed=0, **kwargs)  # type: ignore[arg-type]
    dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
    dc.spawn_digesters(2, max_idle=60)
    return dc


def _group(dc: DistributedColony) -> CompiledPhaseFanOut:
    """The fan-out group of ``dc``'s Ray shards."""
    group = dc.runner._group
    assert isinstance(group, CompiledPhaseFanOut)
    return group


def _pipeline(dc: DistributedColony) -> RayTickPipeline:
    """Where ``dc``'s Ray shards' whole ticks go (they run without a compiled graph)."""
    pipeline = _group(dc).tick_pipeline
    assert pipeline is not None
    return pipeline


def _handle(dc: DistributedColony, shard: int) -> RayShardHandle:
    """The runner's handle of Ray shard ``shard``."""
    handle = dc.runner.handles[shard]
    assert isinstance(handle, RayShardHandle)
    return handle


def build_checkpointed(shards: int, directory: Path, fan_out: str) -> DistributedColony:
    """Ray shards with a small degree cap (cap orders in flight at the checkpoints), a
    checkpoint every 5 ticks in ``directory``."""
    return build(
        "ray",
        shards,
        config=CAP3,
        checkpoint_every=5,
        checkpoint_dir=str(directory),
        ray_fan_out=fan_out,
    )


def kill_and_wait(actor: object) -> None:
    """Kill a shard's actor and wait until it is dead (``ray.kill`` returns at once, and a
    call sent right after could still be served)."""
    ray.kill(actor)
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        try:
            ray.get(actor.ping.remote(), timeout=10)  # type: ignore[attr-defined]
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.05)
    raise AssertionError("a killed actor still answers after 60 s")


@pytest.mark.parametrize(("shards", "config"), [(2, None), (4, None), (3, CAP3)])
def test_ray_equals_local_tick_for_tick(shards: int, config: ColonyConfig | None) -> None:
    local, remote = build("local", shards, config=config), build("ray", shards, config=config)
    try:
        for _ in range(4):
            local.run(8)
            remote.run(8)
            assert signature(local) == signature(remote)
        assert remote.stats().graph_edges > 0
        # the timelines' counts too (all but the milliseconds)
        counts = [[astuple(r)[:-2] for r in c.timeline()] for c in (local, remote)]
        assert counts[0] == counts[1] and len(counts[0]) == 32
        if config is not None:  # the cap across shards dropped edges on the actors
            assert sum(remote._call(i, "cap_dropped") for i in range(shards)) > 0
        # most chained calls ran their next Sense before the other shards' parts came
        ahead = [remote._call(i, "senses_ahead")[0] for i in range(shards)]
        assert all(a >= 16 for a in ahead), ahead
    finally:
        local.close()
        remote.close()


def test_documents_sent_in_chunks_give_the_graph_local_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the driver sends each chunk while the actors store the previous ones
    monkeypatch.setattr(dist_colony, "_INGEST_CHUNK", 7)
    local, remote = build("local", 2), build("ray", 2)
    try:
        ids = sorted(d.id for d in remote.documents())
        assert len(ids) == len(DOCS) and ids == sorted(d.id for d in local.documents())
        local.run(8)
        remote.run(8)
        assert signature(local) == signature(remote) and remote.stats().graph_edges > 0
        ray.kill(remote.ray_actor(0))
        late = [(f"late {i}", f"alpha{i} beta gamma") for i in range(20)]
        to_one = sum(int(remote.coordinator.route_document(document_id(*d))) == 1 for d in late)
        before = len(remote._call(1, "documents"))
        with pytest.raises(DistributedError, match="shard-0"):
            remote.ingest_documents(late)
        # the error comes once every chunk was sent: the live shard stored all of its own
        assert 0 < to_one < len(late)
        assert len(remote._call(1, "documents")) == before + to_one
    finally:
        local.close()
        remote.close()


def test_the_driver_logs_for_a_replay_from_the_first_checkpoint_and_actors_never() -> None:
    """Nothing is logged for a replay before the first checkpoint (there is nothing to roll
    back to); after it the driver logs what it sends, and the actor keeps nothing (its
    replacement replays the driver's log), so no batch received through the object store,
    whose arrays are views of the stored object, keeps that object (the documents' text
    too) in the store."""
    docs = [
        (f"doc {k}", " ".join(f"word{(k * 7 + j) % 997}" for j in range(150)), (k % 40, k // 40))
        for k in range(1200)
    ]
    assert sum(len(c) for _, c, _ in docs[10:]) > 2 * INLINE_OBJECT_BYTES
    dc = DistributedColony(1, backend="ray", seed=0, ray_options=SMALL, checkpoint_every=50)

    def actor_log(actor: object) -> list[str]:
        return [kind for _, kind, _ in actor.shard.oplog()]  # type: ignore[attr-defined]

    try:
        dc.ingest_documents(docs[:10])
        dc.spawn_digesters(1)
        assert not _handle(dc, 0)._ops  # the driver's log for a replacement
        dc.run(1)  # takes the first checkpoint
        dc.ingest_documents(docs[10:])
        dc.spawn_digesters(1)
        ops = _handle(dc, 0)._ops
        assert ops is not None
        # the digesters are made by the shard, and made again from the same call's arguments
        assert [op[1] for op in ops] == ["ingest_batch", "spawn_digesters"]
        assert ops[1][2] == (1, 0, None, {})
        assert ray.get(dc.ray_actor(0).__ray_call__.remote(actor_log)) == []
        assert len(dc.documents()) == len(docs)
    finally:
        dc.close()


def test_one_pipelined_shard_equals_local() -> None:
    # one shard's routed phases return the result alone (no parts): Ray hands back one
    # reference, not a list, and the pipeline must take it as the result
    local, remote = build("local", 1), build("ray", 1, ray_fan_out="calls")
    try:
        local.run(12)
        remote.run(12)
        pipeline = _group(remote).tick_pipeline
        assert pipeline is not None and len(pipeline._actors) == 1  # whole ticks were submitted
        assert signature(local) == signature(remote) and remote.stats().graph_edges > 0
    finally:
        local.close()
        remote.close()


def test_a_run_until_digested_chains_ticks_and_stops_where_local_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # each tick is submitted before the previous one's results; the one after the last busy
    # tick is skipped by every shard, and what the last Decay sent is still delivered
    from phago.distributed import runner as runner_module

    awaited: list[int] = []  # phases whose results the runner awaited (a task per shard)
    gather = runner_module._gather_outcomes

    async def counted(calls: list[object], timeout: float) -> object:
        awaited.append(len(calls))
        return await gather(calls, timeout)  # type: ignore[arg-type]

    monkeypatch.setattr(runner_module, "_gather_outcomes", counted)
    local, remote = build("local", 2), build("ray", 2, ray_fan_out="calls")
    try:
        ticks = local.run_until_digested(500)
        assert 10 < ticks < 500
        results = remote.run(500, stop_when_idle=True)  # the results kept: one call as well
        # a chained tick's Sense and Act came with the Decay before, and each call's second
        # phase with its first: only each tick's Decay is awaited (and the first Sense)
        assert len(awaited) == ticks + 1 and set(awaited) == {2}
        assert [r.tick for r in results] == list(range(1, ticks + 1))
        pipeline = _pipeline(remote)
        # every tick after the first chained, and the lookahead's ticks after the last
        # (2: a tick's Decay goes in with the next tick) skipped
        ahead = pipeline.lookahead
        assert ahead == 2
        assert (pipeline.chained, pipeline.skipped) == (ticks - 1 + ahead, ahead)
        assert signature(local) == signature(remote)
        local.run(6)
        remote.run(6)
        assert signature(local) == signature(remote)
        assert (pipeline.chained, pipeline.skipped) == (ticks + 4 + ahead, ahead)
        waits = remote.waits()  # every tick run (not the skipped one), both calls a shard
        assert waits is not None and waits.ticks == ticks + 6 and local.waits() is None
        assert all(w.calls == 2 * (ticks + 6) and w.busy_s > 0.0 for w in waits.shards)
    finally:
        local.close()
        remote.close()


def test_a_watched_run_on_ray_chains_the_ticks_of_each_growing_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # what `phago run` does for its progress bar: one on_progress call per runner call,
    # with the documents digested read from the tick's results, while the shards chain
    # each call's ticks (on_tick would take one call, and a driver round trip, a tick)
    monkeypatch.setattr(dist_colony, "_CALL_TARGET_S", 100.0)  # every call counts as quick
    local, remote = build("local", 2), build("ray", 2, ray_fan_out="calls")
    try:
        ticks = local.run_until_digested(500)
        seen: list[tuple[int, int]] = []
        ran = remote.run_until_digested(
            500, on_progress=lambda r: seen.append((r.tick, r.documents_digested()))
        )
        assert ran == ticks and signature(local) == signature(remote)
        assert [t for t, _ in seen][:4] == [1, 3, 7, 15] and seen[-1][0] == ticks
        assert seen[-1][1] == local.stats().documents_digested == len(DOCS)
        assert [d for _, d in seen] == sorted(d for _, d in seen)
        pipeline = _pipeline(remote)
        assert pipeline.chained >= ticks - len(seen)  # all but each call's first tick
    finally:
        local.close()
        remote.close()


def test_shards_skipping_a_tick_the_runner_runs_is_a_barrier_failure() -> None:
    # a stop rule the driver reads one way and the shards the other: never silently
    from phago.distributed.runner import UntilIdle
    from phago.errors import BarrierFailed

    class NeverIdle(UntilIdle):
        def __call__(self, result: object) -> bool:
            return False

    remote = build("ray", 2, ray_fan_out="calls")
    try:
        with pytest.raises(BarrierFailed, match="skipped a chained tick"):
            remote._run(remote.runner.run(500, until=NeverIdle()))
    finally:
        remote.close()


def test_an_actor_dying_in_a_chained_tick_is_recovered_with_identical_graph(
    tmp_path: Path,
) -> None:
    # the shard dies in Act of a tick submitted chained, the tick after it already queued
    clean, flaky = build("local", 2, config=CAP3), build_checkpointed(2, tmp_path, "calls")
    try:
        clean.run(20)
        flaky.inject_fault(1, "exit", TickPhase.ACT, 12)
        results = flaky.run(20)
        recovered = [r.recovered for r in results if r.recovered is not None]
        # the shard exits in tick 13's Act (its tick is 12), which follows its tick 12 at
        # once: the exit may cut off the answer to its tick 12 call, and then tick 12
        # fails instead (one tick replayed from the checkpoint at 10, not two); with two
        # ticks submitted ahead, on a loaded machine also the answer to its tick 11 call
        # (tick 11 fails, none replayed: seen once in a fresh-clone run)
        assert len(recovered) == 1 and recovered[0].replayed_ticks in (0, 1, 2)
        assert [r.tick for r in results] == list(range(1, 21))
        assert _pipeline(flaky).chained >= 12
        assert signature(flaky) == signature(clean)
    finally:
        clean.close()
        flaky.close()


def _sentinel_distribution(dc: DistributedColony) -> tuple[int, list[tuple[str, int]], int, float]:
    """What the sentinel on shard 1 was last given: the merged global distribution."""
    from phago.agents.distribution import AggregatedDistribution
    from phago.agents.sentinel import Sentinel
    from phago.distributed import ConsistentHashRing
    from phago.distributed.shard import ShardedColony

    shard = ShardedColony.from_snapshot(dc._call(1, "snapshot"), ConsistentHashRing(2))
    sentinel = next(a for a in shard.colony.agents if isinstance(a, Sentinel))
    assert isinstance(sentinel.provider, AggregatedDistribution)
    got = sentinel.provider._global
    assert got is not None
    return got.tick, sorted(got.counts.items()), got.edge_n, got.edge_sum


def test_a_sentinel_on_ray_gets_the_distribution_local_gets() -> None:
    # the chained ticks after the sentinel appears are skipped: their Sense needs the merged
    # distribution, which the driver brings; later ticks wait for the results
    from phago.agents.sentinel import Sentinel

    local, remote = build("local", 2), build("ray", 2, ray_fan_out="calls")
    try:
        for dc in (local, remote):
            dc.run(4)
            dc.spawn(Sentinel(Position(20, 20)), shard=1)
            dc.run(8)
        pipeline = _pipeline(remote)
        # 3 ticks chained in the first run; in the second, the ticks submitted ahead of
        # its first tick, whose results asked for the distribution, were skipped
        ahead = pipeline.lookahead
        assert (pipeline.chained, pipeline.skipped) == (3 + ahead, ahead)
        want = _sentinel_distribution(local)
        assert want[0] == 11 and want[1]  # given at the last tick's Sense
        assert _sentinel_distribution(remote) == want
        assert signature(local) == signature(remote)
    finally:
        local.close()
        remote.close()


@pytest.mark.parametrize("fan_out", ["calls", "compiled"])
def test_cross_shard_edge_lists_off_on_ray_keeps_the_counts(fan_out: str) -> None:
    # the actors return only the number of cross-shard edges (pipelined Act payload, or the
    # compiled graph's pickled step)
    counted = RunnerConfig(cross_shard_edge_lists=False, checkpoint_every=None)
    local = build("local", 2)
    remote = build("ray", 2, runner_config=counted, ray_fan_out=fan_out)
    try:
        a, b = local.run(10), remote.run(10)
        assert [r.cross_shard_edge_count for r in b] == [len(r.cross_shard_edges) for r in a]
        assert sum(r.cross_shard_edge_count for r in b) > 0
        assert all(len(r.cross_shard_edges) == 0 for r in b)
        assert signature(local) == signature(remote)
    finally:
        local.close()
        remote.close()


@pytest.mark.parametrize("fan_out", ["calls", "compiled"])
def test_killed_actor_is_recovered_with_identical_graph(tmp_path: Path, fan_out: str) -> None:
    # with a small degree cap, cap orders are in flight at the checkpoints and the kill;
    # documents ingested and agents spawned after the checkpoint at 10 (one sent, one made by
    # each shard) are replayed from the driver's op log
    clean, flaky = build("local", 3, config=CAP3), build_checkpointed(3, tmp_path, fan_out)
    try:
        clean.run(12)
        clean.ingest_documents(LATE)
        clean.spawn(Digester(Position(3.0, 7.0), seed=99, max_idle=60), shard=1)
        clean.spawn_digesters(1, seed=500, max_idle=40)
        clean.run(18)
        flaky.run(12)
        # the checkpoint at 10 on disk, as one set: every shard's snapshot and the runner's
        assert sorted(p.name for p in tmp_path.iterdir()) == ["tick-0000000010"]
        assert sorted(p.name for p in (tmp_path / "tick-0000000010").iterdir()) == [
            "manifest.json",
            "runner.pkl",
            *[f"shard-{i}.ckpt" for i in range(3)],
        ]
        flaky.ingest_documents(LATE)  # both logged by the driver for a replay ...
        flaky.spawn(Digester(Position(3.0, 7.0), seed=99, max_idle=60), shard=1)
        flaky.spawn_digesters(1, seed=500, max_idle=40)  # (made again by the replacement)
        assert [op[1] for op in _handle(flaky, 1)._ops or ()][-2:] == ["spawn", "spawn_digesters"]
        late_ids = {document_id(t, c) for t, c, _ in LATE}
        assert late_ids & {d.id for d in flaky._call(1, "documents")}  # the killed one has some
        ray.kill(flaky.ray_actor(1))
        results = flaky.run(18)
        recovered = [r.recovered for r in results if r.recovered is not None]
        # the shard exits in tick 13's Act (its tick is 12), which follows its tick 12 at
        # once: the exit may cut off the answer to its tick 12 call, and then tick 12
        # fails instead (one tick replayed from the checkpoint at 10, not two); with two
        # ticks submitted ahead, on a loaded machine also the answer to its tick 11 call
        # (tick 11 fails, none replayed: seen once in a fresh-clone run)
        assert len(recovered) == 1 and recovered[0].replayed_ticks in (0, 1, 2)
        assert flaky.current_tick == 30
        assert late_ids <= {d.id for d in flaky.documents()}
        assert signature(flaky) == signature(clean)
        # the actors that lived on were rolled back in the middle of a tick, between a
        # Sense and its Advance: their processes' cyclic collectors are on again
        # (a lambda: Ray pickles it by value, where the workers cannot import this module)
        on = [flaky.ray_actor(i).__ray_call__.remote(lambda _: gc.isenabled()) for i in range(3)]
        assert ray.get(on) == [True, True, True]
    finally:
        clean.close()
        flaky.close()


def test_a_call_a_shard_refuses_is_not_replayed_by_a_recovery() -> None:
    # the driver's op log keeps what the actors were sent since the checkpoint, for a
    # recreated actor to replay; a call the shard refused (it raised, changing nothing)
    # must come off it, or the recovery would replay it
    clean, flaky = build("local", 2), build("ray", 2, checkpoint_every=5)
    try:
        clean.run(6)
        flaky.run(6)  # (the checkpoint at 5)
        with pytest.raises(InvalidAgent, match="takes an Agent, got str") as refused:
            flaky.spawn("not an agent", shard=1)  # type: ignore[arg-type]
        assert type(refused.value) is InvalidAgent  # the shard's own error, not Ray's wrapper
        kill_and_wait(flaky.ray_actor(1))
        results = flaky.run(3)
        assert [r.recovered is not None for r in results] == [True, False, False]
        clean.run(3)
        assert flaky.stats().total_spawned == clean.stats().total_spawned
        assert signature(flaky) == signature(clean)
    finally:
        clean.close()
        flaky.close()


def test_a_replacement_lost_before_it_starts_is_replaced_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # as when the cluster places a replacement on a node that has died but is not known
    # dead yet: the replacement is lost before it answers, and the next one is started
    from phago.distributed.backends import ray as backend

    clean, flaky = build("local", 2), build("ray", 2, checkpoint_every=5)
    made: list[object] = []
    real = backend.ShardActor

    class FirstReplacementLost:
        def options(self, **options: object) -> object:
            inner = real().options(**options)

            class Creator:
                def remote(self, *args: object) -> object:
                    actor = inner.remote(*args)
                    if not made:
                        ray.kill(actor)  # gone before its constructor has answered
                    made.append(actor)
                    return actor

            return Creator()

    try:
        for dc in (clean, flaky):
            dc.run(7)
        kill_and_wait(flaky.ray_actor(0))
        monkeypatch.setattr(backend, "ShardActor", FirstReplacementLost)
        results = flaky.run(5)
        clean.run(5)
        assert len(made) == 2  # the first replacement lost, the second started
        assert [n.rsplit(".", 1)[1] for n in flaky.ray_actor_names] == ["2", "0"]
        assert [r.tick for r in results if r.recovered is not None] == [8]
        assert signature(flaky) == signature(clean)
    finally:
        clean.close()
        flaky.close()


def test_an_actor_lost_when_a_checkpoint_is_due_is_recovered_before_it(tmp_path: Path) -> None:
    # killed between runs, with the checkpoint at 10 due when the next run starts: the
    # checkpoint fails on the dead actor, the cluster rolls back to 5 and replays (with the
    # documents ingested at 7), takes the checkpoint at 10 and goes on; before, every later
    # run raised ShardLost from the checkpoint and the colony was unusable
    clean, flaky = build("local", 3, config=CAP3), build_checkpointed(3, tmp_path, "calls")
    try:
        for dc in (clean, flaky):
            dc.run(7)
            dc.ingest_documents(LATE)
            dc.run(3)
        kill_and_wait(flaky.ray_actor(0))
        results = flaky.run(8)
        clean.run(8)
        assert flaky.runner.recoveries and flaky.runner.recoveries[-1].restored_tick == 10
        assert flaky.runner.recoveries[-1].replayed_ticks == 5
        # the first tick after the checkpoint says what was recovered before it
        said = [(r.tick, r.recovered) for r in results if r.recovered is not None]
        assert said == [(11, flaky.runner.recoveries[-1])]
        assert flaky.current_tick == 18
        assert signature(flaky) == signature(clean)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["tick-0000000015"]
    finally:
        clean.close()
        flaky.close()


def test_an_actor_that_hangs_in_its_checkpoint_is_replaced_within_the_timeout() -> None:
    clean = build("local", 2, config=CAP3)
    flaky = build(
        "ray",
        2,
        config=CAP3,
        runner_config=RunnerConfig(checkpoint_every=5, phase_timeout_ms=2000),
        ray_fan_out="calls",
    )
    try:
        flaky.inject_fault(1, "hang", "checkpoint", 10)
        clean.run(16)
        start = time.monotonic()
        flaky.run(16)
        assert time.monotonic() - start < 45.0  # not the hour-long hang
        info = flaky.runner.recoveries
        assert len(info) == 1 and info[0].restored_tick == 10 and "2 s" in info[0].error
        assert flaky.runner._checkpoint is not None
        assert flaky.runner._checkpoint.tick == 15
        assert signature(flaky) == signature(clean)
    finally:
        clean.close()
        flaky.close()


def test_an_actor_that_raises_in_its_checkpoint_is_an_rpc_error_and_nothing_is_lost() -> None:
    clean = build("local", 2, config=CAP3)
    flaky = build("ray", 2, config=CAP3, checkpoint_every=5, ray_fan_out="calls")
    try:
        flaky.inject_fault(0, "raise", "checkpoint", 10)
        clean.run(16)
        with pytest.raises(RpcError, match="shard-0 failed to take its checkpoint"):
            flaky.run(16)
        assert flaky.runner._checkpoint is not None
        assert flaky.current_tick == 10 and flaky.runner._checkpoint.tick == 5
        flaky.run(6)  # the checkpoint at 10 is taken now
        assert flaky.runner._checkpoint.tick == 15
        assert signature(flaky) == signature(clean)
    finally:
        clean.close()
        flaky.close()


def test_calls_between_runs_that_find_an_actor_dead_recover_it_first(tmp_path: Path) -> None:
    # a reinforcement logged after the checkpoint at 5, then the actor killed: the ingest
    # that finds it dead rolls the cluster back to 5, replays to 7 (the reinforcement too),
    # and is made again, once; the spawn after it goes to the new actor. Before, the ingest
    # raised ShardLost although the next run's recovery then stored the documents anyway
    clean, flaky = build("local", 3, config=CAP3), build_checkpointed(3, tmp_path, "calls")
    try:
        for dc in (clean, flaky):
            dc.run(7)
        pairs = [(a, b) for a, b, _ in clean.graph.edges()][:6]
        assert pairs
        for dc in (clean, flaky):
            dc.reinforce_edges(pairs, [a for a, _ in pairs], 0.25, 7)
        kill_and_wait(flaky.ray_actor(1))
        for dc in (clean, flaky):
            dc.ingest_documents(LATE)
            dc.spawn(Digester(Position(3.0, 7.0), seed=99, max_idle=60), shard=1)
        assert [r.restored_tick for r in flaky.runner.recoveries] == [7]
        assert flaky.runner.recoveries[0].replayed_ticks == 2
        late_ids = {document_id(t, c) for t, c, _ in LATE}
        assert late_ids & {d.id for d in flaky._call(1, "documents")}
        results = flaky.run(8)
        clean.run(8)
        # the next run's first tick says what the call between runs recovered
        said = [(r.tick, r.recovered) for r in results if r.recovered is not None]
        assert said == [(8, flaky.runner.recoveries[0])]
        assert flaky.stats().agents_alive == clean.stats().agents_alive
        assert signature(flaky) == signature(clean)
    finally:
        clean.close()
        flaky.close()


@pytest.mark.parametrize(("written", "resumed"), [("ray", "local"), ("local", "ray")])
def test_a_checkpoint_resumes_on_either_backend(tmp_path: Path, written: str, resumed: str) -> None:
    clean = build("local", 2, config=CAP3)
    writer = build(
        written,
        2,
        config=CAP3,
        runner_config=RunnerConfig(checkpoint_every=5, checkpoint_dir=str(tmp_path)),
    )
    try:
        for dc in (clean, writer):
            dc.run(12)  # the checkpoint at 10 on disk
        clean.run(8)
    finally:
        writer.close()
    options = {"ray_options": SMALL} if resumed == "ray" else {}
    back = DistributedColony.from_checkpoint(str(tmp_path), backend=resumed, **options)
    try:
        assert back.backend == resumed and back.current_tick == 10
        back.run(10)
        assert signature(back) == signature(clean)
    finally:
        back.close()
        clean.close()


def _cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) process ``pid`` has used, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_phases_fan_out_through_a_compiled_graph_torn_down_when_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import phago.distributed.backends.ray as backend

    monkeypatch.setattr(backend, "IDLE_TEARDOWN_S", 0.5)
    dc = build("ray", 2, ray_fan_out="compiled")
    clean = build("local", 2)
    try:
        dc.run(3)
        group = _group(dc)
        assert group.compiled and group.unavailable is None and group.compilations == 1
        # unused, the graph goes (its channels busy-wait: the actors would burn their cores)
        deadline = time.monotonic() + 30.0
        while group.graph_up and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not group.graph_up and group.compiled
        pids = [ray.get(dc.ray_actor(k).pid.remote()) for k in range(2)]
        before = [_cpu_seconds(p) for p in pids]
        time.sleep(1.0)
        idle = [_cpu_seconds(p) - b for p, b in zip(pids, before, strict=True)]
        assert max(idle) < 0.3, idle  # (busy-waiting, each took about a second of CPU)
        dc.run(5)  # compiled again, and the ticks go on as if it had stayed up
        clean.run(8)
        assert group.compilations == 2
        assert signature(dc) == signature(clean)
    finally:
        dc.close()
        clean.close()


def test_without_compiled_graphs_actor_calls_give_the_same_graph() -> None:
    compiled, plain = build("ray", 2, ray_fan_out="compiled"), build("ray", 2, ray_fan_out="calls")
    try:
        compiled.run(10)
        plain.run(10)
        assert not _group(plain).compiled
        pipeline = _group(plain).tick_pipeline
        assert pipeline is not None and len(pipeline._actors) == 2  # whole ticks were submitted
        assert signature(compiled) == signature(plain)
    finally:
        compiled.close()
        plain.close()


def test_auto_fan_out_runs_whole_ticks_and_warns_when_crowded(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import phago.distributed.backends.ray as backend

    monkeypatch.setattr(backend, "usable_cores", lambda: 2)
    assert backend._spare_core(1) and not backend._spare_core(2)
    assert not backend._crowded(1) and backend._crowded(2)
    monkeypatch.setattr(backend, "usable_cores", lambda: 16)
    assert not any(backend._crowded(n) for n in (1, 2, 4, 8))
    monkeypatch.setattr(backend, "usable_cores", lambda: 2)
    one = build("ray", 1)  # auto with one shard: whole ticks too, and no warning
    try:
        one.run(2)
        assert not _group(one).compiled and _group(one).tick_pipeline is not None
    finally:
        one.close()
    assert "Ray shards on a machine" not in caplog.text
    with caplog.at_level("WARNING", logger="phago.distributed"):
        dc = build("ray", 2)  # auto on "2 cores": plain calls, and a warning
    assert "2 Ray shards on a machine with 2 cores" in caplog.text
    try:
        dc.run(2)
        assert not _group(dc).compiled and _group(dc).unavailable
    finally:
        dc.close()
    with pytest.raises(ConfigError, match="fan_out"):
        DistributedColony(2, backend="ray", ray_fan_out="fast")


@pytest.mark.parametrize("fan_out", ["calls", "compiled"])
def test_a_raising_shard_is_an_rpc_error_and_the_cluster_rolls_back(fan_out: str) -> None:
    dc = build("ray", 2, runner_config=RunnerConfig(checkpoint_every=2), ray_fan_out=fan_out)
    clean = build("local", 2)
    try:
        dc.run(3)
        for kind, phase in (("boom", "decay"), ("raise", "decai")):
            with pytest.raises(ConfigError, match="unknown"):
                dc.inject_fault(1, kind, phase, 3)
        # a phase by its name, in any case (lowercase was taken and never fired, before)
        dc.inject_fault(1, "raise", "decay" if fan_out == "calls" else TickPhase.DECAY, 3)
        with pytest.raises(RpcError, match="injected fault") as failed:
            dc.tick()
        if fan_out == "calls":  # (the shard, the phase and the error's type, as locally)
            said = "shard-1 failed in phase Decay: RuntimeError: injected fault in Decay"
            assert str(failed.value).startswith(said)
        assert dc.current_tick == 3
        # a shard's own error leaves a compiled graph usable
        assert _group(dc).compiled == (fan_out == "compiled")
        dc.run(5)
        clean.run(8)
        assert dc.current_tick == 8
        assert signature(dc) == signature(clean)
    finally:
        dc.close()
        clean.close()


def test_a_failed_chained_run_keeps_its_ticks_and_a_dropped_colony_kills_its_actors() -> None:
    # whole ticks chained ahead: a shard raising in the tick after tick 5 of a run; the
    # ticks the run completed stand in the history (before, none of the call's were kept);
    # then the colony, dropped without close(), kills its actors and closes its loop
    dc = build("ray", 2, runner_config=RunnerConfig(checkpoint_every=2))
    dc.run(2)
    dc.inject_fault(1, "raise", "decay", 5)
    with pytest.raises(RpcError, match="injected fault"):
        dc.run(10)
    assert dc.current_tick == 5
    assert [h[0] for h in dc.history] == [1, 2, 3, 4, 5]
    actors, loop = [dc.ray_actor(i) for i in range(2)], dc._loop
    del dc
    gc.collect()
    assert loop.is_closed()
    deadline = time.monotonic() + 60.0
    for actor in actors:
        with pytest.raises(ray.exceptions.RayActorError):
            while time.monotonic() < deadline:
                ray.get(actor.ping.remote(), timeout=10)
                time.sleep(0.05)


def ghosts(dc: DistributedColony) -> list[list[tuple[int, str]]]:
    return [
        sorted((int(g.node_id), g.label) for g in dc._call(i, "ghost_nodes"))
        for i in range(dc.num_shards)
    ]


def test_a_pipelined_cluster_saved_mid_run_continues_like_local(tmp_path: Path) -> None:
    # the degree reports and ghost requests of the last Decay stay with the actors between
    # pipelined ticks; a save fetches them, so the loaded cluster goes on exactly
    from phago.store import load_distributed, save_distributed

    local = build("local", 3, config=CAP3)
    remote = build("ray", 3, ray_fan_out="calls", config=CAP3)
    try:
        local.run(7)
        remote.run(7)
        d = save_distributed(remote, tmp_path / "dist")
        again = load_distributed(d, backend="local")
        try:
            local.run(15)
            again.run(15)
            assert signature(local) == signature(again)
            remote.run(15)  # the saved cluster goes on too
            assert signature(local) == signature(remote)
        finally:
            again.close()
    finally:
        local.close()
        remote.close()


def test_pipelined_ticks_deliver_ghost_answers_across_checkpoints() -> None:
    local = build("local", 3, checkpoint_every=3, config=CAP3)
    remote = build("ray", 3, checkpoint_every=3, ray_fan_out="calls", config=CAP3)
    try:
        for _ in range(4):
            local.run(4)
            remote.run(4)
            assert ghosts(local) == ghosts(remote)
        assert any(ghosts(remote))
        assert signature(local) == signature(remote)
    finally:
        local.close()
        remote.close()


@pytest.mark.parametrize(
    ("fan_out", "phase"),
    [("calls", TickPhase.ACT), ("compiled", TickPhase.ACT), ("calls", TickPhase.DECAY)],
)
def test_hung_actor_times_out(fan_out: str, phase: TickPhase) -> None:
    dc = build(
        "ray",
        2,
        runner_config=RunnerConfig(phase_timeout_ms=1000, checkpoint_every=2),
        ray_fan_out=fan_out,
    )
    try:
        dc.run(3)
        dc.inject_fault(0, "hang", phase, 3, seconds=30)
        start = time.monotonic()
        with pytest.raises(PhaseTimeout, match="shard-0 did not finish within") as info:
            dc.tick()
        # far below the 30 s hang: two phase timeouts at most, then the rollback (a new
        # actor started and one tick replayed, a few seconds on a busy 2-core machine)
        assert time.monotonic() - start < 10.0
        # a pipelined tick waits for Sense and Act together, and for Decay and Advance,
        # two phase timeouts each
        pair = "Sense and Act" if phase is TickPhase.ACT else "Decay and Advance"
        merged = f"within 2000 ms ({pair} run as one call)"
        assert (merged in str(info.value)) == (fan_out == "calls"), str(info.value)
        assert dc.current_tick == 3
        dc.run(2)  # the hung actor was replaced; the cluster goes on
        assert dc.current_tick == 5
    finally:
        dc.close()


@pytest.mark.parametrize("fan_out", ["calls", "compiled"])
def test_lost_shard_without_checkpoints_is_a_typed_error(fan_out: str) -> None:
    dc = build("ray", 2, ray_fan_out=fan_out)
    try:
        dc.run(2)
        kill_and_wait(dc.ray_actor(0))
        with pytest.raises(DistributedError, match="shard-0"):  # no checkpoint to recover
            dc.ingest_documents(LATE)
        with pytest.raises(DistributedError, match="shard-0"):
            dc.tick()
        assert dc._call(1, "report")["shard"] == 1  # the other shard is still usable
        # and stats() reads it, with a row for the lost one (it raised ShardLost until the
        # thirty-fifth session), and the next tick says why it cannot run, legibly
        st = dc.stats()
        assert [r["status"] for r in st.shards] == ["Lost", "Online"]
        assert st.documents_total == dc._call(1, "report")["documents_total"] > 0
        with pytest.raises(
            DistributedError,
            match=r"unusable after a failed tick: shard-0 was lost at tick 3 with no checkpoint "
            r"to recover it from \(shard-0 was lost: [^)]*[^.]\)$",
        ):
            dc.tick()
    finally:
        dc.close()


def _free_cpus(expected: float, within_s: float = 20.0) -> float:
    """The cluster's free CPUs once they reach ``expected`` (killed actors release theirs
    asynchronously), or whatever they are after ``within_s``."""
    deadline = time.monotonic() + within_s
    free: float = ray.available_resources().get("CPU", 0.0)
    while free < expected and time.monotonic() < deadline:
        time.sleep(0.1)
        free = ray.available_resources().get("CPU", 0.0)
    return free


def test_shards_the_cluster_cannot_place_are_a_typed_error_not_a_hang() -> None:
    # the test session's Ray has 2 CPUs; three shards asking one each cannot all be placed.
    # The timeout leaves the two that can be placed time to start (a worker process and the
    # shard's constructor: over 1.5 s on a slow machine, which then named all three)
    start = time.monotonic()
    with pytest.raises(ShardNotPlaced, match=r"within 10 s") as info:
        DistributedColony(3, backend="ray", ray_options={"num_cpus": 1}, ray_start_timeout_s=10)
    assert time.monotonic() - start < 40.0
    assert len(info.value.shards) == 1 and "shard-" in str(info.value)
    assert "the cluster has CPU 2 (" in str(info.value) and "ask CPU 1 each" in str(info.value)
    assert _free_cpus(2.0) == 2.0  # the shards that were placed were stopped again
    with pytest.raises(ConfigError, match="start_timeout_s"):
        DistributedColony(2, backend="ray", ray_options=SMALL, ray_start_timeout_s=0)
    # a resource the cluster lacks altogether is named with what it has of it
    with pytest.raises(ShardNotPlaced, match=r"GPU 0 \(0 free\).*ask CPU 0\.25, GPU 1 each"):
        DistributedColony(
            1, backend="ray", ray_options={**SMALL, "num_gpus": 1}, ray_start_timeout_s=1.0
        )
    assert _free_cpus(2.0) == 2.0


def test_a_replacement_the_cluster_cannot_place_leaves_a_clear_error() -> None:
    # a lost node with no capacity left: the killed shard's CPU is taken before the
    # runner recreates it, so the rollback cannot finish and the tick says why
    dc = build(
        "ray", 2, runner_config=RunnerConfig(checkpoint_every=2), ray_options={"num_cpus": 1}
    )
    for h in dc.runner._handles:  # started with the default; the replacement may wait 2 s
        h.start_timeout_s = 2.0  # type: ignore[attr-defined]
    blocker = None
    try:
        dc.run(3)
        ray.kill(dc.ray_actor(0))
        assert _free_cpus(1.0) == 1.0
        blocker = ray.util.placement_group([{"CPU": 1}])  # the freed CPU, reserved
        assert ray.get(blocker.ready(), timeout=60)
        with pytest.raises(DistributedError, match="shard-0 could not be started"):
            dc.tick()
        with pytest.raises(DistributedError, match="unusable"):
            dc.tick()
    finally:
        if blocker is not None:
            ray.util.remove_placement_group(blocker)
        dc.close()
    assert _free_cpus(2.0) == 2.0


def test_a_local_ray_started_for_the_colony_places_every_shard_and_inlines_parts() -> None:
    # two shards asking for all of this machine's cores each: a local Ray sized to the
    # cores alone would leave one unplaced for good (this used to hang on spawn); and the
    # Ray started passes objects up to INLINE_OBJECT_BYTES inline (Ray's default: 100 KiB)
    import os
    import subprocess
    import sys

    code = (
        "import os, ray\n"
        "from phago.distributed import DistributedColony\n"
        "n = os.cpu_count() or 1\n"
        "with DistributedColony(2, backend='ray', ray_options={'num_cpus': n},\n"
        "                       ray_start_timeout_s=120) as dc:\n"
        "    dc.ingest_documents([('a', 'alpha beta gamma delta', (0.0, 0.0)),\n"
        "                         ('b', 'beta gamma epsilon zeta', (1.0, 1.0))])\n"
        "    dc.spawn_digesters(1)\n"
        "    dc.run(5)\n"
        "    print('placed', int(ray.cluster_resources()['CPU']) // n, dc.current_tick)\n"
        "    node = ray._private.worker.global_worker.node\n"
        "    print('inline', node._ray_params._system_config['max_direct_call_object_size'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "placed 2 5" in r.stdout, r.stdout + r.stderr[-2000:]
    assert f"inline {INLINE_OBJECT_BYTES}" in r.stdout, r.stdout
    assert INLINE_OBJECT_BYTES > 100 * 1024


def test_ray_shards_work_where_an_event_loop_already_runs() -> None:
    # a notebook cell or a coroutine: the colony's loop, which awaits the actors' results,
    # runs in a helper thread; a recovery too
    import asyncio

    clean = build("local", 2)
    try:
        clean.run(12)
        want = signature(clean)
    finally:
        clean.close()

    async def inside() -> tuple[object, int]:
        dc = build("ray", 2, checkpoint_every=5)
        try:
            dc.run(7)
            kill_and_wait(dc.ray_actor(1))
            results = dc.run(5)
            return signature(dc), sum(r.recovered is not None for r in results)
        finally:
            dc.close()

    got, recovered = asyncio.run(inside())
    assert got == want and recovered == 1


def test_ctrl_c_stops_a_run_on_ray_at_a_tick_boundary() -> None:
    # Ctrl-C during a run of whole ticks submitted ahead, without checkpoints (Ray's
    # default): the ticks already submitted complete, no other starts, and the next run
    # goes on from there
    import os
    import signal
    import threading

    dc = build("ray", 2)
    try:
        dc.run(2)  # (the actors warmed up)
        signature(dc)  # (the merged graph, cached)
        timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                dc.run(100_000)
        finally:
            timer.cancel()
        at = dc.current_tick
        assert 2 < at < 100_000 and dc.runner.recoveries == []  # stopped, not rolled back
        assert [h[0] for h in dc.history] == list(range(1, at + 1))  # every tick accounted
        clean = build("local", 2)
        try:
            clean.run(at)
            assert signature(dc) == signature(clean)  # (read afresh: the cache was tick 2's)
            results = dc.run(3)
            assert [r.tick for r in results] == [at + 1, at + 2, at + 3]
            clean.run(3)
            assert signature(dc) == signature(clean)
        finally:
            clean.close()
    finally:
        dc.close()


def test_stats_show_heartbeats_and_memory() -> None:
    dc = build("ray", 2)
    try:
        dc.run(5)
        st = dc.stats()
        assert len(st.shards) == 2
        for row in st.shards:
            assert row["status"] == "Online" and row["last_heartbeat_ms"] > 0
            assert row["memory_bytes"] > 0 and row["documents_total"] > 0
    finally:
        dc.close()


def _listed(colony: str, within_s: float = 30.0, expect: int | None = None) -> list[dict[str, Any]]:
    """The shard actors of ``colony`` listed by any driver (named actors); with ``expect``,
    polled until that many are listed (a killed actor's name goes a moment later)."""
    from phago.distributed.backends.ray_cluster import list_shard_actors

    deadline = time.monotonic() + within_s
    while True:
        rows = [r for r in list_shard_actors(ray) if r["colony"] == colony]
        if expect is None or len(rows) == expect or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_shard_actors_are_named_listed_and_renamed_when_replaced(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from phago.cli import main
    from phago.distributed.backends.ray_cluster import parse_shard_actor_name

    dc = build("ray", 2, checkpoint_every=5)
    try:
        dc.run(7)
        names = dc.ray_actor_names
        parsed = [parse_shard_actor_name(n) for n in names]
        colony = parsed[0][0]  # type: ignore[index]
        assert parsed == [(colony, 0, 0), (colony, 1, 0)]
        rows = _listed(colony)
        assert [(r["shard"], r["generation"], r["name"]) for r in rows] == [
            (0, 0, names[0]),
            (1, 0, names[1]),
        ]
        assert all(r["answered"] and r["tick"] == 7 and r["rss_mib"] > 0 for r in rows)
        pids = {r["pid"] for r in rows}
        assert pids == {ray.get(dc.ray_actor(i).pid.remote()) for i in range(2)}
        kill_and_wait(dc.ray_actor(0))
        dc.run(3)  # recovered from the checkpoint at 5: shard 0's actor is a new one
        assert dc.ray_actor_names == [f"{colony}.shard-0.1", names[1]]
        rows = _listed(colony, expect=2)
        assert [(r["shard"], r["generation"]) for r in rows] == [(0, 1), (1, 0)]
        assert all(r["tick"] == 10 for r in rows) and rows[0]["pid"] not in pids
        # `phago cluster status` lists them (here, in the driver connected to the cluster)
        status = CliRunner().invoke(main, ["cluster", "status", "--json"])
        assert status.exit_code == 0, status.output
        listed = [r for r in json.loads(status.output)["shard_actors"] if r["colony"] == colony]
        seen = [(r["shard"], r["generation"], r["tick"]) for r in listed]
        assert seen == [(0, 1, 10), (1, 0, 10)]
        table = CliRunner().invoke(main, ["cluster", "status"])
        assert table.exit_code == 0 and colony in table.output, table.output
    finally:
        dc.close()
    assert _listed(colony, expect=0) == []  # closing kills them: nothing left listed


def test_a_cluster_ray_cannot_join_is_a_typed_error_naming_the_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # what Ray raises when it cannot join (an unreachable cluster, a version or token
    # mismatch) comes out as a DistributedError naming the address, not Ray's own type
    from phago.distributed.backends import ray as backend

    def refuse(**kwargs: object) -> None:
        try:
            raise PermissionError("RPC error: InvalidAuthToken")
        except PermissionError as cause:
            raise RuntimeError("Failed to connect to GCS.\nTraceback ...") from cause

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    # a driver with no token of its own is told where the cluster's goes
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    with pytest.raises(DistributedError) as info:
        backend.start_ray_shards(2, ColonyConfig(), None, 0, 10, address="auto")  # type: ignore[arg-type]
    said = str(info.value)
    assert said.startswith("could not join the Ray cluster at 'auto': it wants an authentication")
    assert "copy the cluster's token" in said and "set RAY_AUTH_MODE=token" in said
    assert "(RuntimeError: Failed to connect to GCS.; caused by PermissionError: RPC" in said
    assert "Traceback" not in said
    # one with a token is told to send it
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("0123abcd")
    with pytest.raises(DistributedError, match="has a token but does not send it: set RAY_AUTH"):
        backend.start_ray_shards(2, ColonyConfig(), None, 0, 10, address="auto")  # type: ignore[arg-type]

    def absent(**kwargs: object) -> None:
        raise ConnectionError("Could not find any running Ray instance.\nmore")

    monkeypatch.setattr(ray, "init", absent)
    with pytest.raises(DistributedError) as info:
        backend.start_ray_shards(2, ColonyConfig(), None, 0, 10, address="ray://head")  # type: ignore[arg-type]
    assert str(info.value) == (
        "could not join the Ray cluster at 'ray://head': ConnectionError: Could not find "
        "any running Ray instance. (check the address, and that the cluster runs the same Ray "
        "and Python versions as this driver)"
    )


def test_cli_run_on_ray_and_cluster_status() -> None:
    import json
    import subprocess
    import sys

    from click.testing import CliRunner

    from phago.cli import main

    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "phago",
            "run",
            "--shards",
            "2",
            "--backend",
            "ray",
            "--digesters",
            "4",
            "--checkpoint-every",
            "5",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(r.stdout)
    assert (
        data["backend"] == "ray" and data["documents_digested"] == 40 and len(data["shards"]) == 2
    )
    # two shards on "auto" run whole ticks actor to actor: each shard's work and waits
    assert all(row["busy_s"] > 0.0 and row["waiting_s"] >= 0.0 for row in data["shards"])
    status = CliRunner().invoke(main, ["cluster", "status", "--json"])
    assert status.exit_code == 0, status.output
    info = json.loads(status.output)
    assert info["nodes"] >= 1 and info["cpus"] == 2


def test_cli_run_names_shards_the_cluster_cannot_place() -> None:
    from click.testing import CliRunner

    from phago.cli import main

    # in this process Ray is the session's 2-CPU one; three one-CPU shards cannot all start
    start = time.monotonic()
    r = CliRunner().invoke(
        main, ["run", "--shards", "3", "--backend", "ray", "--start-timeout", "1.5", "--ticks", "2"]
    )
    assert r.exit_code == 1 and time.monotonic() - start < 60.0
    assert "ShardNotPlaced: shard-" in r.output and "could not be started" in r.output, r.output
    assert "Traceback" not in r.output
    assert _free_cpus(2.0) == 2.0
    bad = CliRunner().invoke(
        main, ["run", "--shards", "2", "--backend", "ray", "--start-timeout", "0"]
    )
    assert bad.exit_code == 2 and "--start-timeout" in bad.output


def test_an_actor_whose_constructor_fails_is_named() -> None:
    from phago.distributed.backends.ray import RayShardHandle, _await_started
    from phago.distributed.hashing import ConsistentHashRing

    ring = ConsistentHashRing(2)
    good = RayShardHandle(0, ColonyConfig(), ring, 0, 10, SMALL)
    bad = RayShardHandle(1, ColonyConfig(), ring, 0, -1, SMALL)  # a bad ghost cache
    try:
        with pytest.raises(ShardNotPlaced, match="shard-1 could not be started") as info:
            _await_started(ray, [good, bad], SMALL, 60.0)
        assert info.value.shards == [bad.shard_id]
    finally:
        for h in (good, bad):
            ray.kill(h.actor)
    # the colony checks the setting before it starts any actor
    with pytest.raises(ConfigError, match="capacity"):
        DistributedColony(2, backend="ray", ray_options=SMALL, ghost_cache_size=-1)


def test_usable_cores_follow_the_process_affinity() -> None:
    # under `taskset -c 0` a process may use one core whatever the machine has; the crowding
    # warning and the local Ray's CPUs go by that
    import os
    import subprocess
    import sys

    if not hasattr(os, "sched_setaffinity"):
        pytest.fail("this suite runs on Linux, where processes have a CPU affinity")
    code = (
        "import os\n"
        "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "from phago.distributed.backends.ray import _crowded, _spare_core, usable_cores\n"
        "print(usable_cores(), _spare_core(1), _crowded(2))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["1", "False", "True"]


def test_the_backend_docstring_examples_run() -> None:
    import doctest

    import phago.distributed.backends.ray as backend

    r = doctest.testmod(backend, optionflags=doctest.ELLIPSIS)
    assert r.attempted >= 7 and r.failed == 0


def test_a_colony_refuses_another_cluster_than_the_one_this_process_joined() -> None:
    # this session's Ray is connected: an address naming another cluster was ignored, and
    # the colony ran on the session's Ray
    for address in ("127.0.0.1:1", "ray://127.0.0.1:10001"):
        with pytest.raises(DistributedError, match=r"already connected .* cannot join"):
            DistributedColony(1, backend="ray", address=address, ray_options=SMALL)
    gcs = ray.get_runtime_context().gcs_address
    with DistributedColony(1, backend="ray", address=gcs, ray_options=SMALL) as dc:
        assert dc.stats().shards[0]["status"] == "Online"  # the same cluster: joined


def test_ray_options_ray_would_refuse_are_config_errors_before_anything_starts() -> None:
    for options, said in (
        ({"num_cpu": 0.5}, "Invalid option keyword num_cpu"),
        ({"num_cpus": -1}, "cannot be negative"),
    ):
        with pytest.raises(ConfigError, match=f"ray_options: .*{said}"):
            DistributedColony(1, backend="ray", ray_options=options)


def test_colonies_share_the_ray_phago_started_until_the_last_one_closes() -> None:
    import subprocess
    import sys

    code = """
import ray
from phago.corpus import load_sample_corpus
from phago.distributed import DistributedColony
docs = [(d.title, d.content) for d in load_sample_corpus()[:10]]
a = DistributedColony(2, backend="ray", ray_options={"num_cpus": 0.25})
b = DistributedColony(2, backend="ray", ray_options={"num_cpus": 0.25})
for dc in (a, b):
    dc.ingest_documents(docs)
    dc.spawn_digesters(1)
    dc.run(2)
a.close()
b.run(2)  # (a's close shut Ray down under b until the thirty-fifth session)
print(b.current_tick, b.stats().documents_total, ray.is_initialized())
b.close()
print(ray.is_initialized())
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["4", "10", "True", "False"]


def test_errors_of_shard_tasks_the_runner_handled_are_not_logged_as_unhandled() -> None:
    import logging

    with build("ray", 1):
        pass
    worker_log = logging.getLogger("ray._private.worker")

    def passes(message: str) -> bool:
        record = logging.LogRecord("ray._private.worker", logging.ERROR, "", 0, message, (), None)
        return all(f.filter(record) for f in worker_log.filters)  # type: ignore[union-attr]

    # (three to six such tracebacks followed every shard loss, recovered ones too)
    assert not passes(
        "Unhandled error (suppress with 'RAY_IGNORE_UNHANDLED_ERRORS=1'): "
        "ray::ShardActorImpl.run_step() (pid=1, ip=10.0.0.1) ActorDiedError"
    )
    assert passes("Unhandled error (suppress with ...): ray::my_task() ValueError")
    assert passes("something else about ShardActorImpl.run_step")
