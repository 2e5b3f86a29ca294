"""retrieve(): dispatch, determinism, insertion-order independence, reinforcement."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from phago import Colony, Digester, Position
from phago.errors import ConfigError
from phago.query import BEST_METHOD, METHODS, StaticSource, retrieve
from phago.query.index import query_index

SourceFactory = Callable[..., StaticSource]

QUERIES = [
    "How is a membrane protein made?",
    "gene dna replication",
    "qubit entanglement",
    "cell transport channel",
    "polymerase",
    "nothing matches here",
]


def test_every_method_returns_at_most_k_ranked_results(bio: StaticSource) -> None:
    for name in METHODS:
        for q in QUERIES:
            res = retrieve(bio, q, 3, name)
            assert len(res) <= 3
            scores = [r.score for r in res]
            assert scores == sorted(scores, reverse=True)
            assert len({r.label for r in res}) == len(res)


def test_best_and_errors(bio: StaticSource) -> None:
    assert BEST_METHOD in METHODS
    best = retrieve(bio, "gene", 5)
    assert best == retrieve(bio, "gene", 5, BEST_METHOD)
    assert retrieve(bio, "gene", 0) == []
    with pytest.raises(ConfigError):
        retrieve(bio, "gene", 5, "pagerank")
    with pytest.raises(ValueError):
        retrieve(bio, "gene", -1)


def test_results_do_not_depend_on_insertion_order(
    make_source: SourceFactory, bio_texts: list[tuple[str, str]]
) -> None:
    forward = make_source(bio_texts)
    backward = make_source(bio_texts, order=list(reversed(range(len(bio_texts)))))
    assert forward.graph.labels() != backward.graph.labels()
    for name in METHODS:
        for q in QUERIES:
            a = [(r.label, r.score, r.node_id) for r in retrieve(forward, q, 10, name)]
            b = [(r.label, r.score, r.node_id) for r in retrieve(backward, q, 10, name)]
            assert a == b, (name, q)


def edge_state(src: StaticSource) -> tuple[np.ndarray, ...]:
    return src.graph.edge_arrays()


def test_queries_do_not_change_the_graph_by_default(bio: StaticSource) -> None:
    before = edge_state(bio)
    access = bio.graph.access_counts().copy()
    for name in METHODS:
        retrieve(bio, "membrane protein gene", 10, name)
    after = edge_state(bio)
    for x, y in zip(before, after, strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(access, bio.graph.access_counts())


@pytest.mark.parametrize("method", list(METHODS))
def test_reinforcement_moves_last_activated_tick(
    make_source: SourceFactory, bio_texts: list[tuple[str, str]], method: str
) -> None:
    src = make_source(bio_texts)
    src.current_tick = 42
    g = src.graph
    edges_before = g.edge_count
    before = g.edge_between("membrane", "protein")
    assert before is not None and before.last_activated_tick < 42
    res = retrieve(src, "membrane protein", 10, method, reinforce=True)
    assert {"membrane", "protein"} <= {r.label for r in res}
    after = g.edge_between("membrane", "protein")
    assert after is not None
    assert after.weight == pytest.approx(before.weight + 0.05)
    assert after.co_activations == before.co_activations + 1
    assert after.last_activated_tick == 42
    assert g.edge_count == edges_before  # no edge is created
    # the cached adjacency sees the new weight
    adj = query_index(src).adjacency()
    membrane, protein = g.find_by_label("membrane"), g.find_by_label("protein")
    assert membrane is not None and protein is not None
    i, j = g.index_of(membrane), g.index_of(protein)
    nbrs, ws, _ = adj.row(i)
    assert ws[list(nbrs).index(j)] == pytest.approx(after.weight)


def test_reinforcement_of_unconnected_results_only_touches_access(bio: StaticSource) -> None:
    g = bio.graph
    qubit = g.find_by_label("qubit")
    assert qubit is not None
    q = g.index_of(qubit)
    acc = int(g.access_counts()[q])
    retrieve(bio, "qubit", 1, "tfidf", reinforce=True)
    assert int(g.access_counts()[q]) == acc + 1


def test_digested_concepts_are_found_through_the_shared_tokeniser() -> None:
    colony = Colony(seed=3)
    colony.ingest_document("Cells", "The cell's membrane; CELL walls & proteins.", Position(0, 0))
    colony.spawn(Digester(Position(0.5, 0.0)))
    colony.run_until_digested(30)
    for name in METHODS:
        labels = [r.label for r in retrieve(colony, "Cell-membrane?", 5, name)]
        assert labels[:2] == ["cell", "membrane"] or set(labels[:2]) == {"cell", "membrane"}
