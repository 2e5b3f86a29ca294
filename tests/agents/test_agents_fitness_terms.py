"""Fitness: all four terms recorded (novelty, quality, connectivity, productivity)."""

from __future__ import annotations

import numpy as np

from phago import Colony, Digester, Position
from phago.agents.fitness import FitnessTracker
from phago.agents.fitness_terms import EdgeTerms, FitnessRecorder, edge_terms
from phago.corpus import load_sample_corpus
from phago.graph import HebbianGraph
from phago.ids import AgentId


def test_edge_terms_strong_and_bridges() -> None:
    g = HebbianGraph()
    first = g.present(["a", "b", "c"])
    g.wire_clique(first, 0)
    other = g.present(["x", "y"])
    g.wire_clique(other, 0)
    # a-b reinforced (strong); a-x and b-x new between known, unconnected parts (bridges);
    # c is not presented; "new" is created now
    idx = g.present(["a", "b", "x", "new"])
    g.wire_clique(idx, 1)
    assert edge_terms(g, idx, None, tick=1, created=1) == EdgeTerms(strong=1, bridges=2)
    # only the pairs given are counted
    pairs = np.array([[0, 1]])
    assert edge_terms(g, idx, pairs, tick=1, created=1) == EdgeTerms(strong=1, bridges=0)
    assert edge_terms(g, idx[:1], None, tick=1, created=0) == EdgeTerms(0, 0)


def test_a_bridge_is_a_new_edge_between_known_concepts() -> None:
    """Pinned definition (O(pairs), no neighbourhood scan): a new edge between two concepts that
    existed before the presentation is a bridge, whatever their neighbours."""
    g = HebbianGraph()
    for words in (["a", "hub"], ["b", "hub"]):
        g.wire_clique(g.present(words), 0)
    idx = g.present(["a", "b"])
    g.wire_clique(idx, 1)
    assert edge_terms(g, idx, None, tick=1, created=0) == EdgeTerms(strong=0, bridges=1)
    again = g.present(["a", "b", "fresh"])
    g.wire_clique(again, 2)
    assert edge_terms(g, again, None, tick=2, created=1) == EdgeTerms(strong=1, bridges=0)


def test_tracker_records_edge_terms_additively() -> None:
    t = FitnessTracker()
    t.register(AgentId(1))
    t.record_edges(AgentId(1), 10)
    t.record_edge_terms(AgentId(1), strong=4, bridges=2)
    t.tick_all([AgentId(1)])
    rec = t.get(AgentId(1))
    assert rec is not None
    assert (rec.edges_contributed, rec.strong_edges, rec.bridge_edges) == (10, 4, 2)
    assert rec.fitness == 0.3 * 10 + 0.2 * 0.4 + 0.2 * 0.2


def test_a_colony_run_records_all_four_terms() -> None:
    colony = Colony(seed=0)
    FitnessRecorder().attach(colony)
    docs = [d for d in load_sample_corpus() if "astronomy" in d.source]
    for i, d in enumerate(docs):
        colony.ingest_document(d.title, d.content, Position(2 * i, 0))
    ids = [colony.spawn(Digester(Position(2 * i, 0))) for i in range(3)]
    colony.run_until_digested(200)
    recs = [colony.fitness.get(a) for a in ids]
    assert all(r is not None for r in recs)
    total = {
        "novel": sum(r.novel_concepts for r in recs if r),
        "strong": sum(r.strong_edges for r in recs if r),
        "bridges": sum(r.bridge_edges for r in recs if r),
        "edges": sum(r.edges_contributed for r in recs if r),
    }
    assert all(v > 0 for v in total.values()), total
    assert total["strong"] < total["edges"] and total["bridges"] < total["edges"]
    for r in recs:
        assert r is not None and r.ticks_alive > 0
        productivity = (r.concepts_added + r.edges_contributed) / r.ticks_alive
        assert r.fitness > 0.3 * productivity  # the other terms count too


def test_attach_prefers_a_native_hook() -> None:
    colony = Colony(seed=0)
    recorder = FitnessRecorder()
    colony.fitness_recorder = None  # type: ignore[attr-defined]
    recorder.attach(colony)
    assert colony.fitness_recorder is recorder  # type: ignore[attr-defined]
