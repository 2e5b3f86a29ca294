"""``HebbianGraph.from_arrays`` builds its nodes in bulk: the same graph as node by node.

The reference, :func:`_per_node`, is ``from_arrays`` as it was: one ``_new_node`` call per
node, then the edges wired through :meth:`HebbianGraph.wire_pairs`. Random graphs built
through the public API are exported as ``merge_owned_graphs`` exports shards (nodes by id,
edges and provenance by node id), in a shuffled order, and rebuilt both ways; every
observable must agree, before and after more work on the rebuilt graphs and through a
pickle round trip.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phago.errors import GraphError, NodeNotFound
from phago.graph import _TYPE_CODE, HebbianGraph
from phago.ids import DocumentId, node_id
from phago.types import EdgeData, NodeType, Position

TYPES = list(NodeType)
# few labels, so that labels repeat across types and presentations find existing nodes
LABELS = ["cell", "wall", "ion", "gene", "dna", "rna", "star", "río", "a b", "x1"]
# coordinates on, near and across spatial cell boundaries (cells of 15), negative ones too
COORDS = [0.0, -0.0, 1.5, 14.999, 15.0, -15.0, -7.5, 29.9, 30.0, 44.0, -0.1, 1e-9]


def _per_node(
    *,
    node_ids: Sequence[int] | npt.NDArray[np.uint64],
    labels: Sequence[str],
    node_types: Sequence[str],
    access: Sequence[int] | npt.NDArray[np.int64],
    created: Sequence[int] | npt.NDArray[np.int64],
    positions: npt.NDArray[np.float64] | None,
    edge_a: Sequence[int] | npt.NDArray[np.uint64],
    edge_b: Sequence[int] | npt.NDArray[np.uint64],
    weight: Sequence[float] | npt.NDArray[np.float64],
    co_activations: Sequence[int] | npt.NDArray[np.int64],
    created_tick: Sequence[int] | npt.NDArray[np.int64],
    last_activated_tick: Sequence[int] | npt.NDArray[np.int64],
    prov_nodes: Sequence[int] | npt.NDArray[np.uint64] | None = None,
    prov_docs: Sequence[int] | npt.NDArray[np.uint64] | None = None,
    tentative_weight: float = 0.1,
    reinforcement: float = 0.1,
) -> HebbianGraph:
    """``from_arrays`` node by node (the implementation the bulk one replaced)."""
    g = HebbianGraph(tentative_weight, reinforcement)
    n = len(labels)
    pos = np.zeros((n, 2)) if positions is None else np.asarray(positions, dtype=np.float64)
    acc = np.asarray(access, dtype=np.int64)
    ct = np.asarray(created, dtype=np.int64)
    g._reserve_nodes(n)
    for i in range(n):
        nid = int(node_ids[i])
        if nid in g._index:
            raise GraphError(f"duplicate node id {nid}")
        code = _TYPE_CODE[NodeType(node_types[i])]
        x, y = float(pos[i, 0]), float(pos[i, 1])
        g._new_node(nid, labels[i], code, x, y, int(ct[i]), int(acc[i]))  # type: ignore[arg-type]
    w = np.asarray(weight, dtype=np.float64)
    if len(w):
        a = g._indices_of_known(edge_a, len(w), "edge endpoint")
        b = g._indices_of_known(edge_b, len(w), "edge endpoint")
        before = g._m
        g.wire_pairs(a, b, 0)
        if g._m - before != len(w):
            raise GraphError("duplicate edges")
        sl = slice(before, g._m)
        g._w[sl] = w
        g._co[sl] = np.asarray(co_activations, dtype=np.int32)
        g._ct[sl] = np.asarray(created_tick, dtype=np.int32)
        g._lt[sl] = np.asarray(last_activated_tick, dtype=np.int32)
    if prov_nodes is not None and prov_docs is not None and len(prov_nodes):
        idx = g._indices_of_known(prov_nodes, len(prov_nodes), "provenance node")
        g._append_provenance(idx, np.asarray(prov_docs, dtype=np.uint64))
    return g


def _columns(g: HebbianGraph, node_order: Sequence[int] | None = None) -> dict[str, Any]:
    """``g`` as ``from_arrays`` columns, nodes in ``node_order`` (default: as they are)."""
    order = np.arange(g.node_count) if node_order is None else np.asarray(node_order, np.int64)
    ids = np.array(g.node_ids(), dtype=np.uint64)
    a, b, w, co, ct, lt = g.edge_arrays()
    pn, pd = g.provenance_arrays()
    return {
        "node_ids": ids[order],
        "labels": [g.label_at(int(i)) for i in order],
        "node_types": [g.node_type_at(int(i)).value for i in order],
        "access": g.access_counts()[order],
        "created": g.created_ticks()[order],
        "positions": g.positions()[order],
        "edge_a": ids[a],
        "edge_b": ids[b],
        "weight": w,
        "co_activations": co,
        "created_tick": ct,
        "last_activated_tick": lt,
        "prov_nodes": ids[pn],
        "prov_docs": pd,
        "tentative_weight": g.tentative_weight,
        "reinforcement": g.reinforcement,
    }


_EDGE_COLUMNS = ("_ea", "_eb", "_w", "_co", "_ct", "_lt", "_alive")


def _same_state(ref: HebbianGraph, new: HebbianGraph) -> None:
    """The same internal state: equal attributes, dicts with keys in the same order, arrays
    of the same dtype and content. The bulk build reserves room for its edges at once, so
    the edge columns may differ in spare capacity (their used part must not)."""
    sr, sn = ref.__getstate__(), new.__getstate__()
    assert list(sr) == list(sn)
    for name, x in sr.items():
        y = sn[name]
        assert type(x) is type(y), name
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype, name
            if name in _EDGE_COLUMNS:
                x, y = x[: ref._m], y[: new._m]
            elif name in ("_tk", "_ts"):
                continue  # compared through lookups (_same_graph)
            assert np.array_equal(x, y), name
        elif isinstance(x, list) and x and isinstance(x[0], dict):  # _by_type
            assert [list(d.items()) for d in x] == [list(d.items()) for d in y], name
        elif isinstance(x, dict):
            assert list(x.items()) == list(y.items()), name
        elif isinstance(x, tuple) and x and isinstance(x[0], np.ndarray):  # caches
            assert all(np.array_equal(p, q) for p, q in zip(x, y, strict=True)), name
        else:
            assert x == y, name


def _same_graph(ref: HebbianGraph, new: HebbianGraph) -> None:
    """Every observable of the two graphs agrees."""
    assert new.node_count == ref.node_count and new.edge_count == ref.edge_count
    assert new.node_ids() == ref.node_ids()
    assert new.labels() == ref.labels()
    for column in ("type_codes", "access_counts", "created_ticks", "positions", "degrees"):
        x, y = getattr(ref, column)(), getattr(new, column)()
        assert x.dtype == y.dtype and np.array_equal(x, y), column
    ids = ref.node_ids()
    assert [new.index_of(i) for i in ids] == list(range(len(ids)))
    strangers = [x for x in (1, 12345, 2**64 - 1) if x not in ids]
    found = new.indices_of_ids(ids[::-1] + strangers).tolist()
    assert found == [*range(len(ids))[::-1], *[-1] * len(strangers)]
    assert list(new.nodes()) == list(ref.nodes())
    for label in {*ref.labels(), *LABELS, "nope"}:
        assert new.indices_with_label(label) == ref.indices_with_label(label)
        assert new.find_nodes_by_exact_label(label) == ref.find_nodes_by_exact_label(label)
        for t in TYPES:
            assert new.find_by_label(label, t) == ref.find_by_label(label, t)
    assert new.indices_with_labels(LABELS) == ref.indices_with_labels(LABELS)
    points = [Position(x, y) for x in COORDS[::3] for y in COORDS[1::4]]
    for p in points:
        for r in (0.0, 1.0, 10.0, 40.0):
            for since in (0, 2):
                assert new.indices_near(p, r, since) == ref.indices_near(p, r, since)
    assert new.indices_near_many(points, 20.0, [0] * len(points)) == ref.indices_near_many(
        points, 20.0, [0] * len(points)
    )
    for x, y in zip(ref.edge_arrays(), new.edge_arrays(), strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    for x, y in zip(ref.provenance_arrays(), new.provenance_arrays(), strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    assert np.array_equal(ref.provenance_ticks(), new.provenance_ticks())
    assert list(new.edges()) == list(ref.edges())
    for a in ids:
        assert new.neighbors(a) == ref.neighbors(a)
        for b in ids:
            assert new.get_edge(a, b) == ref.get_edge(a, b)


def _build(ops: list[tuple[Any, ...]]) -> HebbianGraph:
    """A graph made by ``ops`` through the public API."""
    g = HebbianGraph()
    for tick, op in enumerate(ops, start=1):
        kind = op[0]
        if kind == "add":
            _, label, t, x, y = op
            g.add_node(label, TYPES[t], Position(x, y), tick=tick, access_count=t + 1)
        elif kind == "present":
            _, labels, t, x, y, doc = op
            idx = g.present(labels, TYPES[t], Position(x, y), tick=tick, document=doc)
            if t == 0:
                g.wire_clique(idx, tick)
        elif kind == "wire" and g.node_count > 1:
            _, pairs = op
            n = g.node_count
            g.wire_pairs([p % n for p, _ in pairs], [q % n for _, q in pairs], tick)
        elif kind == "set" and g.node_count > 1:
            _, i, j, weight, co = op
            a, b = g.id_at(i % g.node_count), g.id_at(j % g.node_count)
            if a != b:
                g.set_edge(a, b, EdgeData(weight, co, tick - 1, tick))
        elif kind == "remove" and g.edge_count:
            _, k = op
            ea, eb = g.edge_arrays()[:2]
            g.remove_edge(g.id_at(int(ea[k % len(ea)])), g.id_at(int(eb[k % len(eb)])))
        elif kind == "decay":
            g.decay_edges(0.3, 0.08)
    return g


_coord = st.sampled_from(COORDS) | st.floats(-100.0, 100.0)
_label = st.sampled_from(LABELS) | st.text("abcxyz ", min_size=1, max_size=6).filter(str.strip)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), _label, st.integers(0, len(TYPES) - 1), _coord, _coord),
        st.tuples(
            st.just("present"),
            st.lists(_label, min_size=1, max_size=5),
            st.integers(0, len(TYPES) - 1),
            _coord,
            _coord,
            st.none() | st.integers(1, 2**64 - 1).map(DocumentId),
        ),
        st.tuples(
            st.just("wire"),
            st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=8),
        ),
        st.tuples(
            st.just("set"),
            st.integers(0, 50),
            st.integers(0, 50),
            st.floats(0.01, 1.0),
            st.integers(1, 9),
        ),
        st.tuples(st.just("remove"), st.integers(0, 50)),
        st.tuples(st.just("decay")),
    ),
    max_size=25,
)


@settings(max_examples=120)
@given(ops=_ops, shuffle=st.randoms(use_true_random=False), by_id=st.booleans())
def test_bulk_from_arrays_is_the_per_node_build(
    ops: list[tuple[Any, ...]], shuffle: Any, by_id: bool
) -> None:
    g = _build(ops)
    order = list(range(g.node_count))
    if by_id:  # as merge_owned_graphs orders them
        order = np.argsort(np.array(g.node_ids(), dtype=np.uint64), kind="stable").tolist()
    else:
        shuffle.shuffle(order)
    cols = _columns(g, order)
    ref = _per_node(**cols)
    new = HebbianGraph.from_arrays(**cols)
    _same_state(ref, new)
    _same_graph(ref, new)
    _same_graph(ref, pickle.loads(pickle.dumps(new)))
    # later work on both (new nodes, wiring, pruning) goes the same way
    for h in (ref, new):
        idx = h.present(["cell", "fresh", "wall"], position=Position(3, 4), tick=99)
        h.wire_clique(idx, 99)
        h.wire_pairs(np.arange(h.node_count - 1), np.arange(1, h.node_count), 100)
        h.prune_to_max_degree(2)
    _same_state(ref, new)
    _same_graph(ref, new)


def test_bulk_from_arrays_of_a_graph_with_many_cells_and_shared_labels() -> None:
    rng = np.random.default_rng(3)
    g = HebbianGraph()
    for k in range(300):
        t = TYPES[int(rng.integers(0, len(TYPES)))]
        p = Position(float(rng.normal(0, 60)), float(rng.normal(0, 60)))
        labels = [f"w{int(rng.integers(0, 120))}", f"v{k % 7}"]
        g.present(labels, t, p, tick=k, document=DocumentId(k + 1))
    assert len(g._grid) > 20 and any(len(v) > 1 for v in g._label_index.values())
    cols = _columns(g, rng.permutation(g.node_count).tolist())
    ref, new = _per_node(**cols), HebbianGraph.from_arrays(**cols)
    _same_state(ref, new)
    _same_graph(ref, new)


@pytest.mark.parametrize("far", [1e300, -1e300, 2.0**70, 15.0 * 2**62])
def test_positions_beyond_int64_cells_are_placed_as_node_by_node(far: float) -> None:
    g = HebbianGraph()
    g.present(["a"], position=Position(far, 0.0))
    g.present(["b"], position=Position(0.0, far))
    g.present(["c"], position=Position(1.0, 2.0))
    cols = _columns(g)
    ref, new = _per_node(**cols), HebbianGraph.from_arrays(**cols)
    _same_state(ref, new)
    assert (math.floor(far / 15.0), 0) in new._grid
    assert new.indices_near(Position(far, 0.0), 1.0) == [0]


@pytest.mark.parametrize(("bad", "error"), [(math.nan, ValueError), (math.inf, OverflowError)])
def test_a_position_that_is_not_finite_is_refused_as_node_by_node(
    bad: float, error: type[Exception]
) -> None:
    cols = _columns(_build([("add", "a", 0, 0.0, 0.0), ("add", "b", 0, 1.0, 1.0)]))
    cols["positions"] = np.array([[0.0, 0.0], [1.0, bad]])
    with pytest.raises(error):
        _per_node(**cols)
    with pytest.raises(error):
        HebbianGraph.from_arrays(**cols)


def test_from_arrays_takes_plain_sequences_and_no_positions() -> None:
    ids = [node_id("concept", "a"), node_id("insight", "a"), 2**64 - 1]
    cols: dict[str, Any] = {
        "node_ids": ids,
        "labels": ["a", "a", "z"],
        "node_types": ["concept", NodeType.INSIGHT, "anomaly"],
        "access": [1, 2, 3],
        "created": [0, 0, 5],
        "positions": None,
        "edge_a": [ids[0], ids[2]],
        "edge_b": [ids[1], ids[1]],
        "weight": [0.5, 1.0],
        "co_activations": [2, 3],
        "created_tick": [0, 1],
        "last_activated_tick": [4, 5],
        "prov_nodes": [ids[2], ids[0]],
        "prov_docs": [7, 8],
    }
    ref, new = _per_node(**cols), HebbianGraph.from_arrays(**cols)
    _same_state(ref, new)
    _same_graph(ref, new)
    assert new.indices_with_label("a") == [0, 1]
    assert new.indices_near(Position(0, 0), 0.0) == [0, 1, 2]
    empty: dict[str, Any] = {k: [] for k in cols} | {"positions": None}
    assert HebbianGraph.from_arrays(**empty).node_count == 0
    _same_state(_per_node(**empty), HebbianGraph.from_arrays(**empty))


def test_from_arrays_refuses_bad_node_columns() -> None:
    g = _build([("present", ["a", "b", "c"], 0, 0.0, 0.0, DocumentId(1))])
    cols = _columns(g)
    ids = cols["node_ids"]
    dup = dict(cols, node_ids=np.array([ids[0], ids[1], ids[1]], dtype=np.uint64))
    with pytest.raises(GraphError, match=f"duplicate node id {int(ids[1])}"):
        HebbianGraph.from_arrays(**dup)
    with pytest.raises(ValueError, match="'gadget' is not a valid NodeType"):
        HebbianGraph.from_arrays(**dict(cols, node_types=["concept", "gadget", "concept"]))
    with pytest.raises(GraphError, match="node id -1 is not a 64-bit unsigned integer"):
        HebbianGraph.from_arrays(**dict(cols, node_ids=[int(ids[0]), -1, int(ids[2])]))
    for name, value in (
        ("access", cols["access"][:2]),
        ("created", np.zeros((3, 1), dtype=np.int64)),
        ("positions", np.zeros((3, 3))),
        ("node_types", cols["node_types"][:2]),
        ("node_ids", ids[:2]),
    ):
        with pytest.raises(ValueError, match=f"3 labels but {name} of shape"):
            HebbianGraph.from_arrays(**dict(cols, **{name: value}))
    twice = dict(
        cols,
        edge_a=np.concatenate([cols["edge_a"], cols["edge_b"][:1]]),
        edge_b=np.concatenate([cols["edge_b"], cols["edge_a"][:1]]),
        weight=np.concatenate([cols["weight"], [0.5]]),
        co_activations=np.concatenate([cols["co_activations"], [1]]),
        created_tick=np.concatenate([cols["created_tick"], [1]]),
        last_activated_tick=np.concatenate([cols["last_activated_tick"], [1]]),
    )
    with pytest.raises(GraphError, match="duplicate edges"):
        HebbianGraph.from_arrays(**twice)
    with pytest.raises(NodeNotFound):
        HebbianGraph.from_arrays(**dict(cols, prov_nodes=np.array([5], dtype=np.uint64)))
