"""Tests of phago.distributed.coordinator (REFERENCE.md §7.5, fixes of §8 items 21-22)."""

from __future__ import annotations

import asyncio
import doctest
import threading
import time

import numpy as np
import pytest

import phago.distributed.coordinator as coordinator_mod
from phago.distributed.coordinator import Coordinator
from phago.distributed.types import (
    DEFAULT_VIRTUAL_NODES,
    ClusterStats,
    DistributedConfig,
    ShardId,
    ShardInfo,
    ShardStatus,
    TickPhase,
)
from phago.errors import BarrierFailed, ConfigError, PhaseTimeout, ShardNotFound
from phago.ids import document_id, node_id

IDS3 = [ShardId(0), ShardId(1), ShardId(2)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_doctests() -> None:
    result = doctest.testmod(coordinator_mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


class TestConstruction:
    def test_ring_pre_populated(self) -> None:
        c = Coordinator(3)
        assert c.shard_count == 3
        assert c.ring.all_shards() == IDS3
        assert c.ring.total_virtual_nodes() == 3 * DEFAULT_VIRTUAL_NODES
        assert c.barrier.expected_shards == IDS3
        assert c.current_tick == 0
        assert c.config == DistributedConfig(num_shards=3)
        assert c.all_shards() == []  # nobody has registered yet

    def test_with_config(self) -> None:
        cfg = DistributedConfig(num_shards=4, replication_factor=1, virtual_nodes_per_shard=10)
        c = Coordinator.with_config(cfg)
        assert c.config is cfg
        assert c.shard_count == 4
        assert c.ring.total_virtual_nodes() == 40
        assert c.current_tick == 0

    @pytest.mark.parametrize("bad", [0, -1])
    def test_invalid_shard_count(self, bad: int) -> None:
        with pytest.raises(ConfigError):
            Coordinator(bad)
        with pytest.raises(ConfigError):
            Coordinator.with_config(DistributedConfig(num_shards=bad))

    def test_repr(self) -> None:
        assert repr(Coordinator(2)) == "Coordinator(shards=[0, 1], tick=0)"


class TestRegistration:
    def test_registering_pre_populated_shards_does_not_double_add(self) -> None:
        """Corrected: the reference reports shard_count 6 after Coordinator(3) + 3 registers."""
        c = Coordinator(3)
        for i in range(3):
            assert c.register_shard(ShardInfo(ShardId(i), f"h:{i}")) == ShardId(i)
        assert c.shard_count == 3
        assert c.ring.total_virtual_nodes() == 3 * DEFAULT_VIRTUAL_NODES
        assert c.barrier.shard_count == 3

    def test_registering_without_ids_fills_0_to_n(self) -> None:
        """Reference expectation: registration ids are sequential from 0."""
        c = Coordinator(3)
        assert [c.register_shard(ShardInfo()) for _ in range(3)] == IDS3
        assert c.shard_count == 3

    def test_registering_a_new_shard_extends_ring_and_barrier(self) -> None:
        c = Coordinator(3)
        assert c.register_shard(ShardInfo(ShardId(3))) == ShardId(3)
        assert c.shard_count == 4
        assert ShardId(3) in c.ring
        assert c.barrier.expected_shards == [*IDS3, ShardId(3)]

    def test_duplicate_registration_raises(self) -> None:
        c = Coordinator(3)
        c.register_shard(ShardInfo(ShardId(1)))
        with pytest.raises(ConfigError):
            c.register_shard(ShardInfo(ShardId(1)))
        assert c.shard_count == 3

    def test_get_all_online(self) -> None:
        c = Coordinator(2)
        c.register_shard(ShardInfo(ShardId(0), "a:1"))
        c.register_shard(ShardInfo(ShardId(1), "b:1"))
        info = c.get_shard(1)
        assert info is not None
        assert info.address == "b:1"
        assert c.get_shard(5) is None
        assert [i.id for i in c.all_shards()] == [ShardId(0), ShardId(1)]
        assert c.online_shards() == [ShardId(0), ShardId(1)]

    def test_deregister_unknown_raises(self) -> None:
        c = Coordinator(3)
        with pytest.raises(ShardNotFound):
            c.deregister_shard(ShardId(9))

    def test_deregister_removes_from_registry_ring_and_barrier(self) -> None:
        c = Coordinator(3)
        for i in range(3):
            c.register_shard(ShardInfo(ShardId(i)))
        info = c.deregister_shard(ShardId(1))
        assert info is not None
        assert info.id == ShardId(1)
        assert c.get_shard(1) is None
        assert ShardId(1) not in c.ring
        assert c.shard_count == 2
        assert c.barrier.expected_shards == [ShardId(0), ShardId(2)]
        assert all(c.route_document(k) != ShardId(1) for k in range(500))
        with pytest.raises(ShardNotFound):
            c.deregister_shard(ShardId(1))

    def test_deregister_ring_only_shard(self) -> None:
        c = Coordinator(3)
        assert c.deregister_shard(2) is None
        assert c.shard_count == 2

    def test_reregister_after_deregister(self) -> None:
        c = Coordinator(3)
        before = [c.route_document(k) for k in range(300)]
        c.deregister_shard(2)
        c.register_shard(ShardInfo(ShardId(2)))
        assert c.shard_count == 3
        assert [c.route_document(k) for k in range(300)] == before


class TestRouting:
    def test_route_document_and_node_use_the_ring(self) -> None:
        c = Coordinator(3)
        doc = document_id("title", "content")
        node = node_id("concept", "cell")
        assert c.route_document(doc) == c.ring.get_shard(doc)
        assert c.route_node(node) == c.ring.get_shard(node)
        assert Coordinator(3).route_document(doc) == c.route_document(doc)

    def test_reference_distribution(self) -> None:
        """Reference expectation: 100 documents over 3 shards, each gets 20-50."""
        c = Coordinator(3)
        counts = {s: 0 for s in IDS3}
        for i in range(100):
            counts[c.route_document(document_id(f"Doc {i}", "body"))] += 1
        assert all(20 <= n <= 50 for n in counts.values()), counts

    def test_replica_shards_use_replication_factor(self) -> None:
        c = Coordinator(3)  # replication_factor 2 -> primary + 2
        for k in range(100):
            replicas = c.get_replica_shards(k)
            assert replicas[0] == c.route_document(k)
            assert sorted(replicas) == IDS3
        c1 = Coordinator.with_config(DistributedConfig(num_shards=5, replication_factor=1))
        assert len(c1.get_replica_shards(7)) == 2

    def test_batch_routing_through_the_ring(self) -> None:
        c = Coordinator(3)
        ids = np.arange(100, dtype=np.uint64)
        assert c.ring.get_shards(ids).tolist() == [c.route_document(int(i)).value for i in ids]

    def test_route_documents_routes_each_id_as_route_document_does(self) -> None:
        c = Coordinator(5)
        ids = [document_id(f"Doc {i}", "body") for i in range(300)] + [0, 2**64 - 1]
        shards = c.route_documents(ids)
        assert shards.dtype == np.int64 and len(shards) == len(ids)
        assert shards.tolist() == [c.route_document(d).value for d in ids]
        assert c.route_documents([]).tolist() == []


class TestTicksAndPhases:
    def test_phase_complete_and_wait(self) -> None:
        c = Coordinator(3)
        for s in IDS3:
            c.phase_complete(s, TickPhase.SENSE, 0)
        c.wait_for_phase(TickPhase.SENSE, 0, timeout_s=1.0)

    def test_phase_complete_unknown_shard(self) -> None:
        c = Coordinator(3)
        with pytest.raises(ShardNotFound):
            c.phase_complete(ShardId(3), TickPhase.ACT, 0)

    def test_wait_for_phase_times_out_naming_the_missing_shard(self) -> None:
        c = Coordinator(3, phase_timeout_s=0.2)
        c.phase_complete(0, TickPhase.ACT, 0)
        c.phase_complete(2, TickPhase.ACT, 0)
        start = time.monotonic()
        with pytest.raises(PhaseTimeout, match="shard-1"):
            c.wait_for_phase(TickPhase.ACT, 0)
        assert time.monotonic() - start < 0.2 + 0.5

    def test_completions_from_shard_threads(self) -> None:
        c = Coordinator(4)
        ids = c.ring.all_shards()
        threads = [
            threading.Thread(target=c.phase_complete, args=(s, TickPhase.DECAY, 0)) for s in ids
        ]
        for t in threads:
            t.start()
        c.wait_for_phase(TickPhase.DECAY, 0, timeout_s=5.0)
        for t in threads:
            t.join()

    def test_async_wait(self) -> None:
        c = Coordinator(2)

        async def main() -> None:
            loop = asyncio.get_running_loop()
            loop.call_later(0.02, c.phase_complete, 0, TickPhase.ACT, 0)
            loop.call_later(0.04, c.phase_complete, 1, TickPhase.ACT, 0)
            await c.wait_for_phase_async(TickPhase.ACT, 0, timeout_s=5.0)

        asyncio.run(main())

    def test_deregistering_every_shard_makes_waits_fail(self) -> None:
        c = Coordinator(1)
        c.deregister_shard(0)
        with pytest.raises(BarrierFailed):
            c.wait_for_phase(TickPhase.ACT, 0, timeout_s=5.0)

    def test_advance_tick_returns_new_tick_and_resets_older_completions(self) -> None:
        c = Coordinator(1)
        c.phase_complete(0, TickPhase.ACT, 0)
        c.phase_complete(0, TickPhase.ACT, 1)  # an early completion of the next tick
        assert c.advance_tick() == 1
        assert c.current_tick == 1
        assert c.barrier.completed_count(TickPhase.ACT, 0) == 0
        assert c.barrier.is_complete(TickPhase.ACT, 1)

    def test_advance_tick_is_thread_safe(self) -> None:
        c = Coordinator(2)
        results: list[int] = []
        lock = threading.Lock()

        def worker() -> None:
            mine = [c.advance_tick() for _ in range(500)]
            with lock:
                results.extend(mine)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert c.current_tick == 4000
        assert sorted(results) == list(range(1, 4001))

    def test_set_tick_clears_every_completion(self) -> None:
        c = Coordinator(1)
        for t in range(5):
            c.phase_complete(0, TickPhase.ACT, t)
            c.advance_tick()
        c.phase_complete(0, TickPhase.SENSE, 5)
        c.set_tick(3)
        assert c.current_tick == 3
        assert c.barrier.completed_count(TickPhase.SENSE, 5) == 0
        assert not c.barrier.is_complete(TickPhase.ACT, 4)
        with pytest.raises(ValueError):
            c.set_tick(-1)


class TestGlobalDf:
    def test_aggregate_is_a_keywise_sum(self) -> None:
        dfs = [{"cell": 2, "dna": 1}, {"cell": 3}, {}, {"rna": 4}]
        assert Coordinator.aggregate_global_df(dfs) == {"cell": 5, "dna": 1, "rna": 4}
        assert Coordinator(1).aggregate_global_df([]) == {}

    def test_record_and_read(self) -> None:
        c = Coordinator(1)
        assert c.global_df() == {}
        source = {"a": 1}
        c.record_global_df(source)
        source["a"] = 9
        got = c.global_df()
        assert got == {"a": 1}
        got["b"] = 2
        assert c.global_df() == {"a": 1}


class TestHealthAndStats:
    def test_heartbeat_health_and_revival(self) -> None:
        clock = Clock()
        c = Coordinator(2, heartbeat_timeout_ms=100, clock=clock)
        c.register_shard(ShardInfo(ShardId(0)))
        c.register_shard(ShardInfo(ShardId(1)))
        clock.now = 50
        c.shard_heartbeat(0, documents=3)
        clock.now = 120
        assert c.check_shard_health() == [ShardId(1)]
        assert c.online_shards() == [ShardId(0)]
        assert ShardId(1) in c.ring  # marked offline, still routed (the runner decides)
        c.shard_heartbeat(1)
        assert c.online_shards() == [ShardId(0), ShardId(1)]
        with pytest.raises(ShardNotFound):
            c.shard_heartbeat(5)

    def test_metrics_and_cluster_stats(self) -> None:
        c = Coordinator(3)
        for i in range(3):
            c.register_shard(ShardInfo(ShardId(i)))
        c.update_shard_metrics(0, documents=10, memory_bytes=100)
        c.update_shard_metrics(1, 5, 50, nodes=7, edges=2)
        c.registry.set_status(2, ShardStatus.OFFLINE)
        c.advance_tick()
        assert c.total_documents() == 15
        assert c.cluster_stats() == ClusterStats(
            total_shards=3,
            online_shards=2,
            total_documents=15,
            total_memory_bytes=150,
            current_tick=1,
        )
        info = c.get_shard(1)
        assert info is not None
        assert (info.node_count, info.edge_count) == (7, 2)
        with pytest.raises(ShardNotFound):
            c.update_shard_metrics(9, 1, 1)
