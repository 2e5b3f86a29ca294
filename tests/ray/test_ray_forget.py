"""Forgetting documents on Ray shards: the same result as on local shards, and replayed
from the driver's log when a lost actor is recovered."""

from __future__ import annotations

import time

import pytest

from distributed_signature import graph_signature as signature
from phago import ColonyConfig
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony
from phago.errors import RpcError

ray = pytest.importorskip("ray", reason="the ray extra is part of `make setup`")
pytestmark = pytest.mark.ray

DOCS = load_sample_corpus()[:20]
POS = grid_positions(len(DOCS))


def build(backend: str) -> DistributedColony:
    extra: dict[str, object] = {"checkpoint_every": 5}
    if backend == "ray":
        extra["ray_options"] = {"num_cpus": 0.25}
    dc = DistributedColony(
        2,
        backend=backend,
        seed=0,
        config=ColonyConfig(max_edge_degree=3),  # (cap messages held between ticks)
        **extra,  # type: ignore[arg-type]
    )
    dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
    dc.spawn_digesters(2, max_idle=60)
    return dc


def test_a_forget_on_ray_equals_local_and_is_replayed_for_a_recovered_actor() -> None:
    clean, flaky = build("local"), build("ray")
    try:
        for dc in (clean, flaky):
            dc.run(7)  # (the checkpoint at 5)
        victims = [d.id for d in clean.documents()][:4]
        reports = [dc.forget_documents(victims) for dc in (clean, flaky)]
        assert reports[0].to_dict() == reports[1].to_dict() and reports[0].nodes_removed > 0
        ops = [op[1] for op in flaky.runner.handles[1]._ops]  # type: ignore[attr-defined]
        assert ops[-2:] == ["forget", "forget_renumber"]
        assert signature(flaky) == signature(clean)
        actor = flaky.ray_actor(1)
        ray.kill(actor)
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:  # until it is dead (ray.kill returns at once)
            try:
                ray.get(actor.ping.remote(), timeout=10)
            except ray.exceptions.RayActorError:
                break
            time.sleep(0.05)
        results = flaky.run(6)  # rolled back to 5, the forget replayed at 7, then on
        clean.run(6)
        assert results[0].recovered is not None
        assert signature(flaky) == signature(clean)
        assert flaky.stats().documents_total == clean.stats().documents_total == 16
    finally:
        clean.close()
        flaky.close()


def test_a_ray_shard_that_raises_in_a_forget_leaves_every_shard_as_it_was() -> None:
    """One actor raising while it works out its part (an injected fault) fails the forget
    before any shard changes: the cluster is as it was, and the forget then goes through
    as on local shards."""
    clean, flaky = build("local"), build("ray")
    try:
        for dc in (clean, flaky):
            dc.run(7)
        victims = [d.id for d in clean.documents()][:4]
        before = signature(flaky)
        flaky.inject_fault(1, "raise", "forget", flaky.current_tick)
        said = "shard-1 failed in forget_prepare: RuntimeError: injected fault in forget"
        with pytest.raises(RpcError, match=said):
            flaky.forget_documents(victims)
        assert signature(flaky) == before
        assert flaky.stats().documents_total == 20
        reports = [dc.forget_documents(victims) for dc in (clean, flaky)]
        assert reports[0].to_dict() == reports[1].to_dict() and reports[0].nodes_removed > 0
        assert signature(flaky) == signature(clean)
        for dc in (clean, flaky):
            dc.run(4)
        assert signature(flaky) == signature(clean)
    finally:
        clean.close()
        flaky.close()
