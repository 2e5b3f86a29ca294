"""Tests of phago.distributed.ghost_cache (REFERENCE.md §7.7, fixes of §8 item 27)."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import phago.distributed.ghost_cache as ghost_cache_mod
from phago.distributed.ghost_cache import GhostCacheStats, GhostNodeCache
from phago.distributed.types import GhostNode, ShardId
from phago.errors import ConfigError
from phago.ids import NodeId
from phago.types import NodeData, NodeType, Position


def ghost(i: int, shard: int = 0, label: str | None = None) -> GhostNode:
    return GhostNode(NodeId(i), ShardId(shard), label if label is not None else f"n{i}")


def data(i: int) -> NodeData:
    return NodeData(NodeId(i), f"n{i}", NodeType.CONCEPT, Position(0, 0), 1, 0)


def test_doctests() -> None:
    result = doctest.testmod(ghost_cache_mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_default_capacity_is_1000() -> None:
    assert GhostNodeCache().capacity == 1000


def test_insert_get_peek_contains() -> None:
    c = GhostNodeCache(3)
    assert c.insert(ghost(1)) is None
    assert c.contains(NodeId(1))
    assert NodeId(1) in c
    assert NodeId(2) not in c
    assert len(c) == 1
    got = c.get(NodeId(1))
    assert got is not None
    assert got.label == "n1"
    peeked = c.peek(NodeId(1))
    assert peeked is got
    assert c.get(NodeId(2)) is None
    assert c.peek(NodeId(2)) is None


def test_lru_eviction_order() -> None:
    c = GhostNodeCache(3)
    for i in (1, 2, 3):
        c.insert(ghost(i))
    c.get(NodeId(1))  # 2 is now least recent
    evicted = c.insert(ghost(4))
    assert evicted is not None
    assert evicted.node_id == NodeId(2)
    assert [g.node_id for g in c.all_nodes()] == [3, 1, 4]


def test_peek_does_not_touch() -> None:
    c = GhostNodeCache(2)
    c.insert(ghost(1))
    c.insert(ghost(2))
    c.peek(NodeId(1))
    c.insert(ghost(3))
    assert NodeId(1) not in c
    assert NodeId(2) in c


def test_insert_existing_replaces_and_touches() -> None:
    c = GhostNodeCache(2)
    c.insert(ghost(1, label="old"))
    c.insert(ghost(2))
    assert c.insert(ghost(1, label="new")) is None
    assert len(c) == 2
    c.insert(ghost(3))  # evicts 2, since 1 was touched by the replacement
    assert NodeId(2) not in c
    got = c.peek(NodeId(1))
    assert got is not None
    assert got.label == "new"


def test_capacity_zero_stores_nothing() -> None:
    """Corrected: the reference keeps one entry in a cache of capacity 0."""
    c = GhostNodeCache(0)
    assert c.insert(ghost(1)) is None
    assert len(c) == 0
    assert c.get(NodeId(1)) is None


def test_negative_capacity() -> None:
    with pytest.raises(ConfigError):
        GhostNodeCache(-1)


def test_update_full_data() -> None:
    c = GhostNodeCache(2)
    c.insert(ghost(1))
    c.insert(ghost(2))
    assert c.update_full_data(NodeId(1), data(1)) is True
    g1 = c.peek(NodeId(1))
    assert g1 is not None
    assert g1.is_resolved
    assert c.update_full_data(NodeId(9), data(9)) is False
    with pytest.raises(ValueError):
        c.update_full_data(NodeId(2), data(1))
    c.insert(ghost(3))  # update does not touch: 1 is still least recent
    assert NodeId(1) not in c


def test_shard_queries_remove_clear() -> None:
    c = GhostNodeCache(10)
    for i, s in enumerate((0, 1, 1, 2, 1)):
        c.insert(ghost(i, shard=s))
    assert [g.node_id for g in c.nodes_from_shard(ShardId(1))] == [1, 2, 4]
    assert c.nodes_from_shard(7) == []
    assert c.invalidate_shard(1) == 3
    assert c.invalidate_shard(1) == 0
    assert [g.node_id for g in c.all_nodes()] == [0, 3]
    removed = c.remove(NodeId(0))
    assert removed is not None
    assert removed.node_id == NodeId(0)
    assert c.remove(NodeId(0)) is None
    c.clear()
    assert len(c) == 0


def test_stats() -> None:
    c = GhostNodeCache(3)
    for i, s in enumerate((0, 1, 1, 2)):  # the 4th insert evicts node 0
        c.insert(ghost(i, shard=s))
    c.update_full_data(NodeId(1), data(1))
    c.get(NodeId(1))
    c.get(NodeId(2))
    c.get(NodeId(0))
    assert c.stats() == GhostCacheStats(
        total_nodes=3,
        max_capacity=3,
        nodes_by_shard={ShardId(1): 2, ShardId(2): 1},
        nodes_with_full_data=1,
        hits=2,
        misses=1,
        evictions=1,
    )
    assert repr(c) == "GhostNodeCache(len=3, capacity=3)"


ops = st.lists(
    st.tuples(st.sampled_from(["insert", "get", "peek", "remove"]), st.integers(0, 7)),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(capacity=st.integers(0, 5), operations=ops)
def test_prop_lru_matches_a_model(capacity: int, operations: list[tuple[str, int]]) -> None:
    """Never exceeds capacity; a get after insert hits unless the entry was evicted."""
    cache = GhostNodeCache(capacity)
    model: list[int] = []  # least recent first
    hits = misses = evictions = 0
    for op, key in operations:
        nid = NodeId(key)
        if op == "insert":
            if capacity == 0:
                pass
            elif key in model:
                model.remove(key)
                model.append(key)
            else:
                if len(model) >= capacity:
                    model.pop(0)
                    evictions += 1
                model.append(key)
            cache.insert(ghost(key))
        elif op == "get":
            got = cache.get(nid)
            if key in model:
                hits += 1
                assert got is not None
                assert got.node_id == nid
                model.remove(key)
                model.append(key)
            else:
                misses += 1
                assert got is None
        elif op == "peek":
            assert (cache.peek(nid) is not None) == (key in model)
        else:
            removed = cache.remove(nid)
            assert (removed is not None) == (key in model)
            if key in model:
                model.remove(key)
        assert len(cache) <= capacity
        assert [g.node_id for g in cache.all_nodes()] == model
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.evictions) == (hits, misses, evictions)


@settings(max_examples=100, deadline=None)
@given(capacity=st.integers(1, 6), keys=st.lists(st.integers(0, 20), max_size=40))
def test_prop_get_after_insert_hits(capacity: int, keys: list[int]) -> None:
    cache = GhostNodeCache(capacity)
    for k in keys:
        cache.insert(ghost(k))
        got = cache.get(NodeId(k))
        assert got is not None
        assert got.node_id == NodeId(k)
        assert len(cache) <= capacity


def test_pickle_round_trip_keeps_lru_order_and_data() -> None:
    import pickle

    from phago.distributed import GhostNode, GhostNodeCache, ShardId
    from phago.ids import DocumentId, NodeId
    from phago.types import NodeData, NodeType, Position

    cache = GhostNodeCache(3)
    data = NodeData(NodeId(7), "cell", NodeType.CONCEPT, Position(1, 2), 5, 3, (DocumentId(9),))
    cache.insert(GhostNode(NodeId(7), ShardId(1), "cell", data))
    cache.insert(GhostNode(NodeId(8), ShardId(2), "wall"))
    cache.get(NodeId(7))
    back = pickle.loads(pickle.dumps(cache))
    assert [g.node_id for g in back.all_nodes()] == [g.node_id for g in cache.all_nodes()]
    assert back.peek(NodeId(7)) == cache.peek(NodeId(7))
    assert back.peek(NodeId(8)) is not None and not back.peek(NodeId(8)).is_resolved
    assert back.capacity == 3 and back.stats() == cache.stats()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 12), max_size=40),
    st.integers(0, 6),
    st.lists(st.integers(0, 12), max_size=5),
)
def test_insert_many_is_insert_in_turn(keys: list[int], capacity: int, before: list[int]) -> None:
    one, many = GhostNodeCache(capacity), GhostNodeCache(capacity)
    for k in before:
        one.insert(ghost(k))
        many.insert(ghost(k))
    evicted = sum(one.insert(ghost(k, label=f"v{i}")) is not None for i, k in enumerate(keys))
    assert many.insert_many(ghost(k, label=f"v{i}") for i, k in enumerate(keys)) == evicted
    assert [(g.node_id, g.label) for g in many.all_nodes()] == [
        (g.node_id, g.label) for g in one.all_nodes()
    ]
    assert many.stats() == one.stats()
