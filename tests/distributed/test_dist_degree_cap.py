"""The degree cap across shards: ranking, the owner's side, and whole clusters."""

from __future__ import annotations

import pickle
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phago import ColonyConfig
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony, ShardedColony, TickPhase
from phago.distributed.degree_cap import (
    ROUND_TICKS,
    CapOrder,
    CappedEdges,
    DegreeReport,
    GlobalDegreeCap,
    _CappedLog,
    rank_drops,
)
from phago.distributed.hashing import ConsistentHashRing
from phago.distributed.types import ShardId
from phago.graph import HebbianGraph, PrunedEdges

DOCS = load_sample_corpus()
POS = grid_positions(len(DOCS))
CAP3 = ColonyConfig(max_edge_degree=3)


def brute_drops(
    node: list[int], other: list[int], weight: list[float], created: list[int], k: int
) -> list[bool]:
    """Per node, sort its entries by (-weight, created, other) and drop past the k-th."""
    drop = [False] * len(node)
    for v in set(node):
        mine = sorted(
            (i for i in range(len(node)) if node[i] == v),
            key=lambda i: (-weight[i], created[i], other[i]),
        )
        for i in mine[k:]:
            drop[i] = True
    return drop


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),
            st.integers(0, 2**64 - 1),
            st.sampled_from([0.1, 0.2, 0.35, 1.0]),
            st.integers(0, 3),
        ),
        max_size=40,
    ),
    st.integers(0, 5),
)
def test_rank_drops_matches_sorting_each_nodes_edges(
    entries: list[tuple[int, int, float, int]], k: int
) -> None:
    node = [e[0] for e in entries]
    other = [e[1] for e in entries]
    weight = [e[2] for e in entries]
    created = [e[3] for e in entries]
    got = rank_drops(
        np.array(node, dtype=np.int64),
        np.array(other, dtype=np.uint64),
        np.array(weight),
        np.array(created, dtype=np.int64),
        k,
    )
    assert got.tolist() == brute_drops(node, other, weight, created, k)
    kept = Counter(n for n, d in zip(node, got.tolist(), strict=True) if not d)
    assert all(c == min(k, node.count(n)) for n, c in kept.items())


def test_rank_drops_rejects_ragged_input_and_negative_k() -> None:
    with pytest.raises(ValueError, match="one entry per edge"):
        rank_drops([1, 2], [3], [0.1, 0.2], [0, 0], 1)
    with pytest.raises(ValueError, match="k must be"):
        rank_drops([], [], [], [], -1)
    with pytest.raises(ValueError, match="k must be"):
        GlobalDegreeCap(0, -2)


def star(center_edges: list[tuple[str, float, int]]) -> HebbianGraph:
    """A graph with node "v" joined to each named node at a weight and creation tick."""
    g = HebbianGraph()
    g.add_node("v")
    for label, weight, tick in center_edges:
        g.add_node(label)
        g.wire_pairs([0], [g.node_count - 1], tick=tick, tentative=weight)
    return g


def test_owner_ranks_reported_edges_with_its_own_and_asks_for_over_cap_nodes() -> None:
    # the owner (shard 0) stores two edges of v; shard 1 reports three more (asked for)
    g = star([("a", 0.9, 0), ("b", 0.2, 0)])
    owner = np.zeros(g.node_count, dtype=np.int64)  # shard 0 owns every node here
    cap = GlobalDegreeCap(me=0, k=3)
    v = g._ids_arr[0]
    remote = np.array([11, 12, 13], dtype=np.uint64)  # NodeIds of v's neighbours on shard 1
    report = DegreeReport(
        1,
        nodes=np.array([v], dtype=np.uint64),
        degrees=np.array([3]),
        edge_node=np.zeros(3, dtype=np.int64),  # v is the owner's local node 0
        edge_other=remote,
        edge_weight=np.array([0.5, 0.1, 0.5]),
        edge_created=np.array([2, 0, 1]),
        edge_local=np.array([[5, 6], [5, 7], [5, 8]]),  # the same edges on shard 1
    )
    orders = cap.orders(g, owner, [report], shards=2)
    # kept: a (0.9), then the two 0.5 edges (older first); dropped: b (own) and 12 (shard 1)
    assert g.edge_count == 1 and g.get_edge(g.id_at(0), g.id_at(1)) is not None
    assert list(orders) == [1]
    assert orders[1].drop.tolist() == [[5, 7]]  # shard 1's local indices of edge v-12
    assert cap.dropped == 1
    assert (cap._scratch == -1).all()  # the ranking's lookup by index is cleared again
    # the table now counts 2 edges on shard 1 (3 reported, 1 ordered dropped): 1 + 2 <= 3
    assert not len(orders[1].ask)
    # a later report of 4 edges on shard 1 puts v over the cap: shard 1 is asked for them
    later = DegreeReport(1, nodes=np.array([v], dtype=np.uint64), degrees=np.array([4]))
    asks = cap.orders(g, owner, [later], shards=2)
    assert asks[1].ask.tolist() == [int(v)] and asks[1].ask_local.tolist() == [0]
    assert not len(asks[1].drop)


def test_a_round_reports_degrees_asks_and_ranks_each_at_its_own_decay() -> None:
    # storing shard 1 holds four edges of v (owned by shard 0, which holds one), cap 3
    owner_graph = star([("a", 0.9, 0)])
    v = int(owner_graph._ids_arr[0])
    storing = HebbianGraph()
    for label in ("w", "x", "y", "z"):
        storing.add_node(label)
    storing._new_nodes([v], ["v"], [0], 0.0, 0.0, 0, 0)  # v at index 4 here
    storing.wire_pairs([4, 4, 4, 4], [0, 1, 2, 3], tick=0, tentative=0.5)
    own_o = np.zeros(owner_graph.node_count, dtype=np.int64)
    own_s = np.ones(storing.node_count, dtype=np.int64)
    own_s[4] = 0
    owner_cap, storing_cap = GlobalDegreeCap(0, 3), GlobalDegreeCap(1, 3)
    # between the round's first Decays nothing is reported and nothing is asked
    assert storing_cap.reports(storing, own_s, tick=ROUND_TICKS - 1) == {}
    (degrees,) = storing_cap.reports(storing, own_s, tick=ROUND_TICKS).values()
    assert degrees.nodes.tolist() == [v] and degrees.degrees.tolist() == [4]
    # the owner takes them at any Decay, but asks only at the Decay after the report
    taken = owner_cap.orders(owner_graph, own_o, [degrees], 2, tick=ROUND_TICKS + 2)
    assert not any(len(o.ask) for o in taken.values())  # (it teaches its indices)
    storing_cap.apply_orders(storing, own_s, taken.values())
    assert owner_cap._elsewhere[0] == 4  # taken: 1 + 4 over the cap
    (ask,) = owner_cap.orders(owner_graph, own_o, [], 2, tick=ROUND_TICKS + 1).values()
    assert ask.ask.tolist() == [v]
    storing_cap.apply_orders(storing, own_s, [ask])
    (edges,) = storing_cap.reports(storing, own_s, tick=ROUND_TICKS + 2).values()
    assert len(edges.edge_node) == 4 and not len(edges.nodes)  # edges, not degrees
    (drop,) = owner_cap.orders(owner_graph, own_o, [edges], 2, tick=ROUND_TICKS + 3).values()
    assert len(drop.drop) == 2 and not len(drop.ask)  # 5 edges, cap 3
    assert storing_cap.apply_orders(storing, own_s, [drop]) == 2
    (again,) = storing_cap.reports(storing, own_s, tick=2 * ROUND_TICKS).values()
    assert again.degrees.tolist() == [2]  # re-reported at the next round's first Decay
    with pytest.raises(ValueError, match="round_ticks"):
        GlobalDegreeCap(0, 3, round_ticks=0)
    old = GlobalDegreeCap(0, 3)
    del old.__dict__["round_ticks"]  # pickled before rounds (a checkpoint of an older
    assert pickle.loads(pickle.dumps(old)).round_ticks == 1  # version) runs as it did


def test_a_drop_in_flight_is_neither_ranked_nor_counted_twice() -> None:
    # the owner (shard 0) stores one edge of v; shard 1 reports three (asked for), cap 3
    g = star([("a", 0.9, 0)])
    owner = np.zeros(g.node_count, dtype=np.int64)
    cap = GlobalDegreeCap(me=0, k=3)
    v = g._ids_arr[0]
    edges = {
        "edge_node": np.zeros(3, dtype=np.int64),
        "edge_other": np.array([11, 12, 13], dtype=np.uint64),
        "edge_weight": np.array([0.5, 0.1, 0.4]),
        "edge_created": np.array([0, 0, 0]),
        "edge_local": np.array([[5, 6], [5, 7], [5, 8]]),
    }
    first = cap.orders(
        g,
        owner,
        [DegreeReport(1, np.array([v], dtype=np.uint64), np.array([3]), **edges)],
        shards=2,
    )
    assert first[1].drop.tolist() == [[5, 7]]  # 0.1 is the fourth of v's edges
    assert cap._table[0, 1] == 2  # counted in advance: 3 reported, 1 ordered dropped
    assert cap.state()["inflight"].tolist() == [[1, 5, 7, 0]]
    # next Decay: shard 1 applies the order now, so what it reported at its last Decay
    # (asked for while v was over the cap) still holds the dropped edge and the old degree
    second = cap.orders(
        g,
        owner,
        [DegreeReport(1, np.array([v], dtype=np.uint64), np.array([3]), **edges)],
        shards=2,
    )
    assert 1 not in second or not len(second[1].drop)  # not dropped again
    assert cap._table[0, 1] == 2 and cap._elsewhere[0] == 2  # nor subtracted twice
    assert cap.state()["inflight"].tolist() == []  # applied by now
    # a Decay later the same report would be current: the edge is ranked and dropped again
    third = cap.orders(g, owner, [DegreeReport(1, **edges)], shards=2)
    assert third[1].drop.tolist() == [[5, 7]]


def test_drops_in_flight_survive_the_cap_state() -> None:
    cap = GlobalDegreeCap(me=0, k=1)
    cap.set_state([0, 0], np.zeros((2, 2), dtype=np.int32), [[1, 5, 7, 0]])
    assert cap.state()["inflight"].tolist() == [[1, 5, 7, 0]]
    cap.set_state([0, 0], np.zeros((2, 2), dtype=np.int32))  # saved before they were kept
    assert cap.state()["inflight"].shape == (0, 4)
    with pytest.raises(ValueError, match="rows of four"):
        cap.set_state([0, 0], np.zeros((2, 2), dtype=np.int32), [[1, 5, 7]])
    with pytest.raises(ValueError, match="outside the graph"):
        cap.set_state([0, 0], np.zeros((2, 2), dtype=np.int32), [[1, 5, 7, 2]])
    # a cap pickled before drops in flight were kept (a checkpoint of an older version)
    old = GlobalDegreeCap(me=0, k=1)
    del old.__dict__["_inflight"]
    assert pickle.loads(pickle.dumps(old)).state()["inflight"].shape == (0, 4)
    sh = ShardedColony(ShardId(0), CAP3, ConsistentHashRing(2))
    sh.colony.graph.present(["x", "y"])
    with pytest.raises(ValueError, match="outside the graph"):
        sh.set_degree_cap_state([0, 0], np.zeros((2, 2)), [[1, 5, 7, 2]])


def test_reports_and_orders_need_an_owner_for_every_node() -> None:
    g = star([("a", 0.9, 0), ("b", 0.2, 0)])
    cap = GlobalDegreeCap(me=0, k=3)
    short = np.zeros(g.node_count - 1, dtype=np.int64)
    with pytest.raises(ValueError, match="owner names"):
        cap.reports(g, short)
    with pytest.raises(ValueError, match="owner names"):
        cap.orders(g, short, [], shards=2)


def test_storing_shard_reports_changes_sends_asked_edges_and_applies_orders() -> None:
    g = star([("a", 0.9, 0), ("b", 0.2, 0), ("c", 0.4, 1)])
    owner = np.ones(g.node_count, dtype=np.int64)  # shard 1 owns every node; this is shard 0
    cap = GlobalDegreeCap(me=0, k=3)
    first = cap.reports(g, owner)
    assert list(first) == [1]
    assert sorted(zip(first[1].nodes.tolist(), first[1].degrees.tolist(), strict=True)) == sorted(
        zip(g._ids_arr[: g.node_count].tolist(), [3, 1, 1, 1], strict=True)
    )
    assert cap.reports(g, owner) == {}  # nothing changed since
    v, b = g._ids_arr[0], g._ids_arr[2]
    removed = cap.apply_orders(
        g,
        owner,
        [
            # drop v-b (local indices 0 and 2) and a-b, which is no edge
            CapOrder(
                1,
                drop=np.array([[0, 2], [1, 2]]),
                ask=np.array([v], dtype=np.uint64),
                ask_local=np.array([42]),  # v's index on the owner
            )
        ],
    )
    assert removed == 1 and g.edge_count == 2 and cap.pending_asks == 1
    again = cap.reports(g, owner)[1]
    # the ordered nodes are re-reported (v, b and a: degrees 2, 0, 1), v's edges are sent
    assert dict(zip(again.nodes.tolist(), again.degrees.tolist(), strict=True)) == {
        int(v): 2,
        int(b): 0,
        int(g._ids_arr[1]): 1,
    }
    assert sorted(again.edge_weight.tolist()) == [0.4, 0.9]
    assert set(again.edge_node.tolist()) == {42} and cap.pending_asks == 0
    assert sorted(map(tuple, again.edge_local.tolist())) == [(0, 1), (0, 3)]
    # an order naming only an edge that is gone removes nothing, and its nodes are still
    # re-reported (the owner subtracted the drop in advance: the report puts it right)
    assert cap.apply_orders(g, owner, [CapOrder(1, drop=np.array([[0, 2]]))]) == 0
    assert sorted(cap.reports(g, owner)[1].nodes.tolist()) == sorted([int(v), int(b)])


def global_degrees(dc: DistributedColony) -> Counter[int]:
    deg: Counter[int] = Counter()
    for a, b, _ in dc.graph.edges():
        deg[int(a)] += 1
        deg[int(b)] += 1
    return deg


@pytest.mark.parametrize("shards", [2, 3, 4])
def test_every_node_keeps_at_most_the_cap_over_all_shards(shards: int) -> None:
    with DistributedColony(shards, seed=0, config=CAP3) as dc:
        dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
        dc.spawn_digesters(2)
        over_seen = 0
        for _ in range(8):
            dc.run(5)
            over_seen += sum(1 for d in global_degrees(dc).values() if d > 3)
        # no new edges for two rounds: every over-cap node has been trimmed (reported,
        # asked for, its edges reported, ranked and trimmed, a step at each Decay of a round)
        before = dc.stats().graph_edges
        for _ in range(2 * ROUND_TICKS):
            for sh in dc.runner.shards:  # stop every agent: nothing is wired any more
                sh.colony.agents.clear()
            dc.tick()
        degrees = global_degrees(dc)
        assert max(degrees.values()) <= 3
        assert sum(s._degree_cap.dropped for s in dc.runner.shards) > 0
        assert dc.stats().graph_edges <= before
        assert over_seen > 0  # the per-shard cap alone lets nodes exceed the cap


def spy_outbound(monkeypatch: pytest.MonkeyPatch) -> dict[TickPhase, list[Any]]:
    """Record what every shard's phases send out (the runner clears it from tick results
    once delivered): Act's update batches, Decay's ghost requests, Decay's answers (kept
    under Sense's key)."""
    seen: dict[TickPhase, list[Any]] = {p: [] for p in TickPhase}
    run = ShardedColony.run_phase

    def spy(
        self: ShardedColony, phase: TickPhase, payload: Any = None, resolve: bool = True
    ) -> Any:
        r: Any = run(self, phase, payload, resolve)
        if phase is TickPhase.ACT:
            seen[phase].append(list(r.updates))
        elif phase is TickPhase.DECAY:
            seen[phase].append(dict(r.ghost_requests))
            seen[TickPhase.SENSE].append(dict(r.ghost_answers))
        return r

    monkeypatch.setattr(ShardedColony, "run_phase", spy)
    return seen


def reports_in(requests: list[dict[int, list[Any]]]) -> list[DegreeReport]:
    return [
        x for req in requests for items in req.values() for x in items if type(x) is DegreeReport
    ]


def test_one_shard_needs_no_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    with DistributedColony(1, seed=0, config=CAP3) as dc:
        dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
        dc.spawn_digesters(2)
        seen = spy_outbound(monkeypatch)
        for _ in range(20):
            dc.tick()
        assert len(seen[TickPhase.DECAY]) == 20
        assert all(not req for req in seen[TickPhase.DECAY])
        assert max(global_degrees(dc).values()) <= 3
        assert dc.runner.shards[0]._degree_cap.dropped == 0


@pytest.mark.parametrize("cap", [3, None])
def test_degree_reports_travel_only_with_the_cap_on(
    cap: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with DistributedColony(2, seed=0, config=ColonyConfig(max_edge_degree=cap)) as dc:
        dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
        dc.spawn_digesters(2)
        seen = spy_outbound(monkeypatch)
        for _ in range(15):
            dc.tick()
        requests = seen[TickPhase.DECAY]
        assert len(requests) == 30 and any(requests)  # ghost requests travel either way
        if cap is None:
            assert reports_in(requests) == []
            assert all(s._degree_cap is None for s in dc.runner.shards)
        else:
            assert reports_in(requests)


def test_tick_results_hold_no_delivered_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    with DistributedColony(2, seed=0, config=CAP3) as dc:
        dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
        dc.spawn_digesters(2)
        seen = spy_outbound(monkeypatch)
        results = dc.run(15)
        assert any(seen[TickPhase.ACT]) and any(seen[TickPhase.DECAY])
        assert any(seen[TickPhase.SENSE])
        for r in results:
            assert len(r.phase_results) == 8
            for p in r.phase_results:
                assert not p.updates and not p.ghost_requests  # type: ignore[attr-defined]
                assert not p.ghost_answers and p.distribution is None  # type: ignore[attr-defined]
        assert sum(len(r.cross_shard_edges) for r in results) > 0  # counts stay


def test_messages_carry_narrow_integers(monkeypatch: pytest.MonkeyPatch) -> None:
    # a tick's largest messages: degree reports and cap orders send local indices, degrees
    # and ticks as int32, update batches their edge ends as uint16 (a small reference table)
    with DistributedColony(2, seed=0, config=CAP3) as dc:
        dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
        dc.spawn_digesters(2)
        seen = spy_outbound(monkeypatch)
        dc.run(15)
        reports = reports_in(seen[TickPhase.DECAY])
        assert any(len(r.nodes) for r in reports) and any(len(r.edge_node) for r in reports)
        for r in reports:
            for f in ("degrees", "nodes_here", "nodes_there", "edge_node", "edge_created"):
                assert getattr(r, f).dtype == np.int32, f
            assert r.edge_local.dtype == np.int32 and r.edge_local.shape[1:] == (2,)
        orders = [x for ans in seen[TickPhase.SENSE] for items in ans.values() for x in items]
        drops = [o.drop for o in orders if type(o) is CapOrder and len(o.drop)]
        assert drops and all(d.dtype == np.int32 for d in drops)
        batches = [b for out in seen[TickPhase.ACT] for b in out if len(b.edge_a)]
        assert batches and all(b.edge_a.dtype == b.edge_b.dtype == np.uint16 for b in batches)


def central_cap(
    edges: dict[tuple[int, int], tuple[float, int]], ids: list[int], k: int
) -> set[tuple[int, int]]:
    """The cap over the whole graph at once: an edge survives if it is among the k best
    (weight descending, creation tick, other endpoint's NodeId) of both its endpoints."""
    best: dict[int, set[tuple[int, int]]] = {}
    for v in range(len(ids)):
        mine = [(e, d) for e, d in edges.items() if v in e]
        mine.sort(key=lambda x: (-x[1][0], x[1][1], ids[x[0][0] + x[0][1] - v]))
        best[v] = {e for e, _ in mine[:k]}
    return {e for e in edges if e in best[e[0]] and e in best[e[1]]}


# the Decays a test drives the cap through: every step at every call (no tick), six times;
# or two rounds of ticks, a step at each
SCHEDULES: dict[str, list[int | None]] = {
    "every-step": [None] * 6,
    "rounds": list(range(2 * ROUND_TICKS)),
}


@pytest.mark.parametrize("recorded", [True, False], ids=["capped-recorded", "capped-unknown"])
@pytest.mark.parametrize("schedule", list(SCHEDULES))
@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 4),
    st.integers(1, 4),
    st.lists(
        st.tuples(
            st.integers(0, 9),
            st.integers(0, 9),
            st.sampled_from([0.1, 0.2, 0.5]),
            st.integers(0, 2),
        ),
        max_size=45,
    ),
    st.lists(st.integers(0, 3), min_size=10, max_size=10),
)
def test_two_rounds_of_messages_equal_the_cap_over_the_whole_graph(
    schedule: str,
    recorded: bool,
    shards: int,
    k: int,
    wiring: list[tuple[int, int, float, int]],
    owners: list[int],
) -> None:
    # ten nodes, the same local indices on every shard; each edge stored on the owner of
    # its endpoint with the smaller NodeId, as in a cluster
    owner = np.array([o % shards for o in owners], dtype=np.int64)
    graphs = [HebbianGraph() for _ in range(shards)]
    for g in graphs:
        for i in range(10):
            g.add_node(f"n{i}")
    ids = [int(x) for x in graphs[0]._ids_arr[:10]]
    edges: dict[tuple[int, int], tuple[float, int]] = {}
    for a, b, w, t in wiring:
        if a != b and (min(a, b), max(a, b)) not in edges:
            # a shard's own cap breaks ties in weight by slot, the ranking across shards by
            # creation tick and NodeId: with the first's removals ranked again, the whole
            # equals one ranking for distinct weights
            edges[(min(a, b), max(a, b))] = (w + 1e-3 * len(edges) if recorded else w, t)
    for (a, b), (w, t) in edges.items():
        g = graphs[int(owner[a if ids[a] < ids[b] else b])]
        g.wire_pairs([a], [b], tick=t, tentative=w)
    # each shard first caps the edges it stores (its colony's Decay); the messages then cap
    # the whole graph exactly as one ranking of it would: of the graph before the shards'
    # own caps when they recorded what those removed (as a shard's Decay does), else of
    # what the shards' caps left
    caps = [GlobalDegreeCap(s, k) for s in range(shards)]
    for g, cap in zip(graphs, caps, strict=True):
        capped = g.prune_to_max_degree(k)
        if recorded:
            cap.record_capped(g, capped, tick=0)
    left: dict[tuple[int, int], tuple[float, int]] = {}
    for g in graphs:
        ea, eb, ew, _, ct, _ = g.edge_arrays()
        for x, y, wx, tx in zip(ea.tolist(), eb.tolist(), ew.tolist(), ct.tolist(), strict=True):
            left[(min(x, y), max(x, y))] = (wx, tx)

    def one_tick(decay: int, tick: int | None) -> None:
        if recorded:  # a Decay records what the shard's own cap removed (here nothing)
            for g, cap in zip(graphs, caps, strict=True):
                cap.record_capped(g, PrunedEdges.empty(), decay)
        reports = [caps[s].reports(graphs[s], owner, tick=tick) for s in range(shards)]
        orders = [
            caps[o].orders(
                graphs[o],
                owner,
                [reports[s][o] for s in range(shards) if o in reports[s]],
                shards,
                tick=tick,
            )
            for o in range(shards)
        ]
        for s in range(shards):
            caps[s].apply_orders(
                graphs[s], owner, [orders[o][s] for o in range(shards) if s in orders[o]]
            )

    for decay, tick in enumerate(SCHEDULES[schedule]):
        one_tick(decay, tick)
    kept = set()
    for g in graphs:
        ea, eb, *_ = g.edge_arrays()
        kept |= {(min(x, y), max(x, y)) for x, y in zip(ea.tolist(), eb.tolist(), strict=True)}
    assert kept == central_cap(edges if recorded else left, ids, k)
    assert all(d <= k for d in Counter(v for e in kept for v in e).values())
    assert all(not c.pending_asks for c in caps)


def test_reports_learn_the_owners_indices_and_a_wrong_guess_is_looked_up() -> None:
    # shard 1 (storing) and shard 0 (owner of "v" and "a") hold the nodes in other orders
    storing = HebbianGraph()
    for label in ("x", "a", "v"):
        storing.add_node(label)
    storing.wire_pairs([2, 2], [0, 1], tick=0)
    owner_graph = HebbianGraph()
    for label in ("v", "a", "x"):
        owner_graph.add_node(label)
    owners_s = np.array([1, 0, 0])  # on the storing shard: x is its own, a and v are shard 0's
    owners_o = np.array([0, 0, 1])
    s_cap, o_cap = GlobalDegreeCap(1, 3), GlobalDegreeCap(0, 3)
    first = s_cap.reports(storing, owners_s)[0]
    assert first.nodes_there.tolist() == [-1, -1]  # nothing learnt yet
    order = o_cap.orders(owner_graph, owners_o, [first], shards=2)[1]
    assert sorted(map(tuple, order.learn.tolist())) == [(1, 1), (2, 0)]  # a: 1 -> 1, v: 2 -> 0
    s_cap.apply_orders(storing, owners_s, [order])
    storing.wire_pairs([1], [0], tick=1)  # a gains an edge: reported again, the owner's way
    second = s_cap.reports(storing, owners_s)[0]
    assert second.nodes_there.tolist() == [1] and second.degrees.tolist() == [2]
    assert not len(
        o_cap.orders(owner_graph, owners_o, [second], shards=2).get(1, CapOrder(0)).learn
    )
    assert o_cap._table[1, 1] == 2  # a's degree on shard 1, found by the learnt index
    # a stale guess (naming another node) is checked against the NodeId and looked up again
    stale = DegreeReport(
        1,
        nodes=second.nodes,
        degrees=np.array([1]),
        nodes_here=np.array([1]),
        nodes_there=np.array([2]),
    )
    fixed = o_cap.orders(owner_graph, owners_o, [stale], shards=2)[1]
    assert fixed.learn.tolist() == [[1, 1]] and o_cap._table[1, 1] == 1


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.integers(0, 9),  # the reported node (an owner's local index)
                st.integers(0, 12),  # its degree on the source
                st.integers(-1, 10),  # the source's guess of the owner's index
            ),
            max_size=8,
            unique_by=lambda e: e[0],
        ),
        min_size=1,
        max_size=4,
    ),
    st.integers(0, 3),
)
def test_degrees_of_many_reports_are_taken_as_report_by_report(  # type: ignore[no-untyped-def]
    per_source, me
) -> None:
    # the owner takes every source's degrees in one pass; a source sent twice (which no
    # runner does) is taken report by report. Both must give the same table and lookups.
    g = HebbianGraph()
    for i in range(10):
        g.add_node(f"n{i}")
    owner = np.array([me if i % 3 else (me + 1) % 5 for i in range(10)], dtype=np.int64)
    ids = g._ids_arr[:10]
    sources = [s for s in range(5) if s != me][: len(per_source)]
    reports = [
        DegreeReport(
            src,
            nodes=ids[[v for v, _, _ in entries]].astype(np.uint64),
            degrees=np.array([d for _, d, _ in entries], dtype=np.int64),
            nodes_here=np.array([100 + v for v, _, _ in entries], dtype=np.int64),
            nodes_there=np.array([t for _, _, t in entries], dtype=np.int64),
        )
        for src, entries in zip(sources, per_source, strict=False)
    ]
    together = GlobalDegreeCap(me, k=100)
    one_by_one = GlobalDegreeCap(me, k=100)
    got = together.orders(g, owner, reports, shards=5)
    want: dict[int, CapOrder] = {}
    for rep in reports:
        want.update(one_by_one.orders(g, owner, [rep], shards=5))
    assert (together._table == one_by_one._table).all()
    assert (together._elsewhere == together._table.sum(axis=1)).all()
    assert (together._elsewhere == one_by_one._elsewhere).all()
    assert sorted(got) == sorted(want)
    for s in got:
        assert got[s].learn.tolist() == want[s].learn.tolist()
    # the same source twice: the later report's degrees stand
    twice = GlobalDegreeCap(me, k=100)
    twice.orders(g, owner, [reports[0], reports[0]], shards=5)
    assert (twice._table[:, sources[0]] == together._table[:, sources[0]]).all()
    assert (twice._elsewhere == twice._table.sum(axis=1)).all()


@pytest.mark.parametrize("ints", [np.int64, np.int32])
def test_orders_for_several_sources_drop_each_sources_own_edges(ints: type) -> None:
    # v has one own edge; shards 1 and 2 report two each: with k=3 the two weakest reported
    # edges go, one on each shard, and each order names that shard's local indices (the
    # reports' integers as shards send them, int32, or as int64)
    g = star([("a", 0.9, 0)])
    owner = np.zeros(g.node_count, dtype=np.int64)
    cap = GlobalDegreeCap(me=0, k=3)
    v = np.array([g._ids_arr[0]], dtype=np.uint64)

    def report(src: int, weights: list[float], local: list[list[int]]) -> DegreeReport:
        return DegreeReport(
            src,
            nodes=v,
            degrees=np.array([2], dtype=ints),
            edge_node=np.zeros(2, dtype=ints),
            edge_other=np.array([10 * src, 10 * src + 1], dtype=np.uint64),
            edge_weight=np.array(weights),
            edge_created=np.array([0, 0], dtype=ints),
            edge_local=np.array(local, dtype=ints),
        )

    orders = cap.orders(
        g,
        owner,
        [report(1, [0.8, 0.1], [[1, 2], [1, 3]]), report(2, [0.2, 0.7], [[4, 5], [4, 6]])],
        shards=3,
    )
    assert orders[1].drop.tolist() == [[1, 3]] and orders[2].drop.tolist() == [[4, 5]]
    assert cap._table[0, 1] == 1 and cap._table[0, 2] == 1 and cap._elsewhere[0] == 2


def capped_scenario(recorded: bool) -> tuple[DegreeReport, HebbianGraph, HebbianGraph]:
    """Cap 2. The owner (shard 0) holds v's edge to "a" (0.9); the storing shard (1) holds
    v's edges to "w" and "x" (0.5) and to the hub "h" (0.8), whose three edges of 0.95 rank
    v's out. One colony's pass: v keeps a and h, h drops v, so v ends with a alone."""
    owner_graph = star([("a", 0.9, 0)])
    v = int(owner_graph._ids_arr[0])
    storing = HebbianGraph()
    for label in ("w", "x", "h", "h1", "h2", "h3"):
        storing.add_node(label)
    storing._new_nodes([v], ["v"], [0], 0.0, 0.0, 0, 0)  # v at index 6 here
    storing.wire_pairs([6, 6], [0, 1], tick=0, tentative=0.5)
    storing.wire_pairs([6], [2], tick=0, tentative=0.8)
    storing.wire_pairs([2, 2, 2], [3, 4, 5], tick=0, tentative=0.95)
    own_o = np.zeros(owner_graph.node_count, dtype=np.int64)
    own_s = np.ones(storing.node_count, dtype=np.int64)
    own_s[6] = 0
    owner_cap, storing_cap = GlobalDegreeCap(0, 2), GlobalDegreeCap(1, 2)
    capped = storing.prune_to_max_degree(2)  # the storing shard's own cap, at its Decay
    if recorded:
        storing_cap.record_capped(storing, capped, 0)
    # every step at once: degrees, the ask, the asked edges, the ranking
    (degrees,) = storing_cap.reports(storing, own_s).values()
    storing_cap.apply_orders(
        storing, own_s, owner_cap.orders(owner_graph, own_o, [degrees], 2).values()
    )
    reports = list(storing_cap.reports(storing, own_s).values())  # none unless v was asked
    for orders in owner_cap.orders(owner_graph, own_o, reports, 2).values():
        storing_cap.apply_orders(storing, own_s, [orders])
    return (reports or [DegreeReport(1)])[0], owner_graph, storing


def test_an_edge_a_shards_own_cap_removed_keeps_its_place_in_the_other_ends_ranking() -> None:
    edges, owner_graph, storing = capped_scenario(recorded=True)
    assert edges.capped_node.tolist() == [0]  # v, as the owner's index: its edge to h
    assert edges.capped_weight.tolist() == [0.8] and edges.capped_created.tolist() == [0]
    assert edges.capped_other.tolist() == [int(storing._ids_arr[2])]
    v_here = 6
    assert storing.degrees()[v_here] == 0 and owner_graph.degrees()[0] == 1  # v keeps a
    # unrecorded, the edge to h no longer counts: v is within the cap, is not asked for,
    # and keeps w as well (one colony: not)
    edges, _, left = capped_scenario(recorded=False)
    assert not len(edges.edge_node) and left.degrees()[v_here] == 1


def test_the_shards_own_cap_keeps_an_edge_for_the_ends_that_wanted_it_for_a_round() -> None:
    g = star([("a", 0.9, 0), ("b", 0.5, 1), ("c", 0.4, 2)])
    cap = GlobalDegreeCap(me=0, k=1)
    capped = g.prune_to_max_degree(1)  # v ranks b and c out; each leaf wanted its edge
    assert capped.ranked_out is not None and sorted(capped.ranked_out.tolist()) == [1, 1]
    cap.record_capped(g, capped, tick=3)  # a round's last Decay
    kept = cap.capped
    assert sorted(kept.node.tolist()) == [2, 3] and kept.other.tolist() == [0, 0]
    assert sorted(kept.weight.tolist()) == [0.4, 0.5] and kept.removed.tolist() == [3, 3]
    assert cap._capped.count[:4].tolist() == [0, 0, 1, 1]
    for tick in range(4, 8):  # ranked in the next round, at its last Decay (7)
        cap.record_capped(g, PrunedEdges.empty(), tick)
        assert len(cap.capped) == 2, tick
    cap.record_capped(g, PrunedEdges.empty(), 8)
    assert len(cap.capped) == 0 and not cap._capped.count.any()
    # with every step at every Decay: four Decays
    every = GlobalDegreeCap(me=0, k=1, round_ticks=1)
    h = star([("a", 0.9, 0), ("b", 0.5, 1)])
    every.record_capped(h, h.prune_to_max_degree(1), tick=10)
    every.record_capped(h, PrunedEdges.empty(), tick=13)
    assert len(every.capped) == 1
    every.record_capped(h, PrunedEdges.empty(), tick=14)
    assert len(every.capped) == 0
    # they survive pickling (a checkpoint) and the cap's state (a store)
    cap.record_capped(g, PrunedEdges(*_one_capped(g)), tick=9)
    again = pickle.loads(pickle.dumps(cap))
    assert again.capped.node.tolist() == cap.capped.node.tolist() == [0]  # v wanted it
    assert again._capped.count[:2].tolist() == [1, 0]
    restored = GlobalDegreeCap(me=0, k=1)
    st = cap.state()
    restored.set_state(
        st["reported"][: g.node_count], st["table"][: g.node_count], None, cap.capped
    )
    assert restored.capped.weight.tolist() == [0.25]
    with pytest.raises(ValueError, match="capped edge names a node outside"):
        restored.set_state([0], np.zeros((1, 1)), None, cap.capped)
    # a cap pickled before capped edges were kept has none
    old = GlobalDegreeCap(me=0, k=1)
    del old.__dict__["_capped"]
    assert len(pickle.loads(pickle.dumps(old)).capped) == 0


def _one_capped(g: HebbianGraph) -> tuple[Any, ...]:
    """A capped edge between v (0) and a (1) of weight 0.25, created at tick 5, that a
    (the target) ranked out."""
    ids = g._ids_arr
    return (
        np.array([ids[0]]),
        np.array([ids[1]]),
        np.array([0.25]),
        np.array([5]),
        np.array([2], dtype=np.uint8),
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.lists(st.integers(0, 12), max_size=40)),
            st.tuples(st.just("forget"), st.integers(0, 3)),
        ),
        max_size=25,
    )
)
def test_the_capped_log_matches_a_list(steps: list[tuple[str, Any]]) -> None:
    # appended in removal order, forgotten from the oldest, counted per node: against a list
    log, model, tick = _CappedLog(nodes=13), [], 0
    for kind, arg in steps:
        if kind == "add":
            tick += 1
            nodes = np.array(arg, dtype=np.int64)
            log.append(
                CappedEdges(
                    nodes,
                    nodes + 1,
                    nodes / 10,
                    nodes * 0 + 7,
                    np.full(len(nodes), tick, dtype=np.int64),
                )
            )
            model += [(v, tick) for v in arg]
        else:
            log.forget_before(tick - arg)
            model = [(v, t) for v, t in model if t >= tick - arg]
        held = log.edges()
        assert held.node.tolist() == [v for v, _ in model]
        assert held.removed.tolist() == [t for _, t in model]
        assert held.other.tolist() == [v + 1 for v, _ in model]
        counts = Counter(v for v, _ in model)
        assert [int(c) for c in log.count[:13]] == [counts.get(v, 0) for v in range(13)]
        wanted = np.full(13, -1, dtype=np.int64)
        wanted[[0, 5, 9]] = 1
        assert log.of(wanted).node.tolist() == [v for v, _ in model if v in (0, 5, 9)]
    again = pickle.loads(pickle.dumps(log))
    assert again.edges().node.tolist() == log.edges().node.tolist()
    assert again.count[:13].tolist() == log.count[:13].tolist()


def test_a_shard_restores_its_capped_edges_by_node_id() -> None:
    sh = ShardedColony(ShardId(0), CAP3, ConsistentHashRing(2))
    sh.colony.graph.present(["x", "y", "z"])
    ids = sh.colony.graph._ids_arr
    zeros = ([0, 0, 0], np.zeros((3, 2)))
    saved = {  # an edge x-y kept for x, and one naming a node since forgotten
        "cap_capped_ends": np.array([[ids[0], ids[1]], [ids[2], 12345]], dtype=np.uint64),
        "cap_capped_weight": np.array([0.5, 0.7]),
        "cap_capped_ticks": np.array([[1, 4], [2, 4]]),
    }
    sh.set_degree_cap_state(*zeros, None, saved)
    state = sh.degree_cap_state()
    assert state["cap_capped_ends"].tolist() == [[int(ids[0]), int(ids[1])]]
    assert state["cap_capped_weight"].tolist() == [0.5]
    assert state["cap_capped_ticks"].tolist() == [[1, 4]]
    with pytest.raises(ValueError, match="differ in length"):
        sh.set_degree_cap_state(*zeros, None, {**saved, "cap_capped_weight": np.array([0.5])})
