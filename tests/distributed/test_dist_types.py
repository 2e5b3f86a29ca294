"""Tests of phago.distributed.types (REFERENCE.md §7.1)."""

from __future__ import annotations

import dataclasses
import doctest
import pickle

import numpy as np
import pytest

import phago.distributed.types as types_mod
from phago.distributed.types import (
    DEFAULT_VIRTUAL_NODES,
    ClusterStats,
    CrossShardEdge,
    DistributedConfig,
    GhostNode,
    PhaseResult,
    ShardHealth,
    ShardId,
    ShardInfo,
    ShardStatus,
    TickPhase,
    as_shard_id,
)
from phago.errors import ConfigError
from phago.ids import DocumentId, NodeId
from phago.types import NodeData, NodeType, Position


def _node(i: int, label: str = "x") -> NodeData:
    return NodeData(NodeId(i), label, NodeType.CONCEPT, Position(0, 0), 1, 0)


def test_doctests() -> None:
    result = doctest.testmod(types_mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


class TestShardId:
    def test_int_str_value_repr(self) -> None:
        s = ShardId(3)
        assert int(s) == 3
        assert str(s) == "shard-3"
        assert s.value == 3
        assert repr(s) == "ShardId(3)"

    def test_hashable_ordered_and_equal_by_value(self) -> None:
        assert ShardId(1) == ShardId(1)
        assert ShardId(1) != ShardId(2)
        assert ShardId(1) < ShardId(2)
        assert sorted([ShardId(5), ShardId(0), ShardId(3)]) == [ShardId(0), ShardId(3), ShardId(5)]
        assert len({ShardId(1), ShardId(1), ShardId(2)}) == 2
        assert {ShardId(1): "a"}[ShardId(1)] == "a"

    def test_is_not_equal_to_a_plain_int(self) -> None:
        assert ShardId(1) != 1  # type: ignore[comparison-overlap]

    def test_frozen(self) -> None:
        with pytest.raises(dataclasses.FrozenInstanceError):
            ShardId(1).value = 2  # type: ignore[misc]

    def test_accepts_numpy_integers(self) -> None:
        s = ShardId(np.int64(4))  # type: ignore[arg-type]
        assert s == ShardId(4)
        assert type(s.value) is int

    @pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "1", True, None])
    def test_rejects_invalid_values(self, bad: object) -> None:
        with pytest.raises(ConfigError):
            ShardId(bad)  # type: ignore[arg-type]

    def test_u32_bounds(self) -> None:
        assert ShardId(0).value == 0
        assert ShardId(2**32 - 1).value == 2**32 - 1

    def test_pickles(self) -> None:
        assert pickle.loads(pickle.dumps(ShardId(7))) == ShardId(7)

    def test_as_shard_id(self) -> None:
        s = ShardId(2)
        assert as_shard_id(s) is s
        assert as_shard_id(2) == s


def test_tick_phase_names_and_order() -> None:
    assert [str(p) for p in TickPhase] == ["Sense", "Act", "Decay", "Advance"]
    assert list(TickPhase) == [TickPhase.SENSE, TickPhase.ACT, TickPhase.DECAY, TickPhase.ADVANCE]
    assert pickle.loads(pickle.dumps(TickPhase.DECAY)) is TickPhase.DECAY


def test_shard_status_names() -> None:
    assert [str(s) for s in ShardStatus] == ["Online", "Offline", "Recovering", "Draining"]


class TestCrossShardEdge:
    def test_fields_include_from_shard(self) -> None:
        """Corrected: the reference edge has no ``from_shard`` (§8 item 27)."""
        e = CrossShardEdge(NodeId(1), NodeId(2), ShardId(0), ShardId(1), 0.5)
        assert (e.from_node, e.to_node, e.from_shard, e.to_shard, e.weight) == (
            1,
            2,
            ShardId(0),
            ShardId(1),
            0.5,
        )

    def test_immutable_and_replaced_on_update(self) -> None:
        e = CrossShardEdge(NodeId(1), NodeId(2), ShardId(0), ShardId(1), 0.5)
        with pytest.raises(dataclasses.FrozenInstanceError):
            e.weight = 1.0  # type: ignore[misc]
        f = e.with_weight(0.9)
        assert f.weight == 0.9
        assert e.weight == 0.5
        assert f == dataclasses.replace(e, weight=0.9)

    def test_hashable_and_pickles(self) -> None:
        e = CrossShardEdge(NodeId(1), NodeId(2), ShardId(0), ShardId(1), 0.5)
        assert len({e, e.with_weight(0.5)}) == 1
        assert pickle.loads(pickle.dumps(e)) == e


def test_phase_result_defaults_are_not_shared() -> None:
    a = PhaseResult(ShardId(0), TickPhase.ACT, 1)
    b = PhaseResult(ShardId(1), TickPhase.ACT, 1)
    a.cross_shard_edges.append(CrossShardEdge(NodeId(1), NodeId(2), ShardId(0), ShardId(1), 0.1))
    assert b.cross_shard_edges == []
    assert (a.node_count, a.edge_count) == (0, 0)


class TestGhostNode:
    def test_resolve(self) -> None:
        g = GhostNode(NodeId(7), ShardId(1), "ribosome")
        assert not g.is_resolved
        assert g.full_data is None
        data = _node(7, "ribosome")
        g.resolve(data)
        assert g.is_resolved
        assert g.full_data is data

    def test_resolve_with_data_of_another_node_raises(self) -> None:
        g = GhostNode(NodeId(7), ShardId(1), "ribosome")
        with pytest.raises(ValueError):
            g.resolve(_node(8))
        assert not g.is_resolved

    def test_constructed_resolved(self) -> None:
        assert GhostNode(NodeId(1), ShardId(0), "x", _node(1)).is_resolved

    def test_pickles_with_its_node_data(self) -> None:
        # ghosts cross between shards every tick, pickled by their own __reduce__
        data = NodeData(
            NodeId(2**63 + 5), "ribosome", NodeType.INSIGHT, Position(-1.5, 2.0), 4, 9,
            (DocumentId(3), DocumentId(2**64 - 1)), (0.25, -1.0),
        )  # fmt: skip
        for g in (GhostNode(NodeId(2**63 + 5), ShardId(3), "ribosome", data),
                  GhostNode(NodeId(1), ShardId(0), "x")):  # fmt: skip
            back = pickle.loads(pickle.dumps(g, protocol=pickle.HIGHEST_PROTOCOL))
            assert back == g and type(back.shard_id) is ShardId
        back_data = pickle.loads(pickle.dumps(data))
        assert back_data == data and back_data.node_type is NodeType.INSIGHT
        assert type(back_data.position) is Position
        # a node type given by its value comes back as the enum
        loose = NodeData(NodeId(1), "x", "concept", Position(0, 0), 0, 0)  # type: ignore[arg-type]
        assert pickle.loads(pickle.dumps(loose)).node_type is NodeType.CONCEPT

    def test_position_pickles(self) -> None:
        p = Position(1.5, -2.0)
        assert pickle.loads(pickle.dumps(p)) == p
        assert pickle.loads(pickle.dumps([p, p]))[1] == p


def test_shard_info_defaults_match_reference() -> None:
    info = ShardInfo(ShardId(2), "host:1")
    assert (info.node_count, info.edge_count, info.document_count) == (0, 0, 0)
    assert info.last_heartbeat_ms == 0
    assert info.memory_bytes == 0
    assert info.status is ShardStatus.ONLINE
    assert ShardInfo().id is None
    assert ShardInfo().address is None


class TestShardHealth:
    def test_healthy_and_unhealthy_constructors(self) -> None:
        h = ShardHealth.healthy(ShardId(2))
        assert h.healthy is True
        assert (h.shard_id, h.load, h.memory_usage_mb, h.pending_operations) == (
            ShardId(2),
            0.0,
            0.0,
            0,
        )
        u = ShardHealth.unhealthy(3)
        assert u.healthy is False
        assert u.shard_id == ShardId(3)

    def test_keyword_construction_and_fields(self) -> None:
        h = ShardHealth(
            shard_id=ShardId(1), healthy=True, load=0.5, memory_usage_mb=12.0, pending_operations=4
        )
        assert h.healthy
        assert (h.load, h.memory_usage_mb, h.pending_operations) == (0.5, 12.0, 4)
        h.healthy = False
        assert h.healthy is False

    def test_equality_repr_and_pickle(self) -> None:
        h = ShardHealth(ShardId(1), True, 0.25)
        assert h == ShardHealth(ShardId(1), True, 0.25)
        assert h != ShardHealth(ShardId(1), False, 0.25)
        assert "healthy=True" in repr(h)
        back = pickle.loads(pickle.dumps(h))
        assert back == h
        assert back.healthy is True


class TestDistributedConfig:
    def test_defaults_match_reference_but_the_virtual_nodes(self) -> None:
        """The reference's 150 virtual nodes split the ring unevenly; see the constant."""
        cfg = DistributedConfig()
        assert (
            cfg.num_shards,
            cfg.replication_factor,
            cfg.rpc_timeout_ms,
            cfg.virtual_nodes_per_shard,
        ) == (3, 2, 5000, DEFAULT_VIRTUAL_NODES)
        assert cfg.validate() is cfg

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"num_shards": 0},
            {"num_shards": -2},
            {"num_shards": 2.0},
            {"num_shards": True},
            {"replication_factor": -1},
            {"rpc_timeout_ms": 0},
            {"virtual_nodes_per_shard": 0},
        ],
    )
    def test_validate_rejects(self, kwargs: dict[str, object]) -> None:
        cfg = DistributedConfig(**kwargs)  # type: ignore[arg-type]
        with pytest.raises(ConfigError):
            cfg.validate()

    def test_zero_replication_is_valid(self) -> None:
        DistributedConfig(replication_factor=0).validate()


def test_cluster_stats_fields() -> None:
    s = ClusterStats(
        total_shards=3, online_shards=2, total_documents=10, total_memory_bytes=5, current_tick=4
    )
    assert dataclasses.astuple(s) == (3, 2, 10, 5, 4)
