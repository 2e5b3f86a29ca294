"""Structural queries: known answers, brute-force checks, order independence."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from scipy.sparse import csgraph, csr_matrix

from phago.graph import HebbianGraph
from phago.query.base import StaticSource
from phago.query.structural import (
    betweenness_centrality,
    bridge_nodes,
    communities,
    connected_components,
    shortest_path,
)
from phago.types import EdgeData


def source(
    edges: Sequence[tuple[str, str, float]], isolated: Sequence[str] = (), reverse: bool = False
) -> StaticSource:
    g = HebbianGraph()
    labels = list(dict.fromkeys([x for a, b, _ in edges for x in (a, b)] + list(isolated)))
    for lab in reversed(labels) if reverse else labels:
        g.add_node(lab)
    for a, b, w in reversed(edges) if reverse else edges:
        na, nb = g.find_by_label(a), g.find_by_label(b)
        assert na is not None and nb is not None
        g.set_edge(na, nb, EdgeData(w, 1, 0, 0))
    return StaticSource(g, [])


TRIANGLES = [
    ("aaa", "bbb", 1.0),
    ("bbb", "ccc", 1.0),
    ("aaa", "ccc", 1.0),
    ("ccc", "ddd", 1.0),
    ("ddd", "eee", 1.0),
    ("eee", "fff", 1.0),
    ("ddd", "fff", 1.0),
]


def test_shortest_path_prefers_strong_edges() -> None:
    src = source([("aaa", "bbb", 0.5), ("bbb", "ccc", 0.5), ("aaa", "ccc", 0.2)])
    p = shortest_path(src, "aaa", "ccc")
    assert p is not None
    assert p.labels == ("aaa", "bbb", "ccc")
    assert p.cost == pytest.approx(4.0)
    assert p.node_ids[0] == src.graph.find_by_label("aaa")
    bbb = src.graph.find_by_label("bbb")
    assert bbb is not None
    same = shortest_path(src, "bbb", bbb)
    assert same is not None and same.labels == ("bbb",) and same.cost == 0.0


def test_shortest_path_missing_and_unreachable() -> None:
    src = source([("aaa", "bbb", 0.5)], isolated=["zzz"])
    assert shortest_path(src, "aaa", "zzz") is None
    assert shortest_path(src, "aaa", "nope") is None


def test_weight_floor() -> None:
    src = source([("aaa", "bbb", 0.0005)])
    p = shortest_path(src, "aaa", "bbb")
    assert p is not None and p.cost == pytest.approx(1000.0)


def test_equal_paths_give_the_same_answer_in_any_insertion_order() -> None:
    square = [("aaa", "bbb", 1.0), ("bbb", "ddd", 1.0), ("aaa", "ccc", 1.0), ("ccc", "ddd", 1.0)]
    p1 = shortest_path(source(square), "aaa", "ddd")
    p2 = shortest_path(source(square, reverse=True), "aaa", "ddd")
    assert p1 is not None and p2 is not None
    assert p1 == p2
    assert p1.cost == pytest.approx(2.0)


def test_betweenness_credits_interior_nodes() -> None:
    chain = [(f"n{i}a", f"n{i + 1}a", 1.0) for i in range(5)]  # six nodes in a row
    src = source(chain)
    ranked = betweenness_centrality(src, samples=15)
    scores = {s.label: s.score for s in ranked}
    assert len(ranked) == 6
    assert scores["n0a"] == scores["n5a"] == 0.0  # endpoints are never interior
    assert sum(scores.values()) > 0.0
    assert ranked[0].label in {"n2a", "n3a"}  # the middle of the chain carries most paths
    assert all(s.score == 0.0 for s in betweenness_centrality(src, samples=0))
    assert betweenness_centrality(source([], isolated=["aaa"])) == []


def test_betweenness_is_seeded_and_order_independent() -> None:
    a = betweenness_centrality(source(TRIANGLES), samples=40, seed=7)
    b = betweenness_centrality(source(TRIANGLES, reverse=True), samples=40, seed=7)
    assert a == b
    top = {s.label for s in a[:2]}
    assert top == {"ccc", "ddd"}
    assert betweenness_centrality(source(TRIANGLES), samples=40, seed=7, top_k=2) == a[:2]


def test_bridge_nodes_on_barbell_and_star() -> None:
    got = {b.label: b.score for b in bridge_nodes(source(TRIANGLES))}
    assert got == {"ccc": pytest.approx(1 / 3), "ddd": pytest.approx(1 / 3)}
    star = source([("hub", f"leaf{i}", 1.0) for i in range(4)])
    (b,) = bridge_nodes(star)
    assert b.label == "hub" and b.score == pytest.approx(3 / 4)
    assert bridge_nodes(star, k=0) == []


def brute_force_bridges(src: StaticSource) -> dict[int, float]:
    g = src.graph
    a, b, _, _, _, _ = g.edge_arrays()
    n = g.node_count
    deg = g.degrees()

    def comps(skip: int | None) -> int:
        keep = np.ones(len(a), dtype=bool) if skip is None else (a != skip) & (b != skip)
        m = csr_matrix((np.ones(int(keep.sum())), (a[keep], b[keep])), shape=(n, n))
        count = int(csgraph.connected_components(m, directed=False)[0])
        return count - (0 if skip is None else 1)

    base = comps(None)
    out = {}
    for v in range(n):
        if deg[v] > 0:
            delta = comps(v) - base
            if delta > 0:
                out[v] = delta / deg[v]
    return out


@pytest.mark.parametrize("seed", range(6))
def test_bridge_nodes_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 30
    edges = set()
    for _ in range(34):
        i, j = rng.integers(0, n, 2)
        if i != j:
            edges.add((min(i, j), max(i, j)))
    src = source([(f"n{i:02d}", f"n{j:02d}", 0.5) for i, j in sorted(edges)])
    want = brute_force_bridges(src)
    got = {src.graph.index_of(b.node_id): b.score for b in bridge_nodes(src, k=100)}
    assert got == pytest.approx(want)


def test_connected_components() -> None:
    src = source([*TRIANGLES, ("xxx", "yyy", 0.5)], isolated=["zzz"])
    c = connected_components(src)
    assert c.count == 3
    assert c.sizes == [6, 2, 1]
    assert c.components[1] == ("xxx", "yyy")
    assert connected_components(StaticSource(HebbianGraph(), [])).count == 0


def test_louvain_reports_true_modularity() -> None:
    c = communities(source(TRIANGLES))
    assert c.communities == [("aaa", "bbb", "ccc"), ("ddd", "eee", "fff")]
    assert c.modularity == pytest.approx(5 / 14)  # 0.357; the reference reported 0.423
    assert c.method == "louvain"


def test_communities_order_independent_and_isolated_nodes() -> None:
    a = communities(source(TRIANGLES, isolated=["zzz"]), seed=3)
    b = communities(source(TRIANGLES, isolated=["zzz"], reverse=True), seed=3)
    assert a == b
    assert all("zzz" not in c for c in a.communities)
    with_iso = communities(source(TRIANGLES, isolated=["zzz"]), include_isolated=True)
    assert ("zzz",) in with_iso.communities
    assert with_iso.modularity == pytest.approx(a.modularity)
    assert communities(StaticSource(HebbianGraph(), [])).communities == []


def test_structural_queries_on_a_colony_graph(bio: StaticSource) -> None:
    assert connected_components(bio).sizes == [12, 5]
    p = shortest_path(bio, "ribosome", "polymerase")
    assert p is not None and p.labels[0] == "ribosome" and p.labels[-1] == "polymerase"
    assert "protein" in p.labels
    assert [b.label for b in bridge_nodes(bio, 1)] == ["protein"]
