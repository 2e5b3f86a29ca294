"""Every query method and structural query gives the same answer on a sharded colony (I4)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from phago import Colony, ColonyConfig, Digester, Position
from phago.corpus import grid_positions, load_sample_corpus, sample_queries
from phago.distributed import DistributedColony
from phago.query import retrieve
from phago.query.base import StaticSource
from phago.query.retrieve import METHODS
from phago.query.structural import (
    betweenness_centrality,
    bridge_nodes,
    communities,
    connected_components,
    shortest_path,
)

CFG = ColonyConfig(edge_decay_rate=0.0, max_edge_degree=None)
DOCS = load_sample_corpus()
POS = grid_positions(len(DOCS))
QUERIES = [str(q["query"]) for q in sample_queries() + sample_queries(heldout=True)]


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Colony, DistributedColony]]:
    local = Colony(CFG, seed=0)
    for d, p in zip(DOCS, POS, strict=True):
        local.ingest_document(d.title, d.content, p)
    for j in range(8):
        x, y = POS[j * 5].x, POS[j * 5].y
        local.spawn(Digester(Position(x + 1, y + 1), seed=j, keyword_boost=0.0))
    assert local.run_until_digested(500) < 500
    dc = DistributedColony(num_shards=4, config=CFG, seed=0)
    dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
    dc.spawn_digesters(2, keyword_boost=0.0)
    assert dc.run_until_digested(500) < 500
    yield local, dc
    dc.close()


@pytest.mark.parametrize("method", sorted(METHODS))
def test_rankings_equal_local_sharded_and_merged(
    pair: tuple[Colony, DistributedColony], method: str
) -> None:
    local, dc = pair
    merged = StaticSource(dc.graph, dc.documents(), dc.current_tick)

    def ranked(src: object, q: str) -> list[tuple[str, float, int]]:
        return [(r.label, r.score, r.node_id) for r in retrieve(src, q, 10, method)]  # type: ignore[arg-type]

    for q in QUERIES:
        assert ranked(local, q) == ranked(dc, q) == ranked(merged, q), q


def test_structural_queries_equal(pair: tuple[Colony, DistributedColony]) -> None:
    local, dc = pair
    assert shortest_path(local, "star", "river") == shortest_path(dc, "star", "river")
    assert betweenness_centrality(local, 50, top_k=10) == betweenness_centrality(dc, 50, top_k=10)
    assert bridge_nodes(local, 10) == bridge_nodes(dc, 10)
    assert connected_components(local) == connected_components(dc)
    a, b = communities(local), communities(dc)
    assert a.communities == b.communities
    assert a.modularity == b.modularity  # to the last bit (approx until the 35th session)


def test_reinforcement_reaches_the_shards() -> None:
    from phago.query.tfidf import tfidf

    with DistributedColony(num_shards=3, config=CFG, seed=0) as dc:
        dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
        dc.spawn_digesters(3)
        dc.run_until_digested(500)
        before = dc.graph.edge_between("star", "galaxy")
        assert before is not None
        tfidf(dc, "star galaxy", reinforce=True)
        after = dc.graph.edge_between("star", "galaxy")
        assert after is not None
        assert after.co_activations == before.co_activations + 1
        assert after.weight == pytest.approx(min(1.0, before.weight + 0.05))
        assert after.last_activated_tick == dc.current_tick


def test_local_query_ranks_only_the_shards_own_concepts(
    pair: tuple[Colony, DistributedColony],
) -> None:
    from phago.distributed.query import DistributedQueryEngine
    from phago.ids import NodeId

    _, dc = pair
    engine = DistributedQueryEngine(dc)
    assert engine.local_query(0, "   ") == []
    seen: dict[int, int] = {}
    for q in QUERIES[:6]:
        for shard in range(dc.num_shards):
            hits = engine.local_query(shard, q)
            assert len(hits) <= engine.config.max_local_results
            scores = [h.score for h in hits]
            assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
            for h in hits:
                assert int(dc.ring.get_shard(NodeId(h.node_id))) == shard, (q, h.label)
                seen[int(h.node_id)] = shard
    assert len(set(seen.values())) == dc.num_shards  # every shard answered for its part
    # a concept named exactly by the query leads its owner's ranking
    label = "star"
    node = next(n for n in dc.graph.nodes() if n.label == label)
    owner = int(dc.ring.get_shard(node.id))
    assert engine.local_query(owner, label)[0].label == label
    assert all(
        h.label != label
        for s in range(dc.num_shards)
        if s != owner
        for h in engine.local_query(s, label)
    )
