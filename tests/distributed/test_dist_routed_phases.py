"""The Ray actors' routed phases (``ShardActorImpl.run_phase_routed``), driven in-process.

A pipelined Ray tick passes each phase's data actor to actor: Act returns one part per
destination, Decay takes one part per source, and so on. Here two actor bodies are driven
without Ray, parts handed over by hand, and must end exactly like the runner's tick.
"""

from __future__ import annotations

from typing import Any

import pytest
from inline_tick import inline_tick

from phago import ColonyConfig, Digester, Position
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import ConsistentHashRing, ShardedColony, ShardId
from phago.distributed.backends.ray import ShardActorImpl, _lean_sense, _part
from phago.errors import RoutingFailed
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


def routed_tick(actors: list[ShardActorImpl], answers: list[tuple[Any, ...]] | None) -> list:
    """One pipelined tick: each phase's parts handed from every actor to every actor."""
    n = len(actors)
    for i, a in enumerate(actors):
        parts = [answers[j][i] for j in range(n)] if answers is not None else []
        a.run_phase_routed("Sense", None, True, n, *parts)
    act = [a.run_phase_routed("Act", None, True, n) for a in actors]
    decay = [
        a.run_phase_routed("Decay", None, True, n, *(act[j][i] for j in range(n)))
        for i, a in enumerate(actors)
    ]
    return [
        a.run_phase_routed("Advance", None, True, n, *(decay[j][i] for j in range(n)))
        for i, a in enumerate(actors)
    ]


def state(shards: list[ShardedColony]) -> list[Any]:
    out = []
    for s in shards:
        og = s.owned_graph()
        ghosts = sorted((int(g.node_id), g.label) for g in s.ghost_nodes())
        out.append(
            (og.node_ids.tolist(), og.access.tolist(), og.edge_a.tolist(), og.weight.tolist())
        )
        out.append(ghosts)
    return out


def test_routed_phases_end_like_the_runner_tick() -> None:
    ring = ConsistentHashRing(3)
    plain = [ShardedColony(ShardId(i), ColonyConfig(), ring, seed=0) for i in range(3)]
    load(plain, ring)
    actors = [ShardActorImpl(i, ColonyConfig(), ring, 0, 1000) for i in range(3)]
    load([a.shard for a in actors], ring)
    answers: dict[int, list[Any]] = {}
    parts = None
    for _ in range(20):
        answers = inline_tick(plain, answers)
        parts = routed_tick(actors, parts)
        assert state(plain) == state([a.shard for a in actors])
        results = [p[-1] for p in parts]
        assert all(r.ghost_answers == {} for r in results)  # moved into the parts
    assert any(s.ghost_nodes() for s in plain)
    assert any(a.shard.colony.graph.edge_count for a in actors)


def test_usual_sense_payload_is_not_sent() -> None:
    usual = {"ghosts": [], "collect": False, "distribution": None}
    assert _lean_sense(usual) is None
    assert _lean_sense({**usual, "collect": True}) is not None
    assert _lean_sense({**usual, "ghosts": ["g"]}) is not None


def test_parts_for_unknown_shards_are_routing_errors() -> None:
    parts: list[list[int]] = [[], []]
    _part(parts, 1, "updates").append(7)
    assert parts == [[], [7]]
    with pytest.raises(RoutingFailed, match="unknown shard 2"):
        _part(parts, 2, "updates")
    with pytest.raises(RoutingFailed):
        _part(parts, -1, "ghost answers")
