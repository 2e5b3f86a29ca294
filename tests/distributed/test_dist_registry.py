"""Tests of phago.distributed.registry (REFERENCE.md §7.3, fixes of §8 item 22)."""

from __future__ import annotations

import doctest
import threading

import pytest

import phago.distributed.registry as registry_mod
from phago.distributed.registry import ShardRegistry
from phago.distributed.types import ShardId, ShardInfo, ShardStatus
from phago.errors import ConfigError, ShardNotFound


class Clock:
    """A manual clock in milliseconds."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(timeout_ms: float = 1000) -> tuple[ShardRegistry, Clock]:
    clock = Clock(100.0)
    return ShardRegistry(heartbeat_timeout_ms=timeout_ms, clock=clock), clock


def test_doctests() -> None:
    result = doctest.testmod(registry_mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


class TestRegister:
    def test_sequential_ids_without_id(self) -> None:
        """Reference expectation: ids are assigned sequentially from 0."""
        reg, _ = make()
        assert [reg.register(ShardInfo()) for _ in range(3)] == [ShardId(0), ShardId(1), ShardId(2)]

    def test_honours_info_id(self) -> None:
        """Corrected: the reference ignores ``info.id`` and assigns its own."""
        reg, _ = make()
        assert reg.register(ShardInfo(ShardId(5))) == ShardId(5)
        assert reg.contains(ShardId(5))
        assert reg.register(ShardInfo()) == ShardId(6)

    def test_assigned_ids_skip_taken_ones(self) -> None:
        reg, _ = make()
        reg.register(ShardInfo(ShardId(0)))
        reg.register(ShardInfo())  # 1
        reg.register_with_id(ShardInfo(), ShardId(2))
        reg.remove(ShardId(0))
        assert reg.register(ShardInfo()) == ShardId(3)

    def test_duplicate_raises(self) -> None:
        reg, _ = make()
        reg.register(ShardInfo(ShardId(1)))
        with pytest.raises(ConfigError):
            reg.register(ShardInfo(ShardId(1)))
        with pytest.raises(ValueError):
            reg.register_with_id(ShardInfo(), 1)
        assert reg.count() == 1

    def test_register_with_id_overrides_info_id_and_bumps_next(self) -> None:
        reg, _ = make()
        assert reg.register_with_id(ShardInfo(ShardId(9)), ShardId(4)) == ShardId(4)
        assert not reg.contains(9)
        assert reg.register(ShardInfo()) == ShardId(5)

    def test_record_is_a_copy_with_heartbeat_and_online(self) -> None:
        reg, clock = make()
        clock.now = 1234.0
        info = ShardInfo(None, "h:1", document_count=3, status=ShardStatus.OFFLINE)
        sid = reg.register(info)
        assert info.id is None  # the caller's object is untouched
        stored = reg.get(sid)
        assert stored is not None
        assert stored.id == sid
        assert stored.address == "h:1"
        assert stored.document_count == 3
        assert stored.last_heartbeat_ms == 1234.0
        assert stored.status is ShardStatus.ONLINE

    def test_get_returns_copies(self) -> None:
        reg, _ = make()
        sid = reg.register(ShardInfo())
        got = reg.get(sid)
        assert got is not None
        got.document_count = 99
        again = reg.get(sid)
        assert again is not None
        assert again.document_count == 0
        assert reg.get(ShardId(42)) is None


class TestMembership:
    def test_remove_all_ids_count_contains(self) -> None:
        reg, _ = make()
        for i in (2, 0, 1):
            reg.register(ShardInfo(ShardId(i)))
        assert reg.all_ids() == [ShardId(0), ShardId(1), ShardId(2)]
        assert [i.id for i in reg.all()] == [ShardId(0), ShardId(1), ShardId(2)]
        assert reg.count() == len(reg) == 3
        removed = reg.remove(ShardId(1))
        assert removed.id == ShardId(1)
        assert not reg.contains(ShardId(1))
        assert ShardId(1) not in reg
        assert 2 in reg
        assert "x" not in reg
        with pytest.raises(ShardNotFound):
            reg.remove(ShardId(1))

    def test_invalid_timeout(self) -> None:
        with pytest.raises(ConfigError):
            ShardRegistry(heartbeat_timeout_ms=0)


class TestHeartbeatAndStatus:
    def test_heartbeat_updates_time_and_metrics(self) -> None:
        reg, clock = make()
        sid = reg.register(ShardInfo())
        clock.now = 500.0
        reg.heartbeat(sid, documents=4, nodes=10, edges=7, memory_bytes=2048)
        info = reg.get(sid)
        assert info is not None
        assert info.last_heartbeat_ms == 500.0
        assert (info.document_count, info.node_count, info.edge_count, info.memory_bytes) == (
            4,
            10,
            7,
            2048,
        )
        reg.heartbeat(sid, now_ms=900.0, document_count=5)
        info = reg.get(sid)
        assert info is not None
        assert (info.last_heartbeat_ms, info.document_count) == (900.0, 5)

    def test_heartbeat_unknown_shard_or_metric(self) -> None:
        reg, _ = make()
        sid = reg.register(ShardInfo())
        with pytest.raises(ShardNotFound):
            reg.heartbeat(ShardId(7))
        with pytest.raises(TypeError):
            reg.heartbeat(sid, bogus=1)

    def test_heartbeat_revives_recovering(self) -> None:
        """Reference expectation: a heartbeat turns Recovering into Online."""
        reg, _ = make()
        sid = reg.register(ShardInfo())
        reg.set_status(sid, ShardStatus.RECOVERING)
        reg.heartbeat(sid)
        assert reg.get_status(sid) is ShardStatus.ONLINE

    def test_heartbeat_revives_offline(self) -> None:
        """Corrected: the reference keeps an Offline shard Offline even when it heartbeats."""
        reg, clock = make(timeout_ms=100)
        sid = reg.register(ShardInfo())
        clock.now += 1000
        assert reg.check_dead_shards() == [sid]
        assert reg.get_status(sid) is ShardStatus.OFFLINE
        reg.heartbeat(sid)
        assert reg.get_status(sid) is ShardStatus.ONLINE
        assert reg.online_shards() == [sid]

    def test_heartbeat_keeps_draining(self) -> None:
        reg, _ = make()
        sid = reg.register(ShardInfo())
        reg.set_status(sid, ShardStatus.DRAINING)
        reg.heartbeat(sid)
        assert reg.get_status(sid) is ShardStatus.DRAINING

    def test_status_of_unknown(self) -> None:
        reg, _ = make()
        assert reg.get_status(ShardId(3)) is None
        with pytest.raises(ShardNotFound):
            reg.set_status(ShardId(3), ShardStatus.ONLINE)

    def test_shards_with_status(self) -> None:
        reg, _ = make()
        for _ in range(4):
            reg.register(ShardInfo())
        reg.set_status(1, ShardStatus.DRAINING)
        reg.set_status(3, ShardStatus.DRAINING)
        assert reg.shards_with_status(ShardStatus.DRAINING) == [ShardId(1), ShardId(3)]
        assert reg.online_shards() == [ShardId(0), ShardId(2)]


class TestDeadShards:
    def test_check_dead_shards_with_injected_clock(self) -> None:
        reg, clock = make(timeout_ms=1000)
        a, b = reg.register(ShardInfo()), reg.register(ShardInfo())
        clock.now += 1000  # exactly the timeout: still alive
        assert reg.check_dead_shards() == []
        reg.heartbeat(b)
        clock.now += 1
        assert reg.check_dead_shards() == [a]
        assert reg.get_status(a) is ShardStatus.OFFLINE
        assert reg.get_status(b) is ShardStatus.ONLINE
        assert reg.check_dead_shards() == []  # not reported twice
        assert reg.contains(a)  # marked, not removed

    def test_explicit_now(self) -> None:
        reg, _ = make(timeout_ms=50)
        sid = reg.register(ShardInfo())
        assert reg.check_dead_shards(now_ms=149.0) == []
        assert reg.check_dead_shards(now_ms=151.0) == [sid]

    def test_silent_draining_or_recovering_shards_die_too(self) -> None:
        """Corrected: the reference only checks Online shards."""
        reg, clock = make(timeout_ms=10)
        a, b = reg.register(ShardInfo()), reg.register(ShardInfo())
        reg.set_status(a, ShardStatus.DRAINING)
        reg.set_status(b, ShardStatus.RECOVERING)
        clock.now += 100
        assert reg.check_dead_shards() == [a, b]

    def test_default_clock_is_wall_clock_ms(self) -> None:
        reg = ShardRegistry()
        sid = reg.register(ShardInfo())
        info = reg.get(sid)
        assert info is not None
        assert info.last_heartbeat_ms > 1.6e12  # milliseconds since the epoch
        assert reg.check_dead_shards() == []
        assert reg.heartbeat_timeout_ms == 30_000


class TestMetrics:
    def test_update_metrics_and_totals(self) -> None:
        reg, _ = make()
        a, b = reg.register(ShardInfo()), reg.register(ShardInfo())
        reg.update_metrics(a, documents=10, memory_bytes=1000, nodes=5, edges=3)
        reg.update_metrics(b, 4, 500)
        assert reg.total_documents() == 14
        assert reg.total_memory() == 1500
        info = reg.get(a)
        assert info is not None
        assert (info.node_count, info.edge_count) == (5, 3)
        with pytest.raises(ShardNotFound):
            reg.update_metrics(ShardId(9), 1, 1)

    def test_least_loaded_shard(self) -> None:
        reg, _ = make()
        assert reg.least_loaded_shard() is None
        ids = [reg.register(ShardInfo()) for _ in range(3)]
        for sid, docs in zip(ids, (5, 2, 2), strict=True):
            reg.update_metrics(sid, docs, 0)
        assert reg.least_loaded_shard() == ShardId(1)  # tie broken by lowest id
        reg.set_status(ShardId(1), ShardStatus.OFFLINE)
        assert reg.least_loaded_shard() == ShardId(2)


def test_thread_safe_registration_and_heartbeats() -> None:
    reg, _ = make()
    got: list[ShardId] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            sid = reg.register(ShardInfo())
            reg.heartbeat(sid, documents=1)
            with lock:
                got.append(sid)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [ShardId(i) for i in range(400)]
    assert reg.total_documents() == 400


def test_repr() -> None:
    reg, _ = make()
    reg.register(ShardInfo(ShardId(2)))
    assert repr(reg) == "ShardRegistry(shards=[2])"
