"""The Hebbian graph: identity, wiring, decay, degree cap, lookups, and properties."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phago.errors import ConfigError, NodeNotFound
from phago.graph import _TYPE_CODE, HebbianGraph
from phago.ids import DocumentId, node_id
from phago.types import EdgeData, NodeType, Position


def test_exact_label_identity_no_substring_merge() -> None:
    g = HebbianGraph()
    g.present(["cellular"], tick=0)
    g.present(["cell"], tick=0)
    assert g.node_count == 2
    assert g.find_by_label("cell") == node_id("concept", "cell")
    assert g.find_by_label("CELL ") == node_id("concept", "cell")
    assert g.find_by_label("cel") is None


def test_present_increments_access_count() -> None:
    g = HebbianGraph()
    g.present(["dna", "rna"], tick=0)
    g.present(["dna"], tick=3)
    node = g.get_node(g.find_by_label("dna"))  # type: ignore[arg-type]
    assert node is not None and node.access_count == 2 and node.created_tick == 0


def test_same_label_different_type_are_different_nodes() -> None:
    g = HebbianGraph()
    g.present(["dna"], NodeType.CONCEPT)
    g.present(["dna"], NodeType.INSIGHT)
    assert g.node_count == 2
    assert len(g.find_nodes_by_exact_label("dna")) == 2


def test_tentative_then_reinforced_capped_at_one() -> None:
    g = HebbianGraph()
    idx = g.present(["a1x", "b2y"], tick=0)
    g.wire_clique(idx, tick=0)
    e = g.edge_between("a1x", "b2y")
    assert e is not None and e.weight == pytest.approx(0.1) and e.co_activations == 1
    for t in range(1, 15):
        g.wire_clique(idx, tick=t)
    e = g.edge_between("a1x", "b2y")
    assert e is not None and e.weight == 1.0 and e.co_activations == 15
    assert e.created_tick == 0 and e.last_activated_tick == 14


def test_no_self_loops_even_with_duplicates() -> None:
    g = HebbianGraph()
    idx = g.present(["cell", "cell", "wall"], tick=0)
    assert idx[0] == idx[1]
    g.wire_clique(idx, tick=0)
    assert g.edge_count == 1
    with pytest.raises(ValueError):
        g.set_edge(g.id_at(0), g.id_at(0), EdgeData(0.5, 1, 0, 0))


def test_edge_lookup_symmetric_and_neighbors() -> None:
    g = HebbianGraph()
    idx = g.present(["aaa", "bbb", "ccc"], tick=0)
    g.wire_pairs([idx[0], idx[2]], [idx[1], idx[1]], tick=0)
    a, b, c = (g.id_at(int(i)) for i in idx)
    assert g.get_edge(a, b) == g.get_edge(b, a)
    assert g.get_edge(a, c) is None
    assert {n for n, _ in g.neighbors(b)} == {a, c}
    assert g.degree(b) == 2
    assert g.remove_edge(b, a) is not None
    assert g.get_edge(a, b) is None and g.edge_count == 1


def test_wire_unknown_index_raises() -> None:
    g = HebbianGraph()
    g.present(["aaa"])
    with pytest.raises(NodeNotFound):
        g.wire_pairs([0], [5], tick=0)
    g.present(["bbb"])
    with pytest.raises(NodeNotFound):  # a bad pair anywhere: nothing is wired
        g.wire_pairs([0, 1], [1, -1], tick=0)
    assert g.edge_count == 0
    assert g.wire_pairs([0, 1, 1], [0, 1, 0], tick=0) == 1  # self-pairs are dropped
    assert g.edge_count == 1
    with pytest.raises(NodeNotFound):
        g.index_of(node_id("concept", "nope"))


def test_activity_decay_young_edges_base_rate_never_pruned() -> None:
    g = HebbianGraph()
    idx = g.present(["aaa", "bbb"])
    g.wire_clique(idx, tick=0)
    for now in range(0, 50):
        g.decay_edges_activity(0.005, 0.05, now, 1.5, 50)
    e = g.edge_between("aaa", "bbb")
    assert e is not None and e.weight == pytest.approx(0.1 * 0.995**50)


def test_unreinforced_tentative_edge_pruned_around_age_100() -> None:
    g = HebbianGraph()
    idx = g.present(["aaa", "bbb"])
    g.wire_clique(idx, tick=0)
    pruned_at = None
    for now in range(0, 300):
        if len(g.decay_edges_activity(0.005, 0.05, now, 1.5, 50)):
            pruned_at = now
            break
    assert pruned_at is not None and 85 <= pruned_at <= 115  # REFERENCE.md §3.2: about 100


def test_activity_decay_formula_for_mature_edge() -> None:
    g = HebbianGraph()
    idx = g.present(["aaa", "bbb"])
    g.wire_clique(idx, tick=0)
    g.wire_clique(idx, tick=10)  # co 2, weight 0.2, last 10
    g.decay_edges_activity(0.005, 0.05, 60, 1.5, 50)
    rate = 0.005 * (1 + 1.5 * (50 / 100) * (1 / (1 + 0.5 * 2)))
    e = g.edge_between("aaa", "bbb")
    assert e is not None and e.weight == pytest.approx(0.2 * (1 - rate))


def test_decay_rate_capped_at_half() -> None:
    g = HebbianGraph()
    idx = g.present(["aaa", "bbb"])
    g.wire_clique(idx, tick=0)
    g.set_edge(g.id_at(0), g.id_at(1), EdgeData(1.0, 1, 0, 0))
    g.decay_edges_activity(0.4, 0.0, 10_000, 100.0, 0)
    e = g.edge_between("aaa", "bbb")
    assert e is not None and e.weight == pytest.approx(0.5)


def test_degree_cap_keeps_strongest_and_removes_if_either_drops() -> None:
    g = HebbianGraph()
    hub = g.present(["hub"])[0]
    leaves = g.present([f"leaf{i}" for i in range(5)])
    for i, leaf in enumerate(leaves):
        g.wire_pairs([hub], [leaf], tick=0)
        for _ in range(i):
            g.wire_pairs([hub], [leaf], tick=1)  # leaf i has weight 0.1*(i+1)
    pruned = g.prune_to_max_degree(2)
    assert len(pruned) == 3
    kept = {g.label_at(g.index_of(n)) for n, _ in g.neighbors(g.id_at(int(hub)))}
    assert kept == {"leaf3", "leaf4"}


def test_degree_cap_ties_keep_earlier_edge() -> None:
    g = HebbianGraph()
    idx = g.present(["hub", "l1", "l2", "l3"])
    for j in (1, 2, 3):
        g.wire_pairs([idx[0]], [idx[j]], tick=0)
    g.prune_to_max_degree(2)
    kept = sorted(g.label_at(g.index_of(n)) for n, _ in g.neighbors(g.id_at(int(idx[0]))))
    assert kept == ["l1", "l2"]


def test_degree_cap_negative_rejected() -> None:
    with pytest.raises(ConfigError):
        HebbianGraph().prune_to_max_degree(-1)


def test_provenance_kept_per_document() -> None:
    g = HebbianGraph()
    g.present(["cell", "wall"], document=11)  # type: ignore[arg-type]
    g.present(["cell"], document=22)  # type: ignore[arg-type]
    assert g.node_documents(g.find_by_label("cell")) == (11, 22)  # type: ignore[arg-type]
    node = g.get_node(g.find_by_label("wall"))  # type: ignore[arg-type]
    assert node is not None and node.documents == (11,)


def test_indices_near_uses_grid_and_since() -> None:
    g = HebbianGraph()
    g.present(["aaa"], position=Position(0, 0))
    g.present(["bbb"], position=Position(100, 100))
    g.present(["ccc"], position=Position(3, 4))
    assert g.indices_near(Position(0, 0), 5.0) == [0, 2]
    assert g.indices_near(Position(0, 0), 5.0, since=1) == [2]


def test_many_edges_survive_table_growth_and_compaction() -> None:
    g = HebbianGraph()
    idx = g.present([f"w{i}" for i in range(300)])
    g.wire_clique(idx, tick=0)
    assert g.edge_count == 300 * 299 // 2
    g.prune_to_max_degree(3)
    assert int(g.degrees().max()) <= 3
    g.wire_clique(idx[:50], tick=1)
    a, b, w, co, _, _ = g.edge_arrays()
    assert len(a) == g.edge_count
    for k in range(0, len(a), 97):
        e = g.get_edge(g.id_at(int(a[k])), g.id_at(int(b[k])))
        assert e is not None and e.weight == w[k] and e.co_activations == co[k]


def test_reinforcing_many_edges_at_once_keeps_the_edge_table_size() -> None:
    """A large call that mostly reinforces edges does not grow the edge table as if every
    pair were new (room is reserved chunk by chunk)."""
    g = HebbianGraph()
    idx = g.present([f"w{i}" for i in range(300)])
    g.wire_clique(idx, tick=0)
    buckets = g._tkeys.shape[0]
    g.wire_clique(idx, tick=1)
    assert g._tkeys.shape[0] == buckets
    assert g.edge_count == 300 * 299 // 2
    assert set(g.edge_arrays()[3].tolist()) == {2}  # every edge co-activated twice


def test_a_graph_pickled_with_table_tombstones_is_rebuilt_when_loaded() -> None:
    """Tables pickled before deletions shifted entries back could hold tombstones (-2);
    loading such a graph builds its table again, and every edge is still found."""
    g = HebbianGraph()
    idx = g.present([f"w{i}" for i in range(40)])
    g.wire_clique(idx, tick=0)
    g.prune_to_max_degree(5)
    free = np.flatnonzero(g._tkeys == -1)
    g._tkeys[free[:10]] = -2  # what a deletion used to leave behind
    loaded = pickle.loads(pickle.dumps(g))
    assert not (loaded._tkeys == -2).any()
    a, b, w, *_ = g.edge_arrays()
    for x, y, wt in zip(a.tolist(), b.tolist(), w.tolist(), strict=True):
        e = loaded.get_edge(g.id_at(x), g.id_at(y))
        assert e is not None and e.weight == wt


def test_to_networkx_attributes() -> None:
    g = HebbianGraph()
    idx = g.present(["aaa", "bbb"], tick=2)
    g.wire_clique(idx, tick=2)
    nxg: Any = g.to_networkx()  # (a networkx.Graph: networkx has no types)
    a = g.find_by_label("aaa")
    assert nxg.nodes[a]["label"] == "aaa" and nxg.nodes[a]["node_type"] == "concept"
    assert nxg.nodes[a]["access_count"] == 1
    ((_u, _v, d),) = nxg.edges(data=True)
    assert set(d) == {"weight", "co_activations", "created_tick", "last_activated_tick"}


# ----------------------------------------------------------------- properties

ops = st.lists(
    st.tuples(
        st.sampled_from(["wire", "decay", "cap", "remove"]),
        st.lists(st.integers(0, 11), min_size=2, max_size=6),
        st.integers(0, 4),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_graph_properties(sequence: list[tuple[str, list[int], int]]) -> None:
    g = HebbianGraph()
    g.present([f"n{i}" for i in range(12)])
    for tick, (op, nodes, k) in enumerate(sequence, start=1):
        before = {(a, b): e.weight for a, b, e in g.edges()}
        if op == "wire":
            g.wire_clique(np.array(nodes), tick)
        elif op == "decay":
            g.decay_edges_activity(0.05, 0.05, tick, 1.5, 3)
            after = {(a, b): e.weight for a, b, e in g.edges()}
            for key, w in after.items():
                assert w <= before[key]  # decay never increases a weight
        elif op == "cap":
            g.prune_to_max_degree(k + 1)
            assert int(g.degrees().max(initial=0)) <= k + 1
        else:
            g.remove_edge(g.id_at(nodes[0]), g.id_at(nodes[1]))
        for a, b, e in g.edges():
            assert 0.0 < e.weight <= 1.0
            assert a != b
            assert g.get_edge(a, b) == g.get_edge(b, a) == e
        assert g.edge_count == sum(1 for _ in g.edges())


coords = st.integers(-30, 30).map(float)


@settings(max_examples=60, deadline=None)
@given(
    nodes=st.lists(st.tuples(coords, coords), min_size=1, max_size=80),
    queries=st.lists(
        st.tuples(coords, coords, st.sampled_from([0, 0, 0, 3, 90])), min_size=12, max_size=40
    ),
    radius=st.sampled_from([0.0, 5.0, 7.5, 15.0]),
)
def test_indices_near_many_equals_indices_near(
    nodes: list[tuple[float, float]], queries: list[tuple[float, float, int]], radius: float
) -> None:
    g = HebbianGraph()
    for k, (x, y) in enumerate(nodes):
        g.present([f"n{k}"], NodeType.CONCEPT, Position(x, y))
    at = [Position(x, y) for x, y, _ in queries]
    since = [s for _, _, s in queries]
    many = g.indices_near_many(at, radius, since)
    assert many == [
        g.indices_near(p, radius, since=s) if s < g.node_count else []
        for p, s in zip(at, since, strict=True)
    ]


def test_indices_near_many_on_a_large_graph_equals_indices_near() -> None:
    """Thousands of nodes (the k-d tree then lists hits in its own order) and groups of
    positions sharing a ``since``: the same ascending lists as one grid scan each."""
    rng = np.random.default_rng(7)
    g = HebbianGraph()
    for k, (x, y) in enumerate(rng.uniform(0, 200, (4000, 2)).round(1)):
        g.present([f"n{k}"], NodeType.CONCEPT, Position(float(x), float(y)))
    at = [Position(float(x), float(y)) for x, y in rng.uniform(0, 200, (300, 2)).round(1)]
    since = [int(s) for s in rng.choice([0, 1000, 3900], size=300)]
    many = g.indices_near_many(at, 12.0, since)
    assert many == [g.indices_near(p, 12.0, since=s) for p, s in zip(at, since, strict=True)]
    assert sum(map(len, many)) > 1000


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(["a", "b", "C", " c ", "dd", "e"]), max_size=5),
            st.integers(0, 3),
            st.one_of(st.none(), st.integers(1, 4)),
        ),
        max_size=6,
    ),
    st.lists(st.sampled_from(["a", "dd", "z"]), max_size=3),
)
def test_present_groups_equals_presenting_one_group_after_another(
    groups: list[tuple[list[str], int, DocumentId | None]], before: list[str]
) -> None:
    one, many = HebbianGraph(), HebbianGraph()
    for g in (one, many):
        g.present(before, NodeType.CONCEPT, Position(9, 9), 0)
    expected = [
        one.present(labels, NodeType.CONCEPT, Position(x, -x), 3, doc).tolist()
        for labels, x, doc in groups
    ]
    ends = np.cumsum([len(labels) for labels, _, _ in groups]).tolist()
    got = many.present_groups(
        [label for labels, _, _ in groups for label in labels],
        ends,
        NodeType.CONCEPT,
        [float(x) for _, x, _ in groups],
        [float(-x) for _, x, _ in groups],
        3,
        [doc for _, _, doc in groups],
    )
    assert got.tolist() == [i for part in expected for i in part]
    assert many._ids == one._ids and many._labels == one._labels
    assert many.access_counts().tolist() == one.access_counts().tolist()
    assert many.positions().tolist() == one.positions().tolist()
    assert [d.tolist() for d in many.provenance_arrays()] == [
        d.tolist() for d in one.provenance_arrays()
    ]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(["a", "b", "c", "dd", "e"]), max_size=5),
            st.integers(0, 30),
            st.one_of(st.none(), st.integers(1, 4)),
        ),
        max_size=6,
    ),
    st.lists(st.sampled_from(["a", "dd", "z"]), max_size=3),
    st.sampled_from([NodeType.CONCEPT, NodeType.INSIGHT]),
)
def test_present_groups_by_id_equals_presenting_by_label(
    groups: list[tuple[list[str], int, int | None]], before: list[str], node_type: NodeType
) -> None:
    """What a shard receives: another graph's (normalised) labels with their NodeIds."""
    by_label, by_id = HebbianGraph(), HebbianGraph()
    for g in (by_label, by_id):
        g.present(before, node_type, Position(9, 9), 0)
    labels = [label for part, _, _ in groups for label in part]
    args = (
        labels,
        np.cumsum([len(part) for part, _, _ in groups]).tolist(),
        node_type,
        [float(x) for _, x, _ in groups],
        [float(-x) for _, x, _ in groups],
        3,
    )
    docs = (
        np.array([doc or 0 for _, _, doc in groups], dtype=np.uint64),
        np.array([doc is not None for _, _, doc in groups], dtype=np.bool_),
    )
    want, want_new = by_label._present_groups(*args, doc_columns=docs)
    ids = np.array([node_id(node_type.value, label) for label in labels], dtype=np.uint64)
    got, got_new = by_id._present_groups(*args, doc_columns=docs, ids=ids)
    assert got.tolist() == want.tolist()
    assert (got_new is None) == (want_new is None)
    if want_new is not None:
        assert got_new is not None and got_new.tolist() == want_new.tolist()
    assert by_id._ids == by_label._ids and by_id._labels == by_label._labels
    assert by_id.access_counts().tolist() == by_label.access_counts().tolist()
    assert by_id.positions().tolist() == by_label.positions().tolist()
    assert by_id.type_codes().tolist() == by_label.type_codes().tolist()
    assert by_id.indices_near(Position(30, -30), 5.0) == by_label.indices_near(
        Position(30, -30), 5.0
    )
    assert [d.tolist() for d in by_id.provenance_arrays()] == [
        d.tolist() for d in by_label.provenance_arrays()
    ]
    with pytest.raises(ValueError, match="ids"):
        by_id._present_groups(*args, doc_columns=docs, ids=np.append(ids, np.uint64(7)))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(),  # presented, else referenced
            st.lists(st.sampled_from(["a", "b", "c", "dd"]), max_size=4),
            st.sampled_from([NodeType.CONCEPT, NodeType.INSIGHT]),
            st.integers(0, 30),
        ),
        max_size=6,
    ),
    st.lists(st.sampled_from(["a", "dd", "z"]), max_size=3),
)
def test_meeting_runs_of_ids_at_once_equals_taking_them_run_by_run(
    runs: list[tuple[bool, list[str], NodeType, int]], before: list[str]
) -> None:
    """What a shard does with a tick's batches: presentations and references in order."""
    each, once = HebbianGraph(), HebbianGraph()
    for g in (each, once):
        g.present(before, NodeType.CONCEPT, Position(9, 9), 0)
    for shown, labels, node_type, x in runs:  # one run at a time, as batch by batch
        ids = np.array([node_id(node_type.value, t) for t in labels], dtype=np.uint64)
        if shown:
            each._present_known_ids(
                labels, [len(labels)], _TYPE_CODE[node_type], [float(x)], [-float(x)], 3, ids
            )
            continue
        found = each.indices_of_ids(ids)
        new = np.flatnonzero(found < 0)
        fresh = list(dict.fromkeys(ids[new].tolist()))  # (a run lists a reference once)
        each._new_nodes(
            np.array(fresh, dtype=np.uint64),
            [labels[ids.tolist().index(i)] for i in fresh],
            _TYPE_CODE[node_type],
            0.0,
            0.0,
            3,
            0,
        )
    labels = [t for _, part, _, _ in runs for t in part]
    all_ids = np.array(
        [node_id(nt.value, t) for _, part, nt, _ in runs for t in part], dtype=np.uint64
    )
    n0 = once.node_count
    got, made = once._meet_ids(
        all_ids,
        labels,
        np.array([_TYPE_CODE[nt] for _, part, nt, _ in runs for _ in part], dtype=np.int8),
        np.array([float(x) if s else 0.0 for s, part, _, x in runs for _ in part]),
        np.array([-float(x) if s else 0.0 for s, part, _, x in runs for _ in part]),
        3,
        np.array([s for s, part, _, _ in runs for _ in part], dtype=np.bool_),
    )
    assert once._ids == each._ids and once._labels == each._labels
    assert got.tolist() == each.indices_of_ids(all_ids).tolist()
    assert got[made].tolist() == list(range(n0, once.node_count))  # each made one, in order
    assert once.access_counts().tolist() == each.access_counts().tolist()
    assert once.positions().tolist() == each.positions().tolist()
    assert once.type_codes().tolist() == each.type_codes().tolist()
    assert once.indices_near(Position(30, -30), 5.0) == each.indices_near(Position(30, -30), 5.0)


def _eight_nodes_wired(wired: list[tuple[int, int]]) -> HebbianGraph:
    """Nodes n0..n7 and the pairs ``wired`` between them, wired at tick 2."""
    g = HebbianGraph()
    for i in range(8):
        g.add_node(f"n{i}")
    if wired:
        g.wire_pairs([a for a, _ in wired], [b for _, b in wired], tick=2)
    return g


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=30),
    st.lists(st.integers(0, 7), max_size=5),
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=10),
)
def test_incident_edges_and_remove_index_pairs_match_the_edge_set(
    wired: list[tuple[int, int]], listed: list[int], removed: list[tuple[int, int]]
) -> None:
    g = _eight_nodes_wired(wired)
    edges = {frozenset(p) for p in wired if p[0] != p[1]}
    node, other, w, ct = g.incident_edges(listed)
    seen = sorted(zip(node.tolist(), other.tolist(), strict=True))
    want = sorted((v, u) for e in edges for v in set(listed) for u in e - {v} if v in e)
    assert seen == want
    assert np.all(w >= 0.1) and np.all(ct == 2)
    gone = g.remove_index_pairs([a for a, _ in removed], [b for _, b in removed])
    hit = edges & {frozenset(p) for p in removed if p[0] != p[1]}
    assert len(gone) == len(hit) and g.edge_count == len(edges) - len(hit)
    for e in hit:
        a, b = sorted(e)
        assert g.get_edge(g.id_at(a), g.id_at(b)) is None


def test_incident_edges_and_remove_index_pairs_reject_bad_indices() -> None:
    g = HebbianGraph()
    g.add_node("a")
    g.add_node("b")
    g.wire_pairs([0], [1], tick=0)
    with pytest.raises(NodeNotFound):
        g.incident_edges([2])
    with pytest.raises(NodeNotFound):
        g.remove_index_pairs([0], [-1])
    with pytest.raises(ValueError, match="endpoints"):
        g.remove_index_pairs([0, 1], [1])
    assert g.edge_count == 1


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=30),
    st.lists(st.integers(0, 7), max_size=6),
    st.lists(st.integers(0, 3), min_size=8, max_size=8),
    st.integers(0, 3),
)
def test_grouped_incident_edges_are_the_incident_edges_lead_key_first_then_by_key(
    wired: list[tuple[int, int]], listed: list[int], keys: list[int], lead: int
) -> None:
    g = _eight_nodes_wired(wired)
    key = np.array(keys, dtype=np.int64)
    deg, edges = g.degrees_and_incident_edges(listed)
    rank = np.where(key[edges[0]] == lead, -1, key[edges[0]])
    order = np.argsort(rank, kind="stable")
    got_deg, got, groups = g.degrees_and_grouped_incident_edges(listed, key, lead)
    assert got_deg.tolist() == deg.tolist()
    for want_col, got_col in zip(edges, got, strict=True):
        assert got_col.tolist() == want_col[order].tolist()
    assert groups[0][:2] == (lead, 0)
    assert [k for k, _, _ in groups[1:]] == sorted({int(key[v]) for v in got[0]} - {lead})
    covered = 0
    for k, start, stop in groups:
        assert start == covered and (key[got[0][start:stop]] == k).all()
        covered = stop
    assert covered == len(got[0])


def test_grouped_incident_edges_reject_bad_indices_keys_and_lead() -> None:
    g = HebbianGraph()
    g.add_node("a")
    g.add_node("b")
    g.wire_pairs([0], [1], tick=0)
    with pytest.raises(NodeNotFound):
        g.degrees_and_grouped_incident_edges([2], np.zeros(2, dtype=np.int64), 0)
    with pytest.raises(ValueError, match="keys name 1 nodes"):
        g.degrees_and_grouped_incident_edges([0], np.zeros(1, dtype=np.int64), 0)
    with pytest.raises(ValueError, match="non-negative"):
        g.degrees_and_grouped_incident_edges([0], np.array([-1, 0]), 0)
    with pytest.raises(ValueError, match="non-negative"):
        g.degrees_and_grouped_incident_edges([0], np.array([0, 0]), -1)


# ---------------------------------------------------------------------- grouped presentation

_WORDS = ["a", "b", "c", "d", "e", "f"]


@st.composite
def presentation_runs(
    draw: st.DrawFn,
) -> list[tuple[list[str], list[tuple[int, int]], float | None]]:
    """Runs of presentations: labels from a small vocabulary (so later groups meet earlier
    nodes and edges), pairs that are sometimes negative or out of range, optional weights."""
    groups = []
    for _ in range(draw(st.integers(0, 6))):
        labels = draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=5))
        k = len(labels)
        pairs = draw(st.lists(st.tuples(st.integers(-k, k), st.integers(-k, k)), max_size=8))
        weight = draw(st.none() | st.sampled_from([0.05, 0.5, 1.0]))
        groups.append((labels, pairs, weight))
    return groups


def _graph_state(g: HebbianGraph) -> list[list[float]]:
    return [a.tolist() for a in (*g.edge_arrays(), g.access_counts(), *g.provenance_arrays())]


@settings(max_examples=300, deadline=None)
@given(presentation_runs(), st.sampled_from([None, 1, 2]), st.sampled_from([2048, 1, 3]))
def test_present_and_wire_groups_equals_one_group_at_a_time(
    run: list[tuple[list[str], list[tuple[int, int]], float | None]],
    strong_min: int | None,
    chunk: int,
) -> None:
    with pytest.MonkeyPatch.context() as mp:  # small chunks: a run wired in several calls
        mp.setattr("phago.graph._WIRE_CHUNK", chunk)
        _check_grouped_against_one_by_one(run, strong_min)


def _check_grouped_against_one_by_one(
    run: list[tuple[list[str], list[tuple[int, int]], float | None]], strong_min: int | None
) -> None:
    from phago.agents.fitness_terms import edge_terms

    together, apart = HebbianGraph(), HebbianGraph()
    for g in (together, apart):  # an earlier presentation: edges to reinforce, nodes to meet
        g.wire_clique(g.present(["a", "b", "x"], document=DocumentId(9)), 0)
    labels = [w for ls, _, _ in run for w in ls]
    ends = np.cumsum([len(ls) for ls, _, _ in run]).tolist()
    pairs = np.array([p for _, ps, _ in run for p in ps], dtype=np.int64).reshape(-1, 2)
    pair_ends = np.cumsum([len(ps) for _, ps, _ in run]).tolist()
    weights = [w for _, _, w in run]
    xs = [float(k) for k in range(len(run))]
    docs = [DocumentId(k + 1) for k in range(len(run))]
    bad = any(not -len(ls) <= p < len(ls) for ls, ps, _ in run for pair in ps for p in pair)
    before = _graph_state(together)
    if bad:
        with pytest.raises(IndexError):
            together.present_and_wire_groups(
                labels, ends, NodeType.CONCEPT, xs, xs, 3, docs, pairs, pair_ends, weights,
                weights, strong_min,
            )  # fmt: skip
        assert _graph_state(together) == before
        assert together.node_count == 4 - 1
        return
    got = together.present_and_wire_groups(
        labels, ends, NodeType.CONCEPT, xs, xs, 3, docs, pairs, pair_ends, weights, weights,
        strong_min,
    )  # fmt: skip
    want_idx, want_created, want_wired, want_strong, want_bridges = [], [], [], [], []
    want_edges: list[int] = []
    for k, (ls, ps, w) in enumerate(run):
        n = apart.node_count
        idx = apart.present(ls, NodeType.CONCEPT, Position(xs[k], xs[k]), 3, docs[k])
        created = apart.node_count - n
        p = np.array(ps, dtype=np.int64).reshape(-1, 2)
        m = apart.edge_count
        lo, hi = apart.wire_index_pairs(idx, p, 3, w, w)
        want_edges.append(apart.edge_count - m)
        want_idx += idx.tolist()
        want_created.append(created)
        want_wired.append(len(lo))
        terms = (0, 0)
        if strong_min is not None and len(lo):
            terms = edge_terms(apart, idx, p, 3, created, strong_min, wired=(lo, hi))
        want_strong.append(terms[0])
        want_bridges.append(terms[1])
    assert got.indices.tolist() == want_idx
    assert got.created.tolist() == want_created
    assert got.wired.tolist() == want_wired
    assert got.strong.tolist() == want_strong
    assert got.bridges.tolist() == want_bridges
    assert got.edges_created.tolist() == want_edges
    assert _graph_state(together) == _graph_state(apart)
    assert list(together.nodes()) == list(apart.nodes())


def test_present_and_wire_groups_checks_pair_ends() -> None:
    g = HebbianGraph()
    with pytest.raises(ValueError, match="pair_ends"):
        g.present_and_wire_groups(
            ["a", "b"], [2], NodeType.CONCEPT, [0.0], [0.0], 0, [None], np.array([[0, 1]]), [0]
        )
    assert g.node_count == 0


def test_provenance_arrays_are_read_only_snapshots() -> None:
    g = HebbianGraph()
    g.present(["a", "b"], document=DocumentId(1))
    nodes, docs = g.provenance_arrays()
    for k in range(200):  # the columns grow (and move) underneath
        g.present(["a", f"w{k}"], document=DocumentId(k + 2))
    assert (nodes.tolist(), docs.tolist()) == ([0, 1], [1, 1])
    with pytest.raises(ValueError):
        nodes[0] = 5
    all_nodes, all_docs = g.provenance_arrays()
    assert len(all_nodes) == len(all_docs) == 2 + 400
    a = g.find_by_label("a")
    assert a is not None
    assert g.node_documents(a) == tuple(DocumentId(k) for k in range(1, 202))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.text("abcdefgh", min_size=1, max_size=3), max_size=40), max_size=6),
    st.lists(st.integers(0, 2**64 - 1), max_size=10),
)
def test_indices_of_ids_agree_with_index_of_as_the_graph_grows(
    batches: list[list[str]], strangers: list[int]
) -> None:
    import pickle

    g = HebbianGraph()
    for labels in batches:  # lookups between growth steps: the table follows the graph
        g.present(labels)
        ids = [g.id_at(i) for i in range(g.node_count)]
        unknown = [x for x in strangers if x not in g]
        got = g.indices_of_ids(ids + unknown)
        assert got.tolist() == list(range(g.node_count)) + [-1] * len(unknown)
    copy = pickle.loads(pickle.dumps(g))  # the table is not pickled; rebuilt on demand
    assert "_id_keys" not in g.__getstate__()
    ids = [g.id_at(i) for i in range(g.node_count)]
    assert copy.indices_of_ids(ids).tolist() == list(range(g.node_count))
    assert g.indices_of_ids(np.zeros(0, dtype=np.uint64)).tolist() == []


def test_indices_of_ids_after_a_colony_is_captured_and_restored() -> None:
    from phago import Colony, Digester, Position
    from phago.state import capture, restore

    colony = Colony(seed=1)
    colony.ingest_document("d", "membrane proteins carry ions across the membrane", Position(0, 0))
    colony.spawn(Digester(Position(0, 0)))
    colony.run_until_digested(max_ticks=50)
    g = colony.graph
    ids = [g.id_at(i) for i in range(g.node_count)]
    assert g.node_count > 2 and g.indices_of_ids(ids).tolist() == list(range(g.node_count))
    back = restore(capture(colony)).graph
    assert back.indices_of_ids(ids[::-1]).tolist() == list(range(g.node_count))[::-1]


def _columns(g: HebbianGraph) -> dict[str, object]:
    a, b, w, co, ct, lt = g.edge_arrays()
    pn, pd = g.provenance_arrays()
    ids = np.array([g.id_at(i) for i in range(g.node_count)], dtype=np.uint64)
    return {
        "node_ids": ids,
        "labels": g.labels(),
        "node_types": [g.node_type_at(i).value for i in range(g.node_count)],
        "access": g.access_counts(),
        "created": g.created_ticks(),
        "positions": g.positions(),
        "edge_a": ids[a],
        "edge_b": ids[b],
        "weight": w,
        "co_activations": co,
        "created_tick": ct,
        "last_activated_tick": lt,
        "prov_nodes": ids[pn],
        "prov_docs": pd,
    }


def test_from_arrays_rebuilds_a_graph_and_names_a_missing_endpoint() -> None:
    g = HebbianGraph()
    idx = g.present(["cell", "wall", "ion"], document=DocumentId(7))
    g.wire_clique(idx, tick=2)
    cols = _columns(g)
    back = HebbianGraph.from_arrays(**cols)  # type: ignore[arg-type]
    for x, y in zip(
        (*g.edge_arrays(), *g.provenance_arrays()),
        (*back.edge_arrays(), *back.provenance_arrays()),
        strict=True,
    ):
        assert np.array_equal(x, y)
    stranger = 12345
    assert stranger not in g
    bad = dict(cols, edge_b=np.array([*cols["edge_b"][:-1], stranger], dtype=np.uint64))  # type: ignore[index]
    with pytest.raises(NodeNotFound, match=f"edge endpoint {stranger} is not a node"):
        HebbianGraph.from_arrays(**bad)  # type: ignore[arg-type]
    bad = dict(cols, prov_nodes=[stranger] * len(cols["prov_docs"]))  # type: ignore[arg-type]
    with pytest.raises(NodeNotFound, match=f"provenance node {stranger} is not a node"):
        HebbianGraph.from_arrays(**bad)  # type: ignore[arg-type]
    short = dict(cols, edge_a=cols["edge_a"][:-1])  # type: ignore[index]
    with pytest.raises(ValueError, match="expected 3 edge endpoints"):
        HebbianGraph.from_arrays(**short)  # type: ignore[arg-type]


def test_indices_of_ids_take_any_integer_form_and_refuse_other_values() -> None:
    g = HebbianGraph()
    g.present(["a", "b"])
    a, b = g.id_at(0), g.id_at(1)
    # Python ints of 64 bits (a list NumPy would turn into floats), NumPy scalars, arrays
    assert g.indices_of_ids([b, a]).tolist() == [1, 0]
    assert g.indices_of_ids([np.uint64(a), b]).tolist() == [0, 1]  # type: ignore[arg-type]
    assert g.indices_of_ids(np.array([a, b], dtype=np.uint64)).tolist() == [0, 1]
    # ids that cannot name a node are simply absent
    assert g.indices_of_ids([b, -1, 2**70]).tolist() == [1, -1, -1]
    assert g.indices_of_ids(np.array([-3, 5])).tolist() == [-1, -1]
    assert g.indices_of_ids([]).tolist() == []
    bad: npt.ArrayLike
    for bad in ([1.5], np.array([float(a)]), ["x"]):
        with pytest.raises(TypeError):
            g.indices_of_ids(bad)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.text("abc", min_size=1, max_size=3), min_size=1, max_size=12, unique=True),
    st.lists(st.sampled_from(list(NodeType)), min_size=12, max_size=12),
    st.integers(0, 3),
)
def test_new_nodes_in_bulk_are_new_nodes_one_by_one(labels, types, existing) -> None:  # type: ignore[no-untyped-def]
    # what a shard does with an update's missing edge ends: add them at (0, 0), access 0
    one, bulk = HebbianGraph(), HebbianGraph()
    for g in (one, bulk):
        for k in range(existing):
            g.add_node(f"z{k}", position=Position(1.0, 2.0), tick=1)
    codes = [list(NodeType).index(t) for t in types[: len(labels)]]
    ids = [node_id(types[k].value, label) for k, label in enumerate(labels)]
    for nid, label, code in zip(ids, labels, codes, strict=True):
        one._new_node(nid, label, code, 0.0, 0.0, 7, 0)
    at = bulk._new_nodes(ids, labels, codes, 0.0, 0.0, 7, 0)
    assert list(at) == list(range(existing, existing + len(labels)))
    assert bulk.node_count == one.node_count
    for i in range(one.node_count):
        assert bulk.node_at(i) == one.node_at(i)
        assert bulk.index_of(one.id_at(i)) == i
    for label, t in zip(labels, types, strict=False):
        assert bulk.find_by_label(label, t) == one.find_by_label(label, t)
        assert bulk.find_nodes_by_exact_label(label) == one.find_nodes_by_exact_label(label)
    assert bulk.indices_near(Position(0, 0), 0.5) == one.indices_near(Position(0, 0), 0.5)
    assert bulk.indices_of_ids(ids).tolist() == one.indices_of_ids(ids).tolist()


def _recounted_degrees(g: HebbianGraph) -> list[int]:
    a, b, *_ = g.edge_arrays()
    degrees: list[int] = np.bincount(np.concatenate([a, b]), minlength=g.node_count).tolist()
    return degrees


_PAIRS = st.lists(st.tuples(st.integers(0, 14), st.integers(0, 14)))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("wire"), _PAIRS),
            st.tuples(st.just("remove"), _PAIRS),
            st.tuples(st.just("cap"), st.integers(0, 4)),
            st.tuples(st.just("decay"), st.floats(0.0, 0.9)),
            st.tuples(st.just("nodes"), st.integers(1, 5)),
        ),
        max_size=25,
    )
)
def test_degrees_kept_up_to_date_equal_a_recount(ops: list[tuple[str, object]]) -> None:
    # degrees are counted once, then kept by every edge creation and removal (a degree cap,
    # a Decay's report and degrees() then skip a pass over the edges); they must always
    # equal a recount of the live edges, compaction and new nodes included
    g = HebbianGraph()
    for i in range(10):
        g.add_node(f"n{i}")
    assert g.degrees().tolist() == [0] * 10
    for tick, (kind, arg) in enumerate(ops):
        n = g.node_count
        if kind == "wire":
            pairs = [(a % n, b % n) for a, b in arg if a % n != b % n]  # type: ignore[attr-defined]
            if pairs:
                g.wire_pairs([a for a, _ in pairs], [b for _, b in pairs], tick=tick)
        elif kind == "remove":
            pairs = [(a % n, b % n) for a, b in arg]  # type: ignore[attr-defined]
            g.remove_index_pairs([a for a, _ in pairs], [b for _, b in pairs])
        elif kind == "cap":
            g.prune_to_max_degree(int(arg))  # type: ignore[call-overload]
        elif kind == "decay":
            g.decay_edges(float(arg), 0.05)  # type: ignore[arg-type]
        else:
            for _ in range(int(arg)):  # type: ignore[call-overload]
                g.add_node(f"n{g.node_count}")
        assert g.degrees().tolist() == _recounted_degrees(g)
    deg, (node, _, _, _) = g.degrees_and_incident_edges(range(g.node_count))
    assert deg.tolist() == _recounted_degrees(g)
    assert np.bincount(node, minlength=g.node_count).tolist() == deg.tolist()


def test_the_clique_index_caches_stay_bounded() -> None:
    # (every clique size up to 512 was kept, twice: about 700 MB in a long run)
    import phago.colony as colony_mod
    import phago.graph as graph_mod

    g = HebbianGraph()
    for k in (3, 130, 300):
        idx = g.present([f"w{k}x{i}" for i in range(k)])
        g.wire_clique(idx, tick=0)
        assert len(colony_mod._clique_pairs(k)) == k * (k - 1) // 2
    assert max(graph_mod._TRIU_CACHE) <= graph_mod.TRIU_CACHED_UP_TO
    assert max(colony_mod._CLIQUES) <= graph_mod.TRIU_CACHED_UP_TO
    assert g.edge_count == 3 + 130 * 129 // 2 + 300 * 299 // 2
