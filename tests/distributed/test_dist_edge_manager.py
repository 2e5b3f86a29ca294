"""Tests of phago.distributed.edge_manager (REFERENCE.md §7.8, fixes of §8 item 27)."""

from __future__ import annotations

import doctest

import pytest

import phago.distributed.edge_manager as edge_manager_mod
from phago.distributed.edge_manager import CrossShardEdgeManager, CrossShardEdgeStats
from phago.distributed.types import CrossShardEdge, ShardId
from phago.errors import ConfigError
from phago.ids import NodeId

LOCAL = ShardId(0)


def out(a: int, b: int, to: int, w: float = 0.5) -> CrossShardEdge:
    """An outgoing edge from local node ``a`` to node ``b`` on shard ``to``."""
    return CrossShardEdge(NodeId(a), NodeId(b), LOCAL, ShardId(to), w)


def inc(a: int, b: int, frm: int, w: float = 0.5) -> CrossShardEdge:
    """An incoming edge from node ``a`` on shard ``frm`` to local node ``b``."""
    return CrossShardEdge(NodeId(a), NodeId(b), ShardId(frm), LOCAL, w)


def test_doctests() -> None:
    result = doctest.testmod(edge_manager_mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_outgoing_is_keyed_by_from_node_and_queued() -> None:
    m = CrossShardEdgeManager()
    m.add_outgoing_edge(out(1, 10, 1))
    m.add_outgoing_edge(out(1, 11, 2))
    m.add_outgoing_edge(out(2, 12, 1))
    assert [e.to_node for e in m.get_outgoing(NodeId(1))] == [10, 11]
    assert m.has_outgoing(NodeId(2))
    assert not m.has_outgoing(NodeId(10))
    assert m.get_outgoing(NodeId(10)) == []
    assert m.pending_count() == 3
    assert m.has_pending()
    assert m.outgoing_count() == 3


def test_incoming_is_keyed_by_to_node_and_not_queued() -> None:
    m = CrossShardEdgeManager()
    m.add_incoming_edge(inc(10, 1, 1))
    m.add_incoming_edge(inc(11, 1, 2))
    assert [e.from_node for e in m.get_incoming(NodeId(1))] == [10, 11]
    assert m.has_incoming(NodeId(1))
    assert not m.has_incoming(NodeId(10))
    assert m.pending_count() == 0
    assert m.incoming_count() == 2
    assert m.total_edges() == 2


def test_re_adding_a_pair_replaces_the_edge() -> None:
    m = CrossShardEdgeManager()
    m.add_outgoing_edge(out(1, 10, 1, 0.2))
    m.add_outgoing_edge(out(1, 10, 1, 0.7))
    assert m.get_outgoing(NodeId(1)) == [out(1, 10, 1, 0.7)]
    assert m.pending_count() == 2  # both updates are delivered
    m.add_incoming_edge(inc(10, 1, 1, 0.2))
    m.add_incoming_edge(inc(10, 1, 1, 0.3))
    assert m.get_incoming(NodeId(1)) == [inc(10, 1, 1, 0.3)]


def test_returned_lists_are_copies() -> None:
    m = CrossShardEdgeManager()
    m.add_outgoing_edge(out(1, 10, 1))
    m.get_outgoing(NodeId(1)).clear()
    m.pending_edges().clear()
    assert m.outgoing_count() == 1
    assert m.pending_count() == 1


def test_pending_take_and_clear() -> None:
    m = CrossShardEdgeManager()
    edges = [out(1, 10, 2), out(2, 11, 1), out(3, 12, 2)]
    for e in edges:
        m.add_outgoing_edge(e)
    assert m.pending_edges() == edges
    assert m.pending_by_shard() == {ShardId(1): [edges[1]], ShardId(2): [edges[0], edges[2]]}
    assert m.pending_count() == 3  # pending_by_shard does not drain
    assert m.take_pending() == edges
    assert m.pending_count() == 0
    assert m.outgoing_count() == 3  # stored edges stay
    for e in edges:
        m.add_outgoing_edge(e)
    grouped = m.take_pending_by_shard()
    assert list(grouped) == [ShardId(1), ShardId(2)]
    assert grouped[ShardId(2)] == [edges[0], edges[2]]
    assert not m.has_pending()
    m.add_outgoing_edge(edges[0])
    m.clear_pending()
    assert m.pending_edges() == []


def test_remove_shard_edges_drops_incoming_from_that_shard() -> None:
    """Corrected: the reference filters incoming edges by ``to_shard`` (the local shard)."""
    m = CrossShardEdgeManager()
    m.add_outgoing_edge(out(1, 10, 1))
    m.add_outgoing_edge(out(1, 11, 2))
    m.add_outgoing_edge(out(2, 12, 1))
    m.add_incoming_edge(inc(20, 1, 1))
    m.add_incoming_edge(inc(21, 1, 2))
    m.add_incoming_edge(inc(22, 3, 1))
    assert m.remove_shard_edges(ShardId(1)) == 4
    assert m.outgoing_edges() == [out(1, 11, 2)]
    assert m.incoming_edges() == [inc(21, 1, 2)]
    assert m.pending_edges() == [out(1, 11, 2)]
    assert not m.has_outgoing(NodeId(2))  # emptied keys are dropped
    assert not m.has_incoming(NodeId(3))
    assert m.connected_shards() == [ShardId(2)]
    assert m.remove_shard_edges(7) == 0


def test_remove_node_edges_drops_both_roles() -> None:
    m = CrossShardEdgeManager()
    m.add_outgoing_edge(out(1, 10, 1))
    m.add_outgoing_edge(out(2, 10, 1))
    m.add_outgoing_edge(out(2, 11, 1))
    m.add_incoming_edge(inc(10, 3, 1))
    m.add_incoming_edge(inc(12, 1, 1))
    assert m.remove_node_edges(NodeId(1)) == 2
    assert not m.has_outgoing(NodeId(1))
    assert not m.has_incoming(NodeId(1))
    assert m.remove_node_edges(NodeId(10)) == 2  # a remote node: edges pointing to/from it
    assert m.outgoing_edges() == [out(2, 11, 1)]
    assert m.incoming_edges() == []
    assert m.pending_edges() == [out(2, 11, 1)]


def test_decay_returns_pruned_edges_with_decayed_weight() -> None:
    """Corrected: the reference returns pruned edges with their pre-decay weight."""
    m = CrossShardEdgeManager()
    m.add_outgoing_edge(out(1, 10, 1, 0.8))
    m.add_outgoing_edge(out(1, 11, 1, 0.1))
    m.add_incoming_edge(inc(20, 2, 1, 0.1))
    m.add_incoming_edge(inc(21, 2, 1, 0.9))
    pruned = m.decay_edges(rate=0.5, threshold=0.1)
    assert pruned == [out(1, 11, 1, 0.05)]
    assert m.get_outgoing(NodeId(1)) == [out(1, 10, 1, 0.4)]
    assert m.get_incoming(NodeId(2)) == [inc(21, 2, 1, 0.45)]  # pruned incoming: silent
    assert m.decay_edges(0.0, 0.0) == []
    assert m.get_outgoing(NodeId(1)) == [out(1, 10, 1, 0.4)]
    pruned = m.decay_edges(1.0, 0.01)
    assert pruned == [out(1, 10, 1, 0.0)]
    assert m.total_edges() == 0


@pytest.mark.parametrize("rate", [-0.1, 1.1])
def test_decay_rejects_bad_rate(rate: float) -> None:
    with pytest.raises(ConfigError):
        CrossShardEdgeManager().decay_edges(rate, 0.1)


def test_strengthen_edge() -> None:
    m = CrossShardEdgeManager()
    m.add_outgoing_edge(out(1, 10, 1, 0.5))
    m.add_outgoing_edge(out(1, 11, 1, 0.5))
    updated = m.strengthen_edge(NodeId(1), NodeId(11), 0.25)
    assert updated == out(1, 11, 1, 0.75)
    assert m.get_outgoing(NodeId(1)) == [out(1, 10, 1, 0.5), out(1, 11, 1, 0.75)]
    capped = m.strengthen_edge(NodeId(1), NodeId(11), 5.0)
    assert capped is not None
    assert capped.weight == 1.0
    floored = m.strengthen_edge(NodeId(1), NodeId(10), -5.0)
    assert floored is not None
    assert floored.weight == 0.0
    assert m.strengthen_edge(NodeId(1), NodeId(99), 0.1) is None
    assert m.strengthen_edge(NodeId(9), NodeId(10), 0.1) is None


def test_summaries_and_stats() -> None:
    m = CrossShardEdgeManager()
    assert m.stats() == CrossShardEdgeStats(0, 0, 0, [], {}, 0.0)
    m.add_outgoing_edge(out(1, 10, 3, 0.2))
    m.add_outgoing_edge(out(2, 11, 1, 0.4))
    m.add_outgoing_edge(out(2, 12, 3, 0.6))
    m.add_incoming_edge(inc(20, 1, 1))
    assert m.connected_shards() == [ShardId(1), ShardId(3)]
    assert m.edges_by_shard() == {ShardId(1): 1, ShardId(3): 2}
    stats = m.stats()
    assert (stats.outgoing_edges, stats.incoming_edges, stats.pending_resolution) == (3, 1, 3)
    assert stats.connected_shards == [ShardId(1), ShardId(3)]
    assert stats.edges_by_shard == {ShardId(1): 1, ShardId(3): 2}
    assert stats.average_weight == pytest.approx(0.4)
    assert repr(m) == "CrossShardEdgeManager(outgoing=3, incoming=1, pending=3)"
