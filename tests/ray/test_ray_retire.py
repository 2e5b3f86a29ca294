"""Retiring agents on Ray shards: the driver logs it, and a recovered actor replays it."""

from __future__ import annotations

import time

import pytest

from distributed_signature import graph_signature as signature
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony

ray = pytest.importorskip("ray", reason="the ray extra is part of `make setup`")
pytestmark = pytest.mark.ray

DOCS = load_sample_corpus()[:20]
POS = grid_positions(len(DOCS))


def build(backend: str) -> DistributedColony:
    extra: dict[str, object] = {}
    if backend == "ray":
        extra = {"ray_options": {"num_cpus": 0.25}, "checkpoint_every": 5}
    dc = DistributedColony(2, backend=backend, seed=0, **extra)  # type: ignore[arg-type]
    dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
    dc.spawn_digesters(2, max_idle=60)
    return dc


def test_a_retirement_on_ray_is_replayed_when_a_lost_actor_is_recovered() -> None:
    clean, flaky = build("local"), build("ray")
    try:
        for dc in (clean, flaky):
            dc.run(6)  # (the checkpoint at 5)
        assert flaky.agent_ids() == clean.agent_ids()
        gone = [clean.agent_ids()[2]]  # shard 1's first digester
        for dc in (clean, flaky):
            assert dc.retire_agents(gone) == 1
        assert [op[1] for op in flaky.runner.handles[1]._ops] == ["retire"]  # type: ignore[attr-defined]
        assert flaky.agent_ids() == clean.agent_ids()
        actor = flaky.ray_actor(1)
        ray.kill(actor)
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:  # until it is dead (ray.kill returns at once)
            try:
                ray.get(actor.ping.remote(), timeout=10)
            except ray.exceptions.RayActorError:
                break
            time.sleep(0.05)
        results = flaky.run(3)
        clean.run(3)
        assert [r.recovered is not None for r in results] == [True, False, False]
        assert flaky.agent_ids() == clean.agent_ids() and gone[0] not in flaky.agent_ids()
        assert flaky.stats().agents_alive == clean.stats().agents_alive
        assert signature(flaky) == signature(clean)
    finally:
        clean.close()
        flaky.close()
