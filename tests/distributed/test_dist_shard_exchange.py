"""ShardedColony's bulk exchange: sealed update batches, owner columns, ghost flags, ghosts."""

from __future__ import annotations

import copy
import pickle
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from inline_tick import inline_tick

from phago import ColonyConfig, Digester, Position
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import ConsistentHashRing, ShardedColony, ShardId, TickPhase, UpdateBatch
from phago.distributed.messages import PresentationGroup, PresentationGroups
from phago.distributed.shard import _FREE
from phago.errors import NodeNotFound
from phago.graph import _TYPE_CODE, HebbianGraph
from phago.ids import NodeId, document_id, node_id
from phago.state import capture
from phago.types import NodeType


def loaded_shards(
    n: int, seed: int = 0, kind: type[ShardedColony] = ShardedColony
) -> list[ShardedColony]:
    """``n`` shards over one ring holding the sample corpus, two digesters each."""
    ring = ConsistentHashRing(n)
    shards = [kind(ShardId(i), ColonyConfig(), ring, seed=seed) for i in range(n)]
    docs = load_sample_corpus()
    for d, p in zip(docs, grid_positions(len(docs)), strict=True):
        owner = int(ring.get_shard(int(document_id(d.title, d.content))))
        shards[owner].ingest_document(d.title, d.content, p)
    for s in shards:
        positions = s.document_positions()
        for j in range(2):
            x, y = positions[(j * 7) % len(positions)]
            s.spawn(Digester(Position(x + 1, y + 1), seed=j))
    return shards


def expected_batch(shard: ShardedColony, dest: int) -> tuple[list[int], list[list[int]]]:
    """The reference table and per-group reference indices, numbered one node at a time
    (``a`` ends, then ``b`` ends, of each wiring call in turn); consecutive calls with the
    same weights make one group (a ends then b ends)."""
    g = shard.colony.graph
    refmap: dict[int, int] = {}
    ref_ids: list[int] = []
    groups: list[list[int]] = []
    last = None
    for a, b, tentative, increment, calls in shard._outbox_edges[dest]:
        both: list[list[int]] = [[], []]
        call_list = calls.tolist()
        for call in dict.fromkeys(call_list):  # each wiring call of the part, in order
            mask = [c == call for c in call_list]
            for side, ends in enumerate((a, b)):
                for li, m in zip(ends.tolist(), mask, strict=True):
                    if not m:
                        continue
                    if li not in refmap:
                        refmap[li] = len(ref_ids)
                        ref_ids.append(int(g._ids_arr[li]))
                    both[side].append(refmap[li])
        if (tentative, increment) == last:
            groups[-2] += both[0]
            groups[-1] += both[1]
        else:
            groups += both
        last = (tentative, increment)
    return ref_ids, groups


def test_sealed_batches_number_references_by_first_appearance() -> None:
    shards = loaded_shards(3)
    checked = 0
    expected: dict[tuple[int, int], tuple[list[int], list[list[int]]]] = {}

    def capture(s: ShardedColony) -> None:
        original = s.take_outbox

        def take() -> list[UpdateBatch]:
            for dest in s._outbox_edges:
                expected[(int(s.shard_id), dest)] = expected_batch(s, dest)
            return original()

        s.take_outbox = take  # type: ignore[method-assign]

    for s in shards:
        capture(s)
    # the node ids each shard has sent each other shard a label for: a label goes with a
    # node's first occurrence in a batch (its presentations, then its references) unless
    # sent before; every other occurrence carries ""
    sent: dict[tuple[int, int], set[int]] = {}
    elided = 0

    def expected_labels(b: UpdateBatch, ids: list[int], src: HebbianGraph) -> list[str]:
        nonlocal elided
        told = sent.setdefault((b.source, b.dest), set())
        out = []
        for x in ids:
            if x in told:
                out.append("")
                elided += 1
            else:
                out.append(src.label_at(src.index_of(x)))  # type: ignore[arg-type]
                told.add(x)
        return out

    for _ in range(12):
        expected.clear()
        batches: list[UpdateBatch] = []
        for s in shards:
            s.run_phase(TickPhase.SENSE, [])
        for s in shards:
            batches += s.run_phase(TickPhase.ACT).updates  # type: ignore[attr-defined]
        for b in batches:
            src = shards[b.source].colony.graph
            assert b.groups.labels == expected_labels(b, b.groups.ids.tolist(), src)
            if (b.source, b.dest) not in expected:
                assert b.edge_count == 0 and b.ref_ids.size == 0 and b.groups
                continue
            ref_ids, groups = expected[(b.source, b.dest)]
            assert b.ref_ids.dtype == np.uint64 and b.ref_ids.tolist() == ref_ids
            idx = [src.index_of(int(x)) for x in ref_ids]  # type: ignore[arg-type]
            assert b.ref_labels == expected_labels(b, ref_ids, src)
            assert [tuple(NodeType)[c] for c in b.ref_types.tolist()] == [
                src.node_type_at(i) for i in idx
            ]
            spans = list(b.edge_groups())
            assert len(spans) == len(groups) // 2 == len(b.edge_ends)
            for k, (start, end, _, _) in enumerate(spans):
                assert b.edge_a[start:end].tolist() == groups[2 * k]
                assert b.edge_b[start:end].tolist() == groups[2 * k + 1]
            assert b.edge_count == b.edge_ends[-1] and not b.is_empty
            checked += 1
        inbound: dict[int, list[UpdateBatch]] = {}
        for b in batches:
            inbound.setdefault(b.dest, []).append(b)
        for s in shards:
            s.run_phase(TickPhase.DECAY, inbound.get(int(s.shard_id), []))
        for s in shards:
            s.run_phase(TickPhase.ADVANCE, {})
    assert checked > 0 and elided > 0
    for s in shards:  # the scratch column is left clean
        assert (s._scratch_buf == _FREE).all()


def test_wiring_calls_with_equal_weights_are_sealed_as_one_group() -> None:
    shards = loaded_shards(2)
    s, other = shards
    g = s.colony.graph
    labels = [f"term{k}" for k in range(40)]
    idx = g.present(labels, NodeType.CONCEPT, Position(0, 0), 0)
    # pairs whose edge the other shard stores (owner of the end with the smaller id)
    ids = g._ids_arr[idx]
    owners = np.array([int(s.ring.get_shard(int(x))) for x in ids])
    remote = [
        (i, j)
        for i in range(len(idx))
        for j in range(i + 1, len(idx))
        if owners[i if ids[i] < ids[j] else j] == 1
    ]
    assert len(remote) >= 8
    calls = [(None, None), (None, None), (0.5, 0.25), (0.5, 0.25), (None, None)]
    for k, (tentative, increment) in enumerate(calls):
        pairs = np.array(remote[2 * k : 2 * k + 2] * 2)  # each pair twice: reinforced too
        s.wire(idx, pairs, 0, tentative, increment)
    (batch,) = [b for b in s.take_outbox() if b.dest == 1]
    assert batch.edge_ends == [8, 16, 20]
    assert batch.edge_tentative == [None, 0.5, None]
    assert batch.edge_increment == [None, 0.25, None]
    other.receive_updates([batch])
    # the same calls wired one by one on a plain graph give the same edges and weights
    plain = HebbianGraph()
    pidx = plain.present(labels, NodeType.CONCEPT, Position(0, 0), 0)
    for k, (tentative, increment) in enumerate(calls):
        pairs = np.array(remote[2 * k : 2 * k + 2] * 2)
        plain.wire_pairs(pidx[pairs[:, 0]], pidx[pairs[:, 1]], 0, tentative, increment)

    def weights(graph: HebbianGraph) -> dict[frozenset[int], tuple[float, int]]:
        return {frozenset((a, b)): (e.weight, e.co_activations) for a, b, e in graph.edges()}

    assert weights(other.colony.graph) == weights(plain)


def test_update_batch_defaults_and_pickle() -> None:
    b = UpdateBatch(source=0, dest=1, tick=3)
    assert b.is_empty and b.edge_count == 0 and list(b.edge_groups()) == []
    b.ref_ids = np.array([5, 9], dtype=np.uint64)
    b.ref_labels = ["a", "b"]
    b.ref_types = np.zeros(2, dtype=np.int8)
    b.edge_a = np.array([0, 1, 0], dtype=np.int32)
    b.edge_b = np.array([1, 0, 1], dtype=np.int32)
    b.edge_ends = [2, 3]
    b.edge_tentative = [None, 0.5]
    b.edge_increment = [None, 0.25]
    assert not b.is_empty and b.edge_count == 3
    assert list(b.edge_groups()) == [(0, 2, None, None), (2, 3, 0.5, 0.25)]
    again = pickle.loads(pickle.dumps(b))
    assert again.ref_ids.tolist() == [5, 9] and list(again.edge_groups()) == list(b.edge_groups())


def test_owner_columns_grow_geometrically_and_match_the_ring() -> None:
    shards = loaded_shards(2)
    caps: list[list[int]] = [[] for _ in shards]
    for _ in range(25):
        inline_tick(shards)
        for seen, s in zip(caps, shards, strict=True):
            if not seen or seen[-1] != len(s._owner_buf):
                seen.append(len(s._owner_buf))
    for seen, s in zip(caps, shards, strict=True):
        assert all(b >= 2 * a for a, b in pairwise(seen))  # amortised
        g = s.colony.graph
        n = g.node_count
        assert s._synced == n and len(s._owner_buf) >= n
        assert s._owner.tolist() == s.ring.get_shards(g._ids_arr[:n]).tolist()
        assert s.node_count == int(np.count_nonzero(s._owner == int(s.shard_id)))
        assert [len(f) for f in s.ghost_flags()] == [n, n]


def test_one_shard_ring_owns_everything_without_hashing() -> None:
    (s,) = loaded_shards(1)
    for _ in range(6):
        inline_tick([s])
    assert s.node_count == s.colony.graph.node_count > 0
    assert (s._owner == 0).all() and not s.ghost_flags()[1].any()


def test_ghost_flags_round_trip() -> None:
    shards = loaded_shards(2)
    for _ in range(6):
        inline_tick(shards)
    s = shards[0]
    n = s._synced
    known = np.zeros(n, dtype=np.bool_)
    known[1] = True
    pending = np.zeros(n, dtype=np.bool_)
    pending[[0, n - 1]] = True
    s.set_ghost_flags(known, pending)
    got_known, got_pending = s.ghost_flags()
    assert got_known.tolist() == known.tolist() and got_pending.tolist() == pending.tolist()
    with pytest.raises(ValueError):
        s.set_ghost_flags(np.zeros(n + 1, dtype=np.bool_), pending)
    requests = s.ghost_requests()  # pending nodes are asked for, by owner, once
    asked = sorted(x for ids in requests.values() for x in ids)
    g = s.colony.graph
    assert asked == sorted(int(g._ids_arr[i]) for i in (0, n - 1))
    got_known, got_pending = s.ghost_flags()
    assert not got_pending.any() and got_known[[0, 1, n - 1]].all()


def test_snapshot_round_trip_carries_the_columns() -> None:
    shards = loaded_shards(2)
    for _ in range(8):
        inline_tick(shards)
    copies = [ShardedColony.from_snapshot(s.snapshot(), s.ring) for s in shards]
    for s, c in zip(shards, copies, strict=True):  # columns travel trimmed, scratch rebuilt
        assert len(c._owner_buf) == len(c._known_buf) == len(c._pending_buf) == s._synced
        assert len(c._scratch_buf) == s._synced and (c._scratch_buf == _FREE).all()
    for _ in range(8):
        inline_tick(shards)
        inline_tick(copies)
    for s, c in zip(shards, copies, strict=True):
        a, b = s.owned_graph(), c.owned_graph()
        assert a.node_ids.tolist() == b.node_ids.tolist()
        assert a.weight.tolist() == b.weight.tolist() and a.access.tolist() == b.access.tolist()
        assert s.ghost_flags()[0].tolist() == c.ghost_flags()[0].tolist()
        assert s._owner.tolist() == c._owner.tolist()


def shard_with_node_ids(own: int) -> tuple[ShardedColony, list[int], list[int]]:
    """Shard 0 of two after 8 ticks, ``own`` NodeIds it owns and 2 that shard 1 owns."""
    shards = loaded_shards(2)
    for _ in range(8):
        inline_tick(shards)
    s = shards[0]
    ids = s.colony.graph._ids_arr
    mine = [int(ids[i]) for i in np.flatnonzero(s._owner == 0)[:own].tolist()]
    foreign = [int(ids[i]) for i in np.flatnonzero(s._owner == 1)[:2].tolist()]
    return s, mine, foreign


def test_resolve_ghost_nodes_matches_node_data_and_skips_others() -> None:
    s, mine, foreign = shard_with_node_ids(5)
    g = s.colony.graph
    asked = [mine[0], 12345, *foreign, *mine[1:]]
    ghosts = s.resolve_ghost_nodes(asked)
    assert [int(x.node_id) for x in ghosts] == mine
    for gh in ghosts:
        assert gh.shard_id == ShardId(0) and gh.is_resolved
        assert gh.full_data == g.node_at(g.index_of(gh.node_id), with_documents=False)
        assert gh.label == gh.full_data.label  # type: ignore[union-attr]
    assert s.resolve_ghost_nodes([12345, *foreign]) == []
    assert s.resolve_ghost_nodes(mine) == ghosts


class _EagerShard(ShardedColony):
    """Routes every presentation and wiring call at once, as call-by-call routing would."""

    def on_present(self, *args: Any) -> None:
        super().on_present(*args)
        self.flush_act()

    def wire(self, *args: Any) -> int:
        n = super().wire(*args)
        self.flush_act()
        return n


def _state(shards: list[ShardedColony]) -> list[Any]:
    out: list[Any] = []
    for s in shards:
        og = s.owned_graph()
        out.append(
            [
                og.node_ids.tolist(),
                og.labels,
                og.access.tolist(),
                og.positions.tolist(),
                og.edge_a.tolist(),
                og.edge_b.tolist(),
                og.weight.tolist(),
                og.co_activations.tolist(),
                og.prov_nodes.tolist(),
                og.prov_docs.tolist(),
                [f.tolist() for f in s.ghost_flags()],
                s.colony.graph._ids,  # local node order, replicas and ghosts included
            ]
        )
    return out


def test_routing_when_act_ends_equals_routing_each_call() -> None:
    eager = loaded_shards(3, kind=_EagerShard)
    deferred = loaded_shards(3)

    def nothing_pending(s: ShardedColony) -> None:
        assert not s._act_presented and not s._act_wires

    for _ in range(25):
        inline_tick(eager, on_act=nothing_pending)
        inline_tick(deferred, on_act=nothing_pending)
        assert _state(eager) == _state(deferred)
    assert any(s.colony.graph.edge_count for s in deferred)
    assert any(s.ghost_flags()[0].any() for s in deferred)


def test_hook_calls_are_routed_when_the_outbox_is_taken() -> None:
    shards = loaded_shards(2)
    s = shards[0]
    g = s.colony.graph
    idx = g.present(["alpha", "beta", "gamma", "delta"], NodeType.CONCEPT, Position(1, 2), 0)
    s.on_present(idx, NodeType.CONCEPT, Position(1, 2), 0, None)
    assert s.wire(idx, None, 0, None, None) == 6
    assert s.wire(idx, np.array([[0, 0]]), 0, None, None) == 0  # self-pairs are dropped
    edges_before = g.edge_count
    out = s.take_outbox()  # routes what the calls noted
    stored_here = g.edge_count - edges_before
    sent = sum(b.edge_count for b in out)
    assert stored_here + sent == 6
    owners = {int(ring_owner) for ring_owner in s.ring.get_shards(g._ids_arr[idx])}
    if owners != {0}:
        assert any(b.groups for b in out)
    assert not s._act_presented and not s._act_wires


@pytest.mark.parametrize("count", [0, 1, 3, 7, 40, 100])
def test_spread_positions_pick_every_step_th_document(count: int) -> None:
    shard = loaded_shards(2)[1]
    every = shard.document_positions()
    step = max(1, len(every) // max(count, 1))
    assert shard.spread_positions(count) == [every[(j * step) % len(every)] for j in range(count)]
    empty = ShardedColony(ShardId(0), ColonyConfig(), ConsistentHashRing(1))
    assert empty.spread_positions(count) == [(0.0, 0.0)] * count


def test_ghosts_for_several_requesters_are_resolved_as_for_each_alone() -> None:
    s, mine, foreign = shard_with_node_ids(6)
    groups = [[], [mine[0], 12345, mine[1]], [*foreign], [], [mine[2], foreign[0], *mine[3:]]]
    got = s._resolve_ghost_groups(groups)
    assert got == [s.resolve_ghost_nodes(grp) for grp in groups]
    assert [[int(x.node_id) for x in part] for part in got] == [[], mine[:2], [], [], mine[2:]]


class _OneBatchAtATimeShard(ShardedColony):
    """Takes a tick's inbound update batches one after another, never together."""

    def _receive_together(self, batches: list[UpdateBatch]) -> int:
        return self._receive_each(batches)


def test_taking_a_ticks_batches_together_equals_taking_them_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    together = loaded_shards(4)
    each = loaded_shards(4, kind=_OneBatchAtATimeShard)
    merged: list[int] = []
    original = ShardedColony._receive_together

    def counted(self: ShardedColony, batches: list[UpdateBatch]) -> int:
        if type(self) is ShardedColony:
            merged.append(len(batches))
        return original(self, batches)

    monkeypatch.setattr(ShardedColony, "_receive_together", counted)
    for _ in range(25):
        inline_tick(together)
        inline_tick(each)
        assert _state(together) == _state(each)
        for a, b in zip(together, each, strict=True):
            assert capture(a.colony).graph.equals(capture(b.colony).graph)
    assert merged and max(merged) == 3  # every other shard's batch, taken at once
    assert sum(s.colony.graph.edge_count for s in together) > 0


def _groups(labels: list[str], x: float, y: float, doc: int | None) -> PresentationGroups:
    """One group of concept presentations sent with its labels' NodeIds."""
    grp = PresentationGroups.from_groups(
        [PresentationGroup(labels, NodeType.CONCEPT.value, x, y, doc)]
    )
    grp.ids = np.array([node_id(NodeType.CONCEPT.value, t) for t in labels], dtype=np.uint64)
    return grp


def _references(
    source: int, dest: int, tick: int, labels: list[str], pairs: list[tuple[int, int]]
) -> UpdateBatch:
    """A batch wiring ``pairs`` of ``labels`` (reference indices), nothing presented."""
    return UpdateBatch(
        source,
        dest,
        tick,
        ref_ids=np.array([node_id(NodeType.CONCEPT.value, t) for t in labels], dtype=np.uint64),
        ref_labels=labels,
        ref_types=np.full(len(labels), _TYPE_CODE[NodeType.CONCEPT], dtype=np.int8),
        edge_a=np.array([a for a, _ in pairs], dtype=np.int32),
        edge_b=np.array([b for _, b in pairs], dtype=np.int32),
        edge_ends=[len(pairs)],
        edge_tentative=[None],
        edge_increment=[None],
    )


def test_a_node_referenced_before_a_later_batch_presents_it_is_made_by_the_reference() -> None:
    receiver = loaded_shards(3)[0]
    tick = receiver.colony.substrate.tick
    # shard 1 references two new nodes (an edge); shard 2 then presents one of them, twice,
    # and a third new node; shard 1's batch also presents a node shard 2's references
    first = _references(1, 0, tick, ["zzq-one", "zzq-two"], [(0, 1), (1, 0)])
    first.groups = _groups(["zzq-four", "zzq-four"], 3.0, 4.0, 99)
    second = _references(2, 0, tick, ["zzq-four", "zzq-one"], [(0, 1)])
    second.groups = _groups(["zzq-one", "zzq-three", "zzq-one"], 5.0, 6.0, 7)
    alone = copy.deepcopy(receiver)
    assert receiver.receive_updates([second, first]) == 3
    assert alone._receive_each([first, second]) == 3
    a, b = capture(receiver.colony).graph, capture(alone.colony).graph
    assert a.equals(b)
    g = receiver.colony.graph
    one = g.index_of(NodeId(node_id(NodeType.CONCEPT.value, "zzq-one")))
    four = g.index_of(NodeId(node_id(NodeType.CONCEPT.value, "zzq-four")))
    # made by the reference (no access, at the origin), then presented twice by shard 2
    assert (g._access[one], tuple(g._pos[one])) == (2, (0.0, 0.0))
    # made by shard 1's presentation (its first occurrence), presented once more
    assert (g._access[four], tuple(g._pos[four])) == (2, (3.0, 4.0))
    assert receiver._pending_buf[: receiver._synced].tolist() == (
        alone._pending_buf[: alone._synced].tolist()
    )


def test_batches_of_different_ticks_are_taken_one_by_one() -> None:
    receiver = loaded_shards(3)[0]
    tick = receiver.colony.substrate.tick
    early = _references(1, 0, tick, ["zzq-a", "zzq-b"], [(0, 1)])
    late = _references(2, 0, tick + 1, ["zzq-b", "zzq-c"], [(0, 1)])
    alone = copy.deepcopy(receiver)
    taken: list[int] = []

    def together(batches: list[UpdateBatch]) -> int:
        taken.append(len(batches))
        return 0

    receiver._receive_together = together  # type: ignore[method-assign]
    assert receiver.receive_updates([late, early]) == 2
    assert taken == []
    alone._receive_each([early, late])
    assert capture(receiver.colony).graph.equals(capture(alone.colony).graph)


def test_a_label_is_sent_to_each_destination_once() -> None:
    """``_labels_for``: a node's label goes with its first occurrence for a destination that
    was never sent it, else ``""``; each destination has its own record, shards with an id
    of 64 or more are sent every label, and a shard restored from a snapshot sends every
    label again once (its record is not kept)."""
    s = loaded_shards(3)[0]
    g = s.colony.graph
    idx = g.present(["zzq-a", "zzq-b", "zzq-c", "zzq-d"], NodeType.CONCEPT, Position(0, 0), 0)
    s._sync_owners()
    a, b, c, d = idx.tolist()
    at = np.array
    assert s._labels_for(at([a, b, a, c]), 1) == ["zzq-a", "zzq-b", "", "zzq-c"]
    assert s._labels_for(at([c, d, a, d]), 1) == ["", "zzq-d", "", ""]
    assert s._labels_for(at([a]), 2) == ["zzq-a"]
    assert s._labels_for(at([a, a]), 64) == ["zzq-a", "zzq-a"]
    restored = ShardedColony.from_snapshot(s.snapshot(), s.ring)
    assert restored._labels_for(at([d, a]), 1) == ["zzq-d", "zzq-a"]
    assert s._labels_for(at([d, a]), 1) == ["", ""]  # (the original keeps its record)


def test_a_node_sent_without_its_label_to_a_shard_lacking_it_is_a_typed_error() -> None:
    """A batch naming a node by id alone (its label ``""``: the sender takes the
    destination to hold it) where the destination does not hold it raises NodeNotFound
    and adds no node."""
    receiver = loaded_shards(3)[0]
    tick = receiver.colony.substrate.tick
    batch = _references(1, 0, tick, ["zzq-x", "zzq-y"], [(0, 1)])
    batch.ref_labels = ["zzq-x", ""]
    nodes = receiver.colony.graph.node_count
    with pytest.raises(NodeNotFound, match="without its label"):
        receiver.receive_updates([batch])
    assert receiver.colony.graph.node_count == nodes
    shown = UpdateBatch(2, 0, tick, groups=_groups(["zzq-z"], 1.0, 1.0, None))
    shown.groups.labels = [""]
    with pytest.raises(NodeNotFound, match="without its label"):
        receiver.receive_updates([shown])
    assert receiver.colony.graph.node_count == nodes
