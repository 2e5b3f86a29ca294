"""Retiring agents of a sharded colony: routed to their shards, logged for a rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributed_signature import graph_signature as signature
from phago import ColonyConfig, Digester, Position
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony
from phago.distributed.shard import ShardedColony
from phago.errors import ColonyClosed, RpcError, UnknownAgent

DOCS = load_sample_corpus()[:16]
POS = grid_positions(len(DOCS))


def build(shards: int = 3, **kwargs: object) -> DistributedColony:
    dc = DistributedColony(shards, seed=0, config=ColonyConfig(max_edge_degree=3), **kwargs)  # type: ignore[arg-type]
    dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
    dc.spawn_digesters(2, max_idle=60)
    return dc


def shard_agents(dc: DistributedColony) -> list[list[int]]:
    return [[int(a.id) for a in h.target.colony.agents] for h in dc.runner.handles]


def test_agents_are_retired_on_the_shards_that_hold_them(tmp_path: Path) -> None:
    with build() as dc:
        dc.run(3)
        per_shard = shard_agents(dc)
        assert dc.agent_ids() == [a for ids in per_shard for a in ids]
        gone = [per_shard[0][1], per_shard[2][0]]
        with pytest.raises(UnknownAgent, match="no live agent with id 7 on any shard"):
            dc.retire_agents([gone[0], 7])
        assert shard_agents(dc) == per_shard  # nothing was removed
        assert dc.retire_agents([*gone, gone[0]]) == 2
        assert shard_agents(dc) == [[a for a in ids if a not in gone] for ids in per_shard]
        stats = dc.stats()
        assert stats.agents_alive == 4 and stats.agents_died == 0 and stats.total_spawned == 6
        assert [h.target.colony.total_retired for h in dc.runner.handles] == [1, 0, 1]
        dc.save(tmp_path / "store")
        left = dc.agent_ids()
    back = DistributedColony.load(tmp_path / "store")
    try:
        assert back.agent_ids() == left
        assert [h.target.colony.total_retired for h in back.runner.handles] == [1, 0, 1]
    finally:
        back.close()
    with pytest.raises(ColonyClosed):
        dc.retire_agents(left[:1])


def test_a_retirement_between_runs_is_replayed_after_a_rollback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clean, flaky = build(checkpoint_every=5), build(checkpoint_every=5)
    try:
        for dc in (clean, flaky):
            dc.run(7)  # the checkpoint at 5
        gone = clean.agent_ids()[::2]
        for dc in (clean, flaky):
            assert dc.retire_agents(gone) == 3
        assert [op[1] for op in flaky.runner.handles[0].target.oplog()] == ["retire"]
        real = flaky.runner.handles[1].target.run_phase

        def fails_once(phase: object, *rest: object) -> object:
            from phago.distributed import TickPhase

            if phase is TickPhase.ACT:
                monkeypatch.setattr(flaky.runner.handles[1].target, "run_phase", real)
                raise RuntimeError("a shard fails in Act")
            return real(phase, *rest)  # type: ignore[arg-type]

        monkeypatch.setattr(flaky.runner.handles[1].target, "run_phase", fails_once)
        with pytest.raises(RpcError):
            flaky.tick()  # rolled back to 5, replayed to 7, the retirement again
        assert flaky.runner.recoveries[-1].restored_tick == 7
        assert isinstance(flaky.runner.handles[1].target, ShardedColony)
        assert flaky.agent_ids() == clean.agent_ids() and not set(gone) & set(flaky.agent_ids())
        for dc in (clean, flaky):
            dc.run(6)
        assert signature(flaky) == signature(clean)
        assert flaky.stats().agents_alive == clean.stats().agents_alive
    finally:
        clean.close()
        flaky.close()


def test_a_digester_spawned_by_hand_can_be_retired() -> None:
    with DistributedColony(2, seed=0) as dc:
        aid = dc.spawn(Digester(Position(0, 0)), shard=1)
        assert dc.agent_ids() == [aid] and dc.agent_ids(digesting=True) == []
        assert dc.retire_agents([aid]) == 1 and dc.agent_ids() == []
        assert dc.retire_agents([]) == 0
        with pytest.raises(UnknownAgent, match="must be an integer"):
            dc.retire_agents([1.0])  # type: ignore[list-item]
