"""Best-first graph walk: reference scoring, fixed defects, limits."""

from __future__ import annotations

import pytest

from phago.graph import HebbianGraph
from phago.query.base import StaticSource
from phago.query.graph_walk import graph_walk
from phago.types import EdgeData


def weighted(edges: list[tuple[str, str, float]], co: int = 1) -> StaticSource:
    g = HebbianGraph()
    for a, b, _ in edges:
        g.add_node(a)
        g.add_node(b)
    for a, b, w in edges:
        na, nb = g.find_by_label(a), g.find_by_label(b)
        assert na is not None and nb is not None
        g.set_edge(na, nb, EdgeData(w, co, 0, 0))
    return StaticSource(g, [])


def test_seed_and_neighbour_scores(bio: StaticSource) -> None:
    res = {r.label: r for r in graph_walk(bio, "gene", k=20)}
    assert res["gene"].score == 15.0
    assert res["gene"].components == {"seed": 10.0, "edge": 0.0, "overlap": 5.0}
    # gene–dna: weight 0.2, two co-activations, depth 0
    assert res["dna"].score == pytest.approx(0.2 * 0.5 * 1.2)
    assert res["dna"].path == ("gene", "dna")
    assert res["protein"].score == pytest.approx(0.1 * 0.5 * 1.1)


def test_percentile_filter_spares_seed_edges() -> None:
    src = weighted(
        [
            ("root", "aaa", 0.1),
            ("aaa", "bbb", 0.1),
            ("aaa", "ccc", 0.9),
            ("ddd", "eee", 0.9),
            ("fff", "ggg", 0.9),
            ("hhh", "iii", 0.9),
        ]
    )
    found = [r.label for r in graph_walk(src, "root")]
    assert set(found) == {"root", "aaa", "ccc"}  # root–aaa (0.1) is a seed edge: followed
    unfiltered = [r.label for r in graph_walk(src, "root", percentile_filter=False)]
    assert "bbb" in unfiltered


def test_best_path_wins_over_first_discovery() -> None:
    src = weighted([("root", "aaa", 0.1), ("root", "bbb", 0.9), ("bbb", "aaa", 0.9)])
    res = {r.label: r for r in graph_walk(src, "root", percentile_filter=False)}
    direct = 0.1 * 0.5 * 1.1
    via_b = 0.9 * 0.9 * 0.25 * 1.1
    assert via_b > direct
    assert res["aaa"].score == pytest.approx(via_b)
    assert res["aaa"].path == ("root", "bbb", "aaa")


def test_depth_and_expansion_limits() -> None:
    chain = [("root", "aaa", 1.0), ("aaa", "bbb", 1.0), ("bbb", "ccc", 1.0), ("ccc", "ddd", 1.0)]
    src = weighted(chain)
    assert [r.label for r in graph_walk(src, "root", max_depth=3)] == ["root", "aaa", "bbb", "ccc"]
    assert [r.label for r in graph_walk(src, "root", max_depth=1)] == ["root", "aaa"]
    assert [r.label for r in graph_walk(src, "root", max_expansions=1)] == ["root", "aaa"]


def test_overlap_counts_query_terms_in_labels() -> None:
    src = weighted([("star", "stars", 0.5), ("star", "gas", 0.5)])
    res = {r.label: r for r in graph_walk(src, "star")}
    assert res["stars"].components["overlap"] == 5.0
    assert res["gas"].components["overlap"] == 0.0
    assert [r.label for r in graph_walk(src, "star")][:2] == ["star", "stars"]


def test_no_seed_no_result(bio: StaticSource) -> None:
    assert graph_walk(bio, "telescope") == []
    assert graph_walk(bio, "") == []


def test_every_seed_is_expanded_before_other_nodes() -> None:
    # many full-weight neighbours of the first seed sort before the second seed's label
    edges = [("aaa", f"aa{i:02d}", 1.0) for i in range(20)] + [("zzz", "zzzneighbour", 0.5)]
    res = [r.label for r in graph_walk(weighted(edges), "aaa zzz", k=50, max_expansions=3)]
    assert "zzzneighbour" in res


def test_a_repeated_term_adds_its_overlap_once_per_repeat(bio: StaticSource) -> None:
    once = {r.label: r.score for r in graph_walk(bio, "gene dna", k=20)}
    twice = {r.label: r for r in graph_walk(bio, "gene dna gene", k=20)}
    assert twice["gene"].components["overlap"] == 10.0  # (5 a repeat of "gene")
    assert twice["gene"].score == once["gene"] + 5.0
    many = {r.label: r for r in graph_walk(bio, " ".join(["gene"] * 100_000), k=20)}
    assert many["gene"].components["overlap"] == 500_000.0
