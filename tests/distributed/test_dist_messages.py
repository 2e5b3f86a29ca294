"""The exchange's message types: UpdateBatch groups and CrossShardEdgeArray as a sequence."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import cast

import numpy as np
import pytest

from phago.distributed.hashing import ConsistentHashRing
from phago.distributed.messages import (
    CrossShardEdgeArray,
    PresentationGroup,
    PresentationGroups,
    UpdateBatch,
)
from phago.distributed.shard import ShardedColony
from phago.distributed.types import CrossShardEdge, ShardId
from phago.graph import HebbianGraph
from phago.ids import DocumentId, NodeId
from phago.types import NodeType, Position


def _array(n: int, shift: int = 0) -> CrossShardEdgeArray:
    k = np.arange(n, dtype=np.int64) + shift
    return CrossShardEdgeArray(
        (k * 10).astype(np.uint64),
        (k * 10 + 1).astype(np.uint64),
        k % 3,
        (k + 1) % 3,
        k / 10.0,
    )


def test_cross_shard_edge_array_reads_as_a_list_of_edges() -> None:
    arr = _array(4)
    edges = list(arr)
    assert len(arr) == 4 and len(edges) == 4
    assert edges[1] == CrossShardEdge(NodeId(10), NodeId(11), ShardId(1), ShardId(2), 0.1)
    assert arr[-1] == edges[3] and arr[1:3] == edges[1:3] and arr[::-2] == edges[::-2]
    assert (
        isinstance(edges[0].weight, float) and type(edges[0].from_node) is int
    )  # plain ints, not NumPy scalars
    for bad in (4, -5):
        with pytest.raises(IndexError):
            arr[bad]
    assert arr == edges and arr == _array(4) and arr != _array(4, shift=1)
    assert (arr == "edges") is False  # not comparable: falls back to identity
    assert repr(arr) == "CrossShardEdgeArray(len=4)"


def test_concat_skips_empty_parts_and_keeps_order() -> None:
    both = CrossShardEdgeArray.concat([CrossShardEdgeArray.empty(), _array(2), _array(3, 2)])
    assert list(both) == list(_array(5))
    assert len(CrossShardEdgeArray.concat([])) == 0
    assert list(CrossShardEdgeArray.concat([CrossShardEdgeArray.empty()])) == []


def test_results_and_edge_arrays_pickle_to_equal_values_of_the_same_types() -> None:
    # (a Ray driver loads every shard's results each tick: they pickle as constructor calls)
    from phago.distributed.shard import ShardPhaseResult
    from phago.distributed.types import TickPhase
    from ray import cloudpickle  # (what Ray pickles with where phago does not)

    cloud_dumps: Callable[[object], bytes] = cloudpickle.dumps  # (untyped in Ray)

    for arr in (_array(3), CrossShardEdgeArray.empty()):
        back = pickle.loads(pickle.dumps(arr, protocol=pickle.HIGHEST_PROTOCOL))
        assert back == arr and back.weights.dtype == np.float64
        assert back.from_nodes.dtype == np.uint64 and back.to_shards.dtype == np.int64
        assert pickle.loads(cloud_dumps(arr)) == arr
    assert pickle.loads(pickle.dumps(CrossShardEdgeArray.empty())) is CrossShardEdgeArray.empty()
    for phase in TickPhase:
        full = ShardPhaseResult(
            ShardId(2), phase, 7, _array(2), 11, 13, ["batch"],  # type: ignore[arg-type,list-item]
            {1: [5]}, {0: ["ghost"]},
            3, 40, 38, True, 1.5, 1.25, True, {"d": 1}, 9,
        )  # fmt: skip
        back = pickle.loads(pickle.dumps(full, protocol=pickle.HIGHEST_PROTOCOL))
        assert back == full and back.phase is phase and type(back.shard_id) is ShardId
        assert pickle.loads(cloud_dumps(full)) == full
        assert [getattr(back, f) for f in full.__slots__] == [
            getattr(full, f) for f in full.__slots__
        ]


def test_update_batch_edge_groups_cover_the_co_activations_in_order() -> None:
    batch = UpdateBatch(0, 1, 7)
    batch.edge_a = np.array([0, 1, 2, 0, 3], dtype=np.int64)
    batch.edge_b = np.array([1, 2, 3, 3, 1], dtype=np.int64)
    batch.edge_ends = [2, 5]
    batch.edge_tentative = [None, 0.3]
    batch.edge_increment = [0.1, None]
    assert batch.edge_count == 5
    assert list(batch.edge_groups()) == [(0, 2, None, 0.1), (2, 5, 0.3, None)]


GROUPS = [
    PresentationGroup(["cell", "wall"], "concept", 1.0, 2.0, 7),
    PresentationGroup(["idea"], "insight", 3.0, 4.0, None),
    PresentationGroup(["wall", "dna", "cell"], "concept", 5.0, 6.0, 2**64 - 1),
    PresentationGroup(["dna"], "concept", 0.0, 0.0, 0),
]


def test_presentation_groups_are_columns_that_read_back_as_groups() -> None:
    cols = PresentationGroups.from_groups(GROUPS)
    assert len(cols) == 4 and list(cols) == GROUPS
    assert cols.ends.tolist() == [2, 3, 6, 7] and cols.labels[2:3] == ["idea"]
    assert list(cols.runs()) == [(0, 0, 1), (2, 1, 2), (0, 2, 4)]  # codes: tuple(NodeType)
    again = pickle.loads(pickle.dumps(UpdateBatch(0, 1, 2, groups=cols)))
    assert list(again.groups) == GROUPS and not again.is_empty
    empty = PresentationGroups()
    assert len(empty) == 0 and list(empty) == [] and list(empty.runs()) == []
    assert UpdateBatch(0, 1, 2).is_empty


def test_concatenated_columns_equal_the_columns_of_all_groups() -> None:
    parts = [PresentationGroups.from_groups(GROUPS[a:b]) for a, b in ((0, 1), (1, 1), (1, 4))]
    whole = PresentationGroups.concat(parts)
    assert list(whole) == GROUPS and whole.ends.tolist() == [2, 3, 6, 7]
    assert PresentationGroups.concat(parts[:1]) is parts[0]
    assert len(PresentationGroups.concat([])) == 0


def test_received_groups_are_presented_as_one_by_one() -> None:
    shard = ShardedColony(0, None, ConsistentHashRing(1))
    batch = UpdateBatch(1, 0, 3, groups=PresentationGroups.from_groups(GROUPS))
    assert shard.receive_updates([batch]) == 0
    plain = HebbianGraph()
    for grp in GROUPS:
        document = cast("DocumentId | None", grp.document)
        plain.present(grp.labels, NodeType(grp.node_type), Position(grp.x, grp.y), 3, document)
    got = shard.colony.graph
    assert got.node_count == plain.node_count == 4
    for i in range(4):
        assert got.node_at(i) == plain.node_at(i)  # type, place, access count, documents
